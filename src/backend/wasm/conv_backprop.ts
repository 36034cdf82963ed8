/**
 * Conv2D gradients for the wasm backend, expressed through its XNNPACK kernels.
 *
 * Input gradient (Conv2DBackpropInput): a forward convolution of dy with the kernel flipped in space
 * and with in/out channels swapped, padded by k-1-p. For stride s > 1, dy is first dilated (s-1 zeros
 * between its pixels). XNNPACK runs it about as fast as the forward pass (1.0-1.2x here).
 *
 *   dx = conv2d(dilate(dy, s), flip(W)^T, stride 1, pad (k-1-pt, ..))
 *
 * Filter gradient (Conv2DBackpropFilter): dW[ky,kx,ci,co] = sum_{n,y,x} xpad[n, y*s+ky, x*s+kx, ci] dy[n,y,x,co]
 * is one matrix product  dW [kh*kw*Ci, Co] = P^T [kh*kw*Ci, N*oh*ow] . dy [N*oh*ow, Co],  where P^T is the
 * transposed im2col matrix of x, built from x transposed to [Ci, N*H*W] with memmoves on the heap. The
 * product runs on XNNPACK's fully-connected (GEMM) kernel through the wasm BatchMatMul, which packs its
 * second operand (dy, aliased in place) first. The sum over output pixels is split into chunks of ~512
 * columns so that the GEMM's operands stay in cache and P^T stays small; the partial sums are added.
 * For a 1x1 stride-1 conv there is no im2col: dW = x^T dy, packing the smaller of x and dy. About
 * 1.2-1.5x the forward conv's time (2x for conv1, 7x7/2 with 3 input channels).
 */
import * as tf from '../../tf';
import { BackendWasm, Info, KernelArgs, alias, dispose, f32, memoryOffset, releaseAlias, run, transpose2d, transposed2d, view, wasmKernel } from './common';

type Pad = 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;

/** The attributes both Conv2D gradient kernels take. */
interface ConvGradAttrs {
  strides: [number, number] | number;
  pad: Pad;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

interface BackpropInputAttrs extends ConvGradAttrs {
  inputShape: [number, number, number, number];
}

interface BackpropFilterAttrs extends ConvGradAttrs {
  filterShape: [number, number, number, number];
}

/** W [kh, kw, ci, co] -> flipped in space and transposed to [kh, kw, co, ci]. */
function flippedTransposedFilter(backend: BackendWasm, filter: Info): Info {
  const [kh, kw, ci, co] = filter.shape;
  const out = backend.makeOutput([kh, kw, co, ci], 'float32');
  const dst = f32(backend, out);
  const src = f32(backend, filter);
  const tap = ci * co;
  for (let y = 0; y < kh; y++) {
    for (let x = 0; x < kw; x++) {
      const from = ((kh - 1 - y) * kw + (kw - 1 - x)) * tap;
      transpose2d(src, from, ci, co, dst, (y * kw + x) * tap);
    }
  }
  return out;
}

/** dy [n, h, w, c] -> [n, (h-1)*sh+1, (w-1)*sw+1, c] with zeros between the pixels. */
function dilate(backend: BackendWasm, dy: Info, sh: number, sw: number): Info {
  const [n, h, w, c] = dy.shape;
  const dh = (h - 1) * sh + 1;
  const dw = (w - 1) * sw + 1;
  const out = backend.makeOutput([n, dh, dw, c], 'float32');
  const dst = f32(backend, out);
  const src = f32(backend, dy);
  dst.fill(0);
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const s = ((b * h + y) * w + x) * c;
        dst.set(src.subarray(s, s + c), ((b * dh + y * sh) * dw + x * sw) * c);
      }
    }
  }
  return out;
}

