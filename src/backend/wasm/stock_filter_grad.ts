/**
 * The one kernel the wasm backend as shipped lacks for training a conv net, Conv2DBackpropFilter, made
 * from the backend's own pieces only (no SIMD module of this project): for the `stock` kernel set
 * (registerWasmTrainingKernels({ stock: true })), which compares tfjs's kernels with the project's.
 *
 *   dW [kh*kw*ci, co] = P^T [kh*kw*ci, pixels] . dy [pixels, co]
 *
 * P^T (the transposed im2col matrix of x) is written by a JavaScript loop a chunk of pixels at a time,
 * and each chunk's product runs on the backend's BatchMatMul (XNNPACK), summed into dW.
 */
import { Info, KernelArgs, dispose, f32, run, view } from './common';
import { filterGradGeometry } from './conv_backprop';

/** Floats of P^T per chunk (16 MB). */
const CHUNK = 1 << 22;

export function stockConv2DBackpropFilter(args: KernelArgs): Info {
  const { backend, x, dy, info: g } = filterGradGeometry(args);
  const { inHeight: h, inWidth: w, inChannels: ci, outHeight: oh, outWidth: ow, outChannels: co } = g;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = g;
  const rows = kh * kw * ci;
  const pixels = g.batchSize * oh * ow;
  const out = backend.makeOutput([kh, kw, ci, co], 'float32');
  f32(backend, out).fill(0);
  const step = Math.max(1, Math.floor(CHUNK / Math.max(1, rows)));
  for (let p0 = 0; p0 < pixels; p0 += step) {
    const k = Math.min(step, pixels - p0);
    const pt = backend.makeOutput([rows, k], 'float32');
    const dyChunk = backend.makeOutput([k, co], 'float32');
    const P = f32(backend, pt);
    const xs = f32(backend, x);
    f32(backend, dyChunk).set(f32(backend, dy).subarray(p0 * co, (p0 + k) * co));
    for (let j = 0; j < k; j++) {
      const p = p0 + j;
      const b = Math.floor(p / (oh * ow));
      const oy = Math.floor((p % (oh * ow)) / ow);
      const ox = p % ow;
      for (let ky = 0; ky < kh; ky++) {
        const iy = oy * sh + ky - g.padInfo.top;
        for (let kx = 0; kx < kw; kx++) {
          const ix = ox * sw + kx - g.padInfo.left;
          const inside = iy >= 0 && iy < h && ix >= 0 && ix < w;
          const src = ((b * h + iy) * w + ix) * ci;
          const r0 = (ky * kw + kx) * ci;
          for (let c = 0; c < ci; c++) P[(r0 + c) * k + j] = inside ? xs[src + c] : 0;
        }
      }
    }
    const part = run(backend, 'BatchMatMul', { a: view(pt, [1, rows, k]), b: view(dyChunk, [1, k, co]) }, { transposeA: false, transposeB: false });
    const acc = f32(backend, out);
    const add = f32(backend, part);
    for (let i = 0; i < acc.length; i++) acc[i] += add[i];
    dispose(backend, pt, dyChunk, part);
  }
  return out;
}
