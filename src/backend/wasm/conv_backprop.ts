/**
 * Conv2D gradients for the wasm backend, expressed through its XNNPACK kernels.
 *
 * Input gradient (Conv2DBackpropInput): a forward convolution of dy with the kernel flipped in space
 * and with in/out channels swapped, padded by k-1-p. For stride s > 1, dy is first dilated (s-1 zeros
 * between its pixels). XNNPACK runs it as fast as the forward pass.
 *
 *   dx = conv2d(dilate(dy, s), flip(W)^T, stride 1, pad (k-1-pt, ..))
 *
 * Filter gradient (Conv2DBackpropFilter): dW[ky,kx,ci,co] = sum_{n,y,x} xpad[n, y*s+ky, x*s+kx, ci] dy[n,y,x,co]
 * is one matrix product  dW [kh*kw*Ci, Co] = P^T [kh*kw*Ci, N*oh*ow] . dy [N*oh*ow, Co],  where P^T is the
 * transposed im2col matrix of x, built row by row from x transposed to [Ci, N*H*W] (for a 1x1 stride-1
 * conv, P^T is that transpose itself). The product runs on XNNPACK's fully-connected (GEMM) kernel
 * through the wasm BatchMatMul. Long sums are split by images so that the GEMM's operands stay in
 * cache and P^T stays small; the partial sums are added.
 */
import * as tf from '../../tf';
import { BackendWasm, Info, KernelArgs, alias, dispose, f32, releaseAlias, run, transpose2d, transposed2d, view, wasmKernel } from './common';

type Pad = 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;

interface BackpropInputAttrs {
  strides: [number, number] | number;
  pad: Pad;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  inputShape: [number, number, number, number];
}

interface BackpropFilterAttrs {
  strides: [number, number] | number;
  pad: Pad;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
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
 * Most GEMM columns (N*oh*ow) per product, and most elements of P^T, before the sum is split by images:
 * the GEMM packs its weights operand (the dy rows) first, at a cost per element several times a
 * multiply-add, and that operand should stay in cache while the product runs.
 */
const MAX_K = 4096;
const MAX_PT = 4 << 20;

/** The transposed im2col matrix P^T [kh*kw*ci, nc*oh*ow] of xt [ci, nc, h, w]. */
function im2colT(
  xt: Float32Array,
  pt: Float32Array,
  ci: number,
  nc: number,
  h: number,
  w: number,
  oh: number,
  ow: number,
  kh: number,
  kw: number,
  sh: number,
  sw: number,
  padTop: number,
  padLeft: number,
): void {
  const k = nc * oh * ow;
  for (let ky = 0; ky < kh; ky++) {
    for (let kx = 0; kx < kw; kx++) {
      // Output columns x whose input column x*sw+kx-padLeft lies inside [0, w).
      let x0 = Math.ceil((padLeft - kx) / sw);
      if (x0 < 0) x0 = 0;
      let x1 = Math.floor((w - 1 + padLeft - kx) / sw) + 1;
      if (x1 > ow) x1 = ow;
      if (x1 < x0) x1 = x0;
      for (let c = 0; c < ci; c++) {
        const row = ((ky * kw + kx) * ci + c) * k;
        for (let b = 0; b < nc; b++) {
          for (let y = 0; y < oh; y++) {
            const d = row + (b * oh + y) * ow;
            const iy = y * sh + ky - padTop;
            if (iy < 0 || iy >= h) {
              pt.fill(0, d, d + ow);
              continue;
            }
            for (let x = 0; x < x0; x++) pt[d + x] = 0;
            for (let x = x1; x < ow; x++) pt[d + x] = 0;
            const s = ((c * nc + b) * h + iy) * w + kx - padLeft;
            if (sw === 1) {
              for (let x = x0; x < x1; x++) pt[d + x] = xt[s + x];
            } else {
              for (let x = x0; x < x1; x++) pt[d + x] = xt[s + x * sw];
            }
          }
        }
      }
    }
  }
}

/** acc += part (both [size] float32 tensors); frees part. */
function accumulate(backend: BackendWasm, acc: Info | null, part: Info): Info {
  if (acc === null) return part;
  const dst = f32(backend, acc);
  const src = f32(backend, part);
  for (let i = 0; i < dst.length; i++) dst[i] += src[i];
  dispose(backend, part);
  return acc;
}

/** Images per GEMM: at most MAX_K columns and MAX_PT elements of P^T (at least one image). */
function imagesPerChunk(n: number, perImage: number, rows: number): number {
  const nc = Math.max(1, Math.min(n, Math.floor(MAX_K / perImage), Math.floor(MAX_PT / (rows * perImage))));
  return Math.ceil(n / Math.ceil(n / nc));
}

/**
 * 1x1 stride-1 conv: dW [ci, co] = x^T [ci, M] . dy [M, co]. The operand the GEMM packs (its weights)
 * is the smaller of x and dy; the other one is transposed. With x packed, the product is dW^T.
 */
function pointwiseFilterGrad(backend: BackendWasm, x: Info, dy: Info, n: number, hw: number, ci: number, co: number): Info {
  const packX = ci < co;
  const nc = imagesPerChunk(n, hw, 1);
  let acc: Info | null = null;
  for (let b0 = 0; b0 < n; b0 += nc) {
    const k = Math.min(nc, n - b0) * hw;
    const xa = alias(backend, x, b0 * hw * ci, [k, ci]);
    const dya = alias(backend, dy, b0 * hw * co, [k, co]);
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
  const padTop = info.padInfo.top;
  const padLeft = info.padInfo.left;
  if (kh === 1 && kw === 1 && sh === 1 && sw === 1 && padTop === 0 && padLeft === 0 && oh === h && ow === w) {
    return pointwiseFilterGrad(backend, x, dy, n, h * w, ci, co);
  }

  // dW [kh*kw*ci, co] = P^T [kh*kw*ci, K] . dy [K, co], summed over chunks of images.
  const rows = kh * kw * ci;
  const perImage = oh * ow;
  const nc = imagesPerChunk(n, perImage, rows);
  let acc: Info | null = null;
  for (let b0 = 0; b0 < n; b0 += nc) {
    const nb = Math.min(nc, n - b0);
    const k = nb * perImage;
    const xa = alias(backend, x, b0 * h * w * ci, [nb * h * w, ci]);
    const xt = transposed2d(backend, xa, nb * h * w, ci); // [ci, nb, h, w]
    releaseAlias(backend, xa);
    const pt = backend.makeOutput([rows, k], 'float32');
    im2colT(f32(backend, xt), f32(backend, pt), ci, nb, h, w, oh, ow, kh, kw, sh, sw, padTop, padLeft);
    dispose(backend, xt);
    const dya = alias(backend, dy, b0 * perImage * co, [k, co]);
    const part = run(backend, 'BatchMatMul', { a: view(pt, [1, rows, k]), b: view(dya, [1, k, co]) }, { transposeA: false, transposeB: false });
    releaseAlias(backend, dya);
    dispose(backend, pt);
    acc = accumulate(backend, acc, part);
  }
  return view(acc!, filterShape.slice() as number[]);
}
