/**
 * The backward pass through conv + bias + ReLU's ReLU and bias in one kernel ('ReluGradBiasSum'), for
 * the registered FusedConv2D gradient (src/model/nn/fused_conv_grad.ts):
 *
 *   g [n, h, w, c] = y > 0 ? dy : 0        (y: the layer's output)
 *   db [c]         = sum of g over n, h, w
 *
 * in place of Step, Multiply and Sum (three passes, a mask tensor, all on the main thread): one pass,
 * relu_grad_sum in ./simd/kernels.c, rows split over the threads, each thread summing its rows in
 * float64; the threads' sums are added here.
 */
import { BackendWasm, Info, KernelArgs, dispose, f32, memoryOffset, sizeOf, threadAccumulators, threadSums } from './common';
import { simdKernels } from './simd/module';

export const RELU_GRAD_BIAS_SUM = 'ReluGradBiasSum';

/** Inputs dy, y (float32, one shape, channels last). Outputs [g, db]. */
export function reluGradBiasSum(args: KernelArgs): Info[] {
  const backend = args.backend as unknown as BackendWasm;
  const { dy, y } = args.inputs as { dy: Info; y: Info };
  const shape = dy.shape.slice();
  const c = shape[shape.length - 1];
  const rows = sizeOf(shape) / c;
  const simd = simdKernels(backend);
  const g = backend.makeOutput(shape, 'float32');
  const db = backend.makeOutput([c], 'float32');
  const acc = threadAccumulators(backend, simd.threads, c);
  // relu_grad_sum(dy, y, g, acc, c, part, r0, r1), split over rows
  simd.parallel('relu_grad_sum', [memoryOffset(backend, dy), memoryOffset(backend, y), memoryOffset(backend, g), memoryOffset(backend, acc), c, 0, 0, 0], 6, rows, rows * c, 1, 5);
  f32(backend, db).set(threadSums(backend, acc, simd.threads, c));
  dispose(backend, acc);
  return [g, db];
}
