/**
 * Add of two float32 tensors of the same shape (in training: every gradient that meets another, such as
 * the four branches' input gradients of each inception block) on this project's SIMD module, split over
 * the threads; the shipped kernel runs on one. Broadcasting adds and other dtypes go to the shipped one.
 */
import { BackendWasm, Info, KernelArgs, memoryOffset, sizeOf, wasmKernel } from './common';
import { PIECES, simdKernels } from './simd/module';

export function add(args: KernelArgs): Info {
  const backend = args.backend as unknown as BackendWasm;
  const { a, b } = args.inputs as { a: Info; b: Info };
  const same = a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i]);
  if (!same || a.dtype !== 'float32' || b.dtype !== 'float32') return wasmKernel('Add').kernelFunc(args as never) as Info;
  const out = backend.makeOutput(a.shape, 'float32');
  const size = sizeOf(a.shape);
  // add_arrays(a, b, out, i0, i1), split into runs of whole vectors
  simdKernels(backend).parallel('add_arrays', [memoryOffset(backend, a), memoryOffset(backend, b), memoryOffset(backend, out), 0, 0], 3, size, size, 16, -1, PIECES);
  return out;
}
