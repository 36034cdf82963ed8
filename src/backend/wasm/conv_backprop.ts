/**
 * Conv2D gradients for the wasm backend, on this project's SIMD GEMM (./simd/kernels.c).
 *
 * Input gradient (Conv2DBackpropInput): a forward convolution of dy with the kernel flipped in space
 * and with in/out channels swapped, padded by k-1-p. For stride s > 1, dy is first dilated (s-1 zeros
 * between its pixels). It runs on ./conv.ts's forward convolution (XNNPACK's where that does not apply).
 *
 *   dx = conv2d(dilate(dy, s), flip(W)^T, stride 1, pad (k-1-pt, ..))
 *
 * Filter gradient (Conv2DBackpropFilter): dW[ky,kx,ci,co] = sum_{n,y,x} xpad[n, y*s+ky, x*s+kx, ci] dy[n,y,x,co]
 * is one matrix product  dW [kh*kw*Ci, Co] = P^T [kh*kw*Ci, N*oh*ow] . dy [N*oh*ow, Co],  P the im2col
 * matrix of x. It runs on this project's own SIMD GEMM (conv_filter_grad in ./simd/kernels.c): 512
 * pixels at a time, dy is repacked into 8-column panels and x's patches into 4-row panels straight
 * from x (no im2col matrix, no transpose of x), and a 4x8 register tile accumulates. The rows
 * of dW are split over the threads. XNNPACK's fully-connected GEMM, used before, re-packed its second
 * operand on every call (tfjs caches packed weights per tensor, and here they are new each step) and
 * barely used the second thread at these shapes: 13-15 GMAC/s on two threads, against 27-30 here.
 */
import * as tf from '../../tf';
import { BackendWasm, Info, KernelArgs, dispose, f32, memoryOffset, run, sizeOf, wasmKernel } from './common';
import { WINOGRAD_PAD, simdConv2d, simdConvCovers, winogradTile } from './conv';
import { simdKernels } from './simd/module';

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

export interface BackpropFilterAttrs extends ConvGradAttrs {
  filterShape: [number, number, number, number];
}

/** W [kh, kw, ci, co] -> flipped in space and transposed to [kh, kw, co, ci]. */
function flippedTransposedFilter(backend: BackendWasm, filter: Info): Info {
  const [kh, kw, ci, co] = filter.shape;
  const out = backend.makeOutput([kh, kw, co, ci], 'float32');
  // flip_transpose_filter(src, dst, kh, kw, ci, co, t0, t1), split over taps
  simdKernels(backend).parallel('flip_transpose_filter', [memoryOffset(backend, filter), memoryOffset(backend, out), kh, kw, ci, co, 0, 0], 6, kh * kw, kh * kw * ci * co);
  return out;
}

/** dy [n, h, w, c] -> [n, (h-1)*sh+1, (w-1)*sw+1, c] with zeros between the pixels. */
function dilate(backend: BackendWasm, dy: Info, sh: number, sw: number): Info {
  const [n, h, w, c] = dy.shape;
  const out = backend.makeOutput([n, (h - 1) * sh + 1, (w - 1) * sw + 1, c], 'float32');
  // dilate(dy, out, n, h, w, c, sh, sw, b0, b1), split over images
  simdKernels(backend).parallel('dilate', [memoryOffset(backend, dy), memoryOffset(backend, out), n, h, w, c, sh, sw, 0, 0], 8, n, sizeOf(out.shape));
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
  const padding: tf.backend_util.ExplicitPadding = [[0, 0], [top, bottom], [left, right], [0, 0]];
  const dxInfo = tf.backend_util.computeConv2DInfo(dyIn.shape as [number, number, number, number], w.shape as [number, number, number, number], 1, 1, padding);
  const out = simdConvCovers(dxInfo)
    ? simdConv2d(backend, dyIn, w, null, false, dxInfo)
    : run(backend, 'Conv2D', { x: dyIn, filter: w }, { strides: [1, 1], pad: padding, dataFormat: 'NHWC', dilations: [1, 1] });
  dispose(backend, w, dyIn === dy ? null : dyIn);
  return out;
}

/** Pixels per packed slice of the im2col matrix (x's patches, packed as [m/4][KC][4]): ~1 MB at m = 576. */
const KC = 512;

/** Conv2DBackpropFilter's inputs and geometry (NHWC only), for this kernel and the stock one. */
export function filterGradGeometry(args: KernelArgs): { backend: BackendWasm; x: Info; dy: Info; info: tf.backend_util.Conv2DInfo } {
  const backend = args.backend as unknown as BackendWasm;
  const { x, dy } = args.inputs as { x: Info; dy: Info };
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = args.attrs as unknown as BackpropFilterAttrs;
  if (dataFormat === 'NCHW') throw new Error('Conv2DBackpropFilter on wasm supports NHWC only');
  const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], filterShape, strides, 1, pad, dimRoundingMode);
  return { backend, x, dy, info };
}

export function conv2DBackpropFilter(args: KernelArgs): Info {
  const { backend, x, dy, info } = filterGradGeometry(args);
  return simdFilterGrad(backend, x, dy, info);
}

