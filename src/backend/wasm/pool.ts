/**
 * MaxPool for the wasm backend on this project's SIMD module (max_pool in ./simd/kernels.c): each
 * window's maximum, four channels at a time over NHWC rows, images split over the threads. The shipped
 * kernel (XNNPACK's, one thread), warm, at 112 px, batch 16: 0.19 ms for inception4's 3x3/1 pool
 * (16x7x7x512), 0.48 for 3b's (16x14x14x256), against 0.13 and 0.26 here on two threads; the stem's
 * 3x3/2 pool (16x56x56x64, memory-bound) 0.58 against 0.74. Float32 only; anything else goes to the
 * shipped kernel.
 */
import { BackendWasm, Info, KernelArgs, memoryOffset, wasmKernel } from './common';
import { PoolAttrs, poolInfo } from './pool_grad';
import { simdKernels } from './simd/module';

export function maxPool(args: KernelArgs): Info {
  const backend = args.backend as unknown as BackendWasm;
  const { x } = args.inputs as { x: Info };
  if (x.dtype !== 'float32' || x.shape.length !== 4) return wasmKernel('MaxPool').kernelFunc(args as never) as Info;
  const info = poolInfo(x, args.attrs as unknown as PoolAttrs);
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow } = info;
  const out = backend.makeOutput([n, oh, ow, c], 'float32');
  // max_pool(x, y, b0, b1, h, w, c, oh, ow, fh, fw, sh, sw, top, left), split over images
  simdKernels(backend).parallel(
    'max_pool',
    [memoryOffset(backend, x), memoryOffset(backend, out), 0, 0, h, w, c, oh, ow, info.filterHeight, info.filterWidth, info.strideHeight, info.strideWidth, info.padInfo.top, info.padInfo.left],
    2,
    n,
    n * oh * ow * c * info.filterHeight * info.filterWidth,
  );
  return out;
}
