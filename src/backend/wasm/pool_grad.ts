/**
 * Pooling gradients for the wasm backend.
 *
 * MaxPoolGrad. The shipped one recomputes each window's argmax through a generic
 * 3-D pooling template (slow), seeds the search with FLT_MIN rather than -inf, so a window of zeros
 * (common after ReLU) sends its gradient to element 0 of the tensor, and picks the last of equal
 * maxima. This one takes the window maxima from the forward output, scans each window once for all
 * channels (NHWC rows, branch-free inner loop), gives dy to the first position in scan order that holds
 * the maximum (as the cpu backend and PyTorch do), and skips padding (PyTorch's ceil_mode windows hang
 * over the edge).
 *
 * AvgPoolGrad (the aux heads' AvgPool 5/3 at 224 px): the shipped kernel uses the same generic
 * template; here each dy pixel is spread over its window in one pass over NHWC rows, divided by the
 * window area as tfjs's AvgPool does.
 */
import * as tf from '../../tf';
import { BackendWasm, Info, KernelArgs, f32 } from './common';

interface PoolGradAttrs {
  filterSize: [number, number] | number;
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

const offsets = new Int32Array(64);

export function maxPoolGrad(args: KernelArgs): Info {
  const backend = args.backend as unknown as BackendWasm;
  const { dy, input, output } = args.inputs as { dy: Info; input: Info; output: Info };
  const { filterSize, strides, pad, dimRoundingMode } = args.attrs as unknown as PoolGradAttrs;
  const info = tf.backend_util.computePool2DInfo(input.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow } = info;
  const { filterHeight: fh, filterWidth: fw, strideHeight: sh, strideWidth: sw } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const offs = fh * fw <= offsets.length ? offsets : new Int32Array(fh * fw);

  const out = backend.makeOutput(input.shape, 'float32');
  const dx = f32(backend, out);
  const xs = f32(backend, input);
  const ys = f32(backend, output);
  const dys = f32(backend, dy);
  dx.fill(0);
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      const y0 = oy * sh - top;
      const ya = Math.max(0, y0);
      const yb = Math.min(h, y0 + fh);
      for (let ox = 0; ox < ow; ox++) {
        const x0 = ox * sw - left;
        const xa = Math.max(0, x0);
        const xb = Math.min(w, x0 + fw);
        // The window's pixels (inside the input) in scan order.
        let nt = 0;
        for (let iy = ya; iy < yb; iy++) {
          for (let ix = xa; ix < xb; ix++) offs[nt++] = ((b * h + iy) * w + ix) * c;
        }
        const d = ((b * oh + oy) * ow + ox) * c;
        // The window's maximum is the forward output; the first pixel holding it takes dy.
        for (let ch = 0; ch < c; ch++) {
          const m = ys[d + ch];
          for (let t = 0; t < nt; t++) {
            const o = offs[t] + ch;
            if (xs[o] === m) {
              dx[o] += dys[d + ch];
              break;
            }
          }
        }
      }
    }
  }
  return out;
}

export function avgPoolGrad(args: KernelArgs): Info {
  const backend = args.backend as unknown as BackendWasm;
  const { dy, input } = args.inputs as { dy: Info; input: Info };
  const { filterSize, strides, pad, dimRoundingMode } = args.attrs as unknown as PoolGradAttrs;
  const info = tf.backend_util.computePool2DInfo(input.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow } = info;
  const { filterHeight: fh, filterWidth: fw, strideHeight: sh, strideWidth: sw } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const scale = 1 / (fh * fw);

  const out = backend.makeOutput(input.shape, 'float32');
  const dx = f32(backend, out);
  const dys = f32(backend, dy);
  dx.fill(0);
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      const y0 = oy * sh - top;
      const ya = Math.max(0, y0);
      const yb = Math.min(h, y0 + fh);
      for (let ox = 0; ox < ow; ox++) {
        const x0 = ox * sw - left;
        const xa = Math.max(0, x0);
        const xb = Math.min(w, x0 + fw);
        const d = ((b * oh + oy) * ow + ox) * c;
        for (let iy = ya; iy < yb; iy++) {
          for (let ix = xa; ix < xb; ix++) {
            const off = ((b * h + iy) * w + ix) * c;
            for (let ch = 0; ch < c; ch++) dx[off + ch] += dys[d + ch] * scale;
          }
        }
      }
    }
  }
  return out;
}
