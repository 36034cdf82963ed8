/**
 * Sum for the wasm backend when it reduces leading axes (the bias gradient of every conv: dy [N,H,W,C]
 * summed over N, H, W). The shipped kernel first moves the reduced axes last with its generic N-d
 * transpose (an index computation per element, then a second pass); here the tensor is seen as a
 * matrix [outer, inner] and its columns are summed in one pass (sum_rows in ./simd/kernels.c, four
 * columns at a time, split over the threads), in float64 as the cpu backend does.
 */
import * as tf from '../../tf';
import { BackendWasm, Info, KernelArgs, memoryOffset, sizeOf, view, wasmKernel } from './common';
import { simdKernels } from './simd/module';

export function sum(args: KernelArgs): Info {
  const backend = args.backend as unknown as BackendWasm;
  const { x } = args.inputs as { x: Info };
  const { axis, keepDims } = args.attrs as unknown as { axis: number | number[]; keepDims: boolean };
  const original = () => wasmKernel('Sum').kernelFunc(args as never) as Info;
  if (x.dtype !== 'float32') return original();
  const axes = tf.util.parseAxisParam(axis, x.shape).slice().sort((a, b) => a - b);
  const k = axes.length;
  const leading = k > 0 && k < x.shape.length && axes.every((a, i) => a === i);
  if (!leading) return original();
  const outer = sizeOf(x.shape.slice(0, k));
  const inner = sizeOf(x.shape.slice(k));
  if (outer === 1) return original();
  const out = backend.makeOutput([inner], 'float32');
  // sum_rows(x, out, outer, inner, c0, c1), split over columns
  simdKernels(backend).parallel('sum_rows', [memoryOffset(backend, x), memoryOffset(backend, out), outer, inner, 0, 0], 4, inner, outer * inner, 4);
  const shape = keepDims ? x.shape.map((d, i) => (i < k ? 1 : d)) : x.shape.slice(k);
  return view(out, shape);
}
