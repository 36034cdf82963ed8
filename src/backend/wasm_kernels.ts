/**
 * Training kernels that tfjs-backend-wasm 4.22 lacks. Without Conv2DBackpropFilter a conv net cannot
 * train on wasm at all. This first version computes the filter gradient with a direct loop over the
 * wasm heap (correct, not fast): dW[kh,kw,ci,co] = sum_{n,y,x} xpad[n, y*s+kh, x*s+kw, ci] * dy[n,y,x,co].
 */
import * as tf from '../tf';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

type Conv2DBackpropFilterAttrs = {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape: [number, number, number, number];
};

function conv2DBackpropFilter(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: tf.KernelBackend;
  attrs?: tf.NamedAttrMap;
}): tf.TensorInfo {
  const backend = args.backend as unknown as BackendWasm;
  const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = args.attrs as unknown as Conv2DBackpropFilterAttrs;
  if (dataFormat === 'NCHW') throw new Error('Conv2DBackpropFilter on wasm supports NHWC only');
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    strides,
    1,
    pad,
    dimRoundingMode,
  );
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: ci, outHeight: oh, outWidth: ow, outChannels: co } = info;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const xs = backend.typedArrayFromHeap(x) as Float32Array;
  const dys = backend.typedArrayFromHeap(dy) as Float32Array;
  const out = backend.makeOutput(filterShape, 'float32');
  const dw = backend.typedArrayFromHeap(out) as Float32Array;
  dw.fill(0);
  for (let b = 0; b < n; b++) {
    for (let yy = 0; yy < oh; yy++) {
      for (let xx = 0; xx < ow; xx++) {
        const dyOff = ((b * oh + yy) * ow + xx) * co;
        for (let fy = 0; fy < kh; fy++) {
          const iy = yy * sh + fy - top;
          if (iy < 0 || iy >= h) continue;
          for (let fx = 0; fx < kw; fx++) {
            const ix = xx * sw + fx - left;
            if (ix < 0 || ix >= w) continue;
            const xOff = ((b * h + iy) * w + ix) * ci;
            const wOff = (fy * kw + fx) * ci * co;
            for (let c = 0; c < ci; c++) {
              const xv = xs[xOff + c];
              if (xv === 0) continue;
              const row = wOff + c * co;
              for (let o = 0; o < co; o++) dw[row + o] += xv * dys[dyOff + o];
            }
          }
        }
      }
    }
  }
  return out;
}

let registered = false;

/** Register the missing training kernels for the wasm backend (idempotent). */
export function registerWasmTrainingKernels(): void {
  if (registered) return;
  registered = true;
  if (!tf.getKernel('Conv2DBackpropFilter', 'wasm')) {
    tf.registerKernel({ kernelName: 'Conv2DBackpropFilter', backendName: 'wasm', kernelFunc: conv2DBackpropFilter as tf.KernelFunc });
  }
}