export function conv2DBackpropInput(args: KernelArgs): Info {
  const backend = args.backend as unknown as BackendWasm;
  const { dy, filter } = args.inputs as { dy: Info; filter: Info };
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = args.attrs as unknown as BackpropInputAttrs;
  const fallback = () => wasmKernel('Conv2DBackpropInput').kernelFunc(args as never) as Info;
  if (dataFormat === 'NCHW') return fallback();
  const info = tf.backend_util.computeConv2DInfo(inputShape, filter.shape as [number, number, number, number], strides, 1, pad, dimRoundingMode);
  const { inHeight, inWidth, outHeight, outWidth, filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  const top = kh - 1 - info.padInfo.top;
  const left = kw - 1 - info.padInfo.left;
  const dh = (outHeight - 1) * sh + 1;
  const dw = (outWidth - 1) * sw + 1;
  const bottom = inHeight + kh - 1 - top - dh;
  const right = inWidth + kw - 1 - left - dw;
  // Padding larger than k-1 would need cropping; no such conv in GoogLeNet, so the wasm loop does it.
  if (top < 0 || left < 0 || bottom < 0 || right < 0) return fallback();

  const w = flippedTransposedFilter(backend, filter);
  const dyIn = sh > 1 || sw > 1 ? dilate(backend, dy, sh, sw) : dy;
  const out = run(backend, 'Conv2D', { x: dyIn, filter: w }, {
    strides: [1, 1],
    pad: [[0, 0], [top, bottom], [left, right], [0, 0]],
    dataFormat: 'NHWC',
    dilations: [1, 1],
  });
  dispose(backend, w, dyIn === dy ? null : dyIn);
  return out;
}

/**
 * GEMM columns (output pixels) per product. XNNPACK's GEMM streams whole rows of both operands for
 * every tile and packs its second operand first; with a long reduction (N*oh*ow columns) neither
 * fits in cache. Splitting the sum into chunks of ~512 columns keeps both panels in L1/L2 (about 20%
 * faster here), at the cost of adding the partial products.
 */
const CHUNK = 512;

/**
 * Columns [r0*ow, r1*ow) of the transposed im2col matrix P^T [kh*kw*ci, n*oh*ow] of x, where xt is x
 * transposed to [ci, n, h, w]; written to pt as [kh*kw*ci, (r1-r0)*ow]. Rows r are output rows (b, y),
 * r = b*oh + y.
 */
function im2colT(
  heap: Float32Array,
  xtBase: number,
  ptBase: number,
  info: tf.backend_util.Conv2DInfo,
  r0: number,
  r1: number,
): void {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: ci, outHeight: oh, outWidth: ow } = info;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  const padTop = info.padInfo.top;
  const padLeft = info.padInfo.left;
  const k = (r1 - r0) * ow;
  for (let ky = 0; ky < kh; ky++) {
    for (let kx = 0; kx < kw; kx++) {
      // Output columns x whose input column x*sw+kx-padLeft lies inside [0, w).
      let x0 = Math.ceil((padLeft - kx) / sw);
      if (x0 < 0) x0 = 0;
      let x1 = Math.floor((w - 1 + padLeft - kx) / sw) + 1;
      if (x1 > ow) x1 = ow;
      if (x1 < x0) x1 = x0;
      for (let c = 0; c < ci; c++) {
        let d = ptBase + ((ky * kw + kx) * ci + c) * k;
        for (let r = r0; r < r1; r++, d += ow) {
          const b = (r / oh) | 0;
          const iy = (r - b * oh) * sh + ky - padTop;
          if (iy < 0 || iy >= h) {
            heap.fill(0, d, d + ow);
            continue;
          }
          for (let x = 0; x < x0; x++) heap[d + x] = 0;
          for (let x = x1; x < ow; x++) heap[d + x] = 0;
          const s = xtBase + ((c * n + b) * h + iy) * w + kx - padLeft;
          if (sw === 1) {
            heap.copyWithin(d + x0, s + x0, s + x1);
          } else {
            for (let x = x0; x < x1; x++) heap[d + x] = heap[s + x * sw];
          }
        }
      }
    }
  }
}

/** acc + part by the wasm Add kernel (vectorised); frees both inputs. */
function accumulate(backend: BackendWasm, acc: Info | null, part: Info): Info {
  if (acc === null) return part;
  const sum = run(backend, 'Add', { a: acc, b: part });
  dispose(backend, acc, part);
  return sum;
}

/** Split `total` units into near-equal chunks of about `target`. */
function chunkSize(total: number, target: number): number {
  const chunks = Math.max(1, Math.round(total / Math.max(1, target)));
  return Math.ceil(total / chunks);
}

