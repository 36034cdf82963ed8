/**
 * Pooling gradients for the wasm backend.
 *
 * MaxPoolGrad. The shipped one recomputes each window's argmax through a generic
 * 3-D pooling template (slow), seeds the search with FLT_MIN rather than -inf, so a window of zeros
 * (common after ReLU) sends its gradient to element 0 of the tensor, and picks the last of equal
 * maxima. This one (max_pool_grad in ./simd/kernels.c) takes the window maxima from the forward output,
 * scans each window once for four channels at a time (NHWC rows, no branch on the data), gives dy to the first position in
 * scan order that holds the maximum (as the cpu backend and PyTorch do), and skips padding (PyTorch's
 * ceil_mode windows hang over the edge). Images are split over the threads.
 *
 * AvgPoolGrad (the aux heads' AvgPool 5/3 at 224 px): the shipped kernel uses the same generic
 * template; here each dy pixel is spread over its window in one pass over NHWC rows, divided by the
 * window area as tfjs's AvgPool does.
 */
import * as tf from '../../tf';
import { BackendWasm, Info, KernelArgs, memoryOffset } from './common';
import { simdKernels } from './simd/module';

/** The attributes of MaxPool, MaxPoolGrad and AvgPoolGrad. */
export interface PoolAttrs {
  filterSize: [number, number] | number;
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** The pooling geometry (of the forward pool), from the kernel's attributes. */
export function poolInfo(input: Info, attrs: PoolAttrs): tf.backend_util.Conv2DInfo {
  const { filterSize, strides, pad, dimRoundingMode } = attrs;
  return tf.backend_util.computePool2DInfo(input.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
}

export function maxPoolGrad(args: KernelArgs): Info {
  const backend = args.backend as unknown as BackendWasm;
  const { dy, input, output } = args.inputs as { dy: Info; input: Info; output: Info };
  const info = poolInfo(input, args.attrs as unknown as PoolAttrs);
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow } = info;
  const out = backend.makeOutput(input.shape, 'float32');
  const ptr = (t: Info) => memoryOffset(backend, t);
  // max_pool_grad(x, y, dy, dx, b0, b1, h, w, c, oh, ow, fh, fw, sh, sw, top, left), split over images
  simdKernels(backend).parallel(
    'max_pool_grad',
    [ptr(input), ptr(output), ptr(dy), ptr(out), 0, 0, h, w, c, oh, ow, info.filterHeight, info.filterWidth, info.strideHeight, info.strideWidth, info.padInfo.top, info.padInfo.left],
    4,
    n,
    n * h * w * c,
  );
  return out;
}

export function avgPoolGrad(args: KernelArgs): Info {
  const backend = args.backend as unknown as BackendWasm;
  const { dy, input } = args.inputs as { dy: Info; input: Info };
  const info = poolInfo(input, args.attrs as unknown as PoolAttrs);
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow, filterHeight: fh, filterWidth: fw } = info;
  const out = backend.makeOutput(input.shape, 'float32');
  // avg_pool_grad(dy, dx, b0, b1, h, w, c, oh, ow, fh, fw, sh, sw, top, left, scale), split over images
  simdKernels(backend).parallel(
    'avg_pool_grad',
    [memoryOffset(backend, dy), memoryOffset(backend, out), 0, 0, h, w, c, oh, ow, fh, fw, info.strideHeight, info.strideWidth, info.padInfo.top, info.padInfo.left, 1 / (fh * fw)],
    2,
    n,
    n * h * w * c,
  );
  return out;
}
