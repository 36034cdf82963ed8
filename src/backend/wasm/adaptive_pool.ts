/**
 * nn.AdaptiveAvgPool2d((oh, ow)) and its gradient on this project's SIMD module (adaptive_avg_pool and
 * adaptive_avg_pool_grad in ./simd/kernels.c), kernels tfjs does not have: the aux heads pool a 7x7 map
 * (112 px; torchvision's variant at every size) to 4x4 with overlapping windows of 2 and 3. Used by
 * src/model/nn/pool.ts where the backend registers them; elsewhere that pooling is one matrix product
 * between two transposes. Each pass reads its input once and writes its output once, NHWC rows split
 * over the threads (a 16x7x7x512 map: the product and its transposes cost ~1.5 ms a pass).
 */
import { BackendWasm, Info, KernelArgs, memoryOffset } from './common';
import { simdKernels } from './simd/module';

export const ADAPTIVE_AVG_POOL = 'AdaptiveAvgPool';
export const ADAPTIVE_AVG_POOL_GRAD = 'AdaptiveAvgPoolGrad';

/** x [n, h, w, c] (float32), attrs { outHeight, outWidth } -> [n, outHeight, outWidth, c]. */
export function adaptiveAvgPool(args: KernelArgs): Info {
  const backend = args.backend as unknown as BackendWasm;
  const { x } = args.inputs as { x: Info };
  const { outHeight: oh, outWidth: ow } = args.attrs as unknown as { outHeight: number; outWidth: number };
  const [n, h, w, c] = x.shape;
  const out = backend.makeOutput([n, oh, ow, c], 'float32');
  // adaptive_avg_pool(x, y, h, w, c, oh, ow, r0, r1), split over the output rows
  simdKernels(backend).parallel('adaptive_avg_pool', [memoryOffset(backend, x), memoryOffset(backend, out), h, w, c, oh, ow, 0, 0], 7, n * oh, n * h * w * c);
  return out;
}

/** dy [n, oh, ow, c] (float32), attrs { inHeight, inWidth } -> dx [n, inHeight, inWidth, c]. */
export function adaptiveAvgPoolGrad(args: KernelArgs): Info {
  const backend = args.backend as unknown as BackendWasm;
  const { dy } = args.inputs as { dy: Info };
  const { inHeight: h, inWidth: w } = args.attrs as unknown as { inHeight: number; inWidth: number };
  const [n, oh, ow, c] = dy.shape;
  const out = backend.makeOutput([n, h, w, c], 'float32');
  // adaptive_avg_pool_grad(dy, dx, h, w, c, oh, ow, r0, r1), split over the input rows
  simdKernels(backend).parallel('adaptive_avg_pool_grad', [memoryOffset(backend, dy), memoryOffset(backend, out), h, w, c, oh, ow, 0, 0], 7, n * h, n * h * w * c);
  return out;
}