/**
 * dW [kh, kw, ci, co] of the NHWC convolution `info` (dilation 1) from its input x and output gradient
 * dy. Also the weight gradient of a dense layer, x^T dy, as a 1x1 convolution over rows.
 */
export function simdFilterGrad(backend: BackendWasm, x: Info, dy: Info, info: tf.backend_util.Conv2DInfo): Info {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: ci, outHeight: oh, outWidth: ow, outChannels: co } = info;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  const out = backend.makeOutput([kh, kw, ci, co], 'float32');
  const pixels = n * oh * ow;
  if (pixels === 0 || h * w * ci === 0) {
    f32(backend, out).fill(0);
    return out;
  }
  const tile = ci % 4 === 0 ? winogradTile(info, true) : 0;
  if (tile) return winogradFilterGrad(backend, x, dy, info, out, tile);
  // dW [m, co] = P^T [m, pixels] . dy [pixels, co] (conv_filter_grad in ./simd/kernels.c), its rows in
  // blocks of 4: where ci is not a multiple of 4 (conv1's 3 channels) the patch rows are packed from runs
  // of x's window rows, with no zero channel (m = 147), and the product's last block has a zero row.
  const m = kh * kw * ci;
  const m4 = Math.ceil(m / 4);
  const n8 = Math.ceil(co / 8);
  const exact = m % 4 === 0 && co % 8 === 0;
  const kc = Math.min(KC, pixels);
  const simd = simdKernels(backend);
  // Per thread: the slice of dy packed (kc x n8*8 floats), then kc ints (its pixels' window offsets).
  const bp = backend.makeOutput([simd.threads, kc, n8 * 8 + 1], 'float32');
  const ap = backend.makeOutput([m4, kc, 4], 'float32');
  const c = exact ? out : backend.makeOutput([m4 * 4, n8 * 8], 'float32');
  // conv_filter_grad(x, dy, bp, ap, c, ldc, n, h, w, ci, oh, ow, kh, kw, sh, sw, pt, pl, co, kc, part, rb0, rb1),
  // split over row blocks
  simd.parallel(
    'conv_filter_grad',
    [
      memoryOffset(backend, x), memoryOffset(backend, dy), memoryOffset(backend, bp), memoryOffset(backend, ap), memoryOffset(backend, c),
      n8 * 8, n, h, w, ci, oh, ow, kh, kw, sh, sw, info.padInfo.top, info.padInfo.left, co, kc, 0, 0, 0,
    ],
    21,
    m4,
    m * co * pixels,
    1,
    20,
  );
  if (!exact) {
    // dW's rows are the product's first m rows, their first co columns.
    const src = f32(backend, c);
    const dst = f32(backend, out);
    for (let r = 0; r < m; r++) dst.set(src.subarray(r * n8 * 8, r * n8 * 8 + co), r * co);
  }
  dispose(backend, bp, ap, exact ? null : c);
  return out;
}

/** Tiles per slice in winograd_filter_grad (FT in kernels.c). */
const WINOGRAD_GRAD_TILES = 64;

/**
 * dW [r, r, ci, co] (into `out`) of an r x r stride-1 convolution by F(r x r, tile x tile)
 * (winograd_filter_grad in ./simd/kernels.c: F(3x3, 2x2), F(3x3, 4x4), F(5x5, 2x2)), the tile from
 * winogradTile as for the forward pass: the transformed tiles' products summed over all tiles into
 * M [(tile+r-1)^2][ci][co], then one output transform. ci a multiple of 4; the rows of 4 input channels
 * are split over the threads.
 */
function winogradFilterGrad(backend: BackendWasm, x: Info, dy: Info, info: tf.backend_util.Conv2DInfo, out: Info, tile: 2 | 4): Info {
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: ci, outHeight: oh, outWidth: ow, outChannels: co } = info;
  const simd = simdKernels(backend);
  const r = info.filterHeight;
  const positions = (tile + r - 1) ** 2;
  // Each position's block followed by WINOGRAD_PAD floats (XPAD in kernels.c).
  const vp = backend.makeOutput([positions, ci * WINOGRAD_GRAD_TILES + WINOGRAD_PAD], 'float32');
  const up = backend.makeOutput([simd.threads, positions, co * WINOGRAD_GRAD_TILES + WINOGRAD_PAD], 'float32');
  const m = backend.makeOutput([positions, ci * co + WINOGRAD_PAD], 'float32');
  const tiles = n * Math.ceil(oh / tile) * Math.ceil(ow / tile);
  // winograd_filter_grad(x, dy, vp, up, m, dw, n, h, w, ci, oh, ow, pt, pl, co, mt, r, part, rb0, rb1), split over row blocks
  simd.parallel(
    'winograd_filter_grad',
    [
      memoryOffset(backend, x), memoryOffset(backend, dy), memoryOffset(backend, vp), memoryOffset(backend, up), memoryOffset(backend, m),
      memoryOffset(backend, out), n, h, w, ci, oh, ow, info.padInfo.top, info.padInfo.left, co, tile, r, 0, 0, 0,
    ],
    18,
    ci / 4,
    positions * tiles * ci * co,
    1,
    17,
  );
  dispose(backend, vp, up, m);
  return out;
}