/**
 * 1x1 stride-1 conv: dW [ci, co] = x^T [ci, M] . dy [M, co]. The operand the GEMM packs (its weights)
 * is the smaller of x and dy; the other one is transposed. With x packed, the product is dW^T.
 */
function pointwiseFilterGrad(backend: BackendWasm, x: Info, dy: Info, pixels: number, ci: number, co: number): Info {
  const packX = ci < co;
  const step = chunkSize(pixels, CHUNK);
  let acc: Info | null = null;
  for (let p0 = 0; p0 < pixels; p0 += step) {
    const k = Math.min(step, pixels - p0);
    const xa = alias(backend, x, p0 * ci, [k, ci]);
    const dya = alias(backend, dy, p0 * co, [k, co]);
    let part: Info;
    if (packX) {
      const dyt = transposed2d(backend, dya, k, co); // [co, k]
      part = run(backend, 'BatchMatMul', { a: view(dyt, [1, co, k]), b: view(xa, [1, k, ci]) }, { transposeA: false, transposeB: false });
      dispose(backend, dyt);
    } else {
      const xt = transposed2d(backend, xa, k, ci); // [ci, k]
      part = run(backend, 'BatchMatMul', { a: view(xt, [1, ci, k]), b: view(dya, [1, k, co]) }, { transposeA: false, transposeB: false });
      dispose(backend, xt);
    }
    // Releasing the aliases also drops the GEMM operator XNNPACK cached for the packed one.
    releaseAlias(backend, xa);
    releaseAlias(backend, dya);
    acc = accumulate(backend, acc, part);
  }
  if (!packX) return view(acc!, [1, 1, ci, co]);
  const out = transposed2d(backend, acc!, co, ci);
  dispose(backend, acc);
  return view(out, [1, 1, ci, co]);
}

export function conv2DBackpropFilter(args: KernelArgs): Info {
  const backend = args.backend as unknown as BackendWasm;
  const { x, dy } = args.inputs as { x: Info; dy: Info };
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = args.attrs as unknown as BackpropFilterAttrs;
  if (dataFormat === 'NCHW') throw new Error('Conv2DBackpropFilter on wasm supports NHWC only');
  const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], filterShape, strides, 1, pad, dimRoundingMode);
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: ci, outHeight: oh, outWidth: ow, outChannels: co } = info;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  if (n * oh * ow === 0 || h * w * ci === 0) {
    const zeros = backend.makeOutput(filterShape.slice() as number[], 'float32');
    f32(backend, zeros).fill(0);
    return zeros;
  }
  if (kh === 1 && kw === 1 && sh === 1 && sw === 1 && info.padInfo.top === 0 && info.padInfo.left === 0 && oh === h && ow === w) {
    return pointwiseFilterGrad(backend, x, dy, n * h * w, ci, co);
  }

  // dW [kh*kw*ci, co] = P^T [kh*kw*ci, n*oh*ow] . dy [n*oh*ow, co], summed over chunks of output rows.
  const rows = kh * kw * ci;
  const xt = transposed2d(backend, x, n * h * w, ci); // [ci, n, h, w]
  const step = chunkSize(n * oh, CHUNK / ow);
  let acc: Info | null = null;
  for (let r0 = 0; r0 < n * oh; r0 += step) {
    const r1 = Math.min(n * oh, r0 + step);
    const k = (r1 - r0) * ow;
    const pt = backend.makeOutput([rows, k], 'float32');
    const heap = new Float32Array((backend.wasm as unknown as { HEAPU8: Uint8Array }).HEAPU8.buffer);
    im2colT(heap, memoryOffset(backend, xt) / 4, memoryOffset(backend, pt) / 4, info, r0, r1);
    const dya = alias(backend, dy, r0 * ow * co, [k, co]);
    const part = run(backend, 'BatchMatMul', { a: view(pt, [1, rows, k]), b: view(dya, [1, k, co]) }, { transposeA: false, transposeB: false });
    releaseAlias(backend, dya);
    dispose(backend, pt);
    acc = accumulate(backend, acc, part);
  }
  dispose(backend, xt);
  return view(acc!, filterShape.slice() as number[]);
}
