/**
 * One Adam step for one variable in a single pass over the wasm heap (kernel 'AdamStep').
 *
 * tfjs's AdamOptimizer spends ~14 elementwise kernels per variable (mul, add, square, div, sqrt ...),
 * each a full pass over the parameter and its moments; for GoogLeNet's 10.3 M parameters that was about
 * 165 ms of a 112 px training step on wasm. The same arithmetic, element by element:
 *
 *   m' = beta1 m + (1 - beta1) g
 *   v' = beta2 v + (1 - beta2) g^2
 *   value' = value - lr (m' / (1 - beta1^t)) / (sqrt(v' / (1 - beta2^t)) + epsilon)
 *
 * Inputs: value, grad, m, v (float32, one shape). Attrs: lr, beta1, beta2, epsilon, and the two bias
 * corrections 1 - beta^t. Outputs: [value', m', v']. The pass is adam_step in ./simd/kernels.c (float32,
 * four lanes), split over the threads.
 */
import { BackendWasm, Info, KernelArgs, memoryOffset, sizeOf } from './common';
import { PIECES, simdKernels } from './simd/module';

export const ADAM_STEP = 'AdamStep';

export interface AdamStepAttrs {
  lr: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  /** 1 - beta1^t, t counted from 1. */
  correction1: number;
  /** 1 - beta2^t. */
  correction2: number;
}

export function adamStep(args: KernelArgs): Info[] {
  const backend = args.backend as unknown as BackendWasm;
  const { value, grad, m, v } = args.inputs as { value: Info; grad: Info; m: Info; v: Info };
  const { lr, beta1, beta2, epsilon, correction1, correction2 } = args.attrs as unknown as AdamStepAttrs;
  const shape = value.shape.slice();
  const size = sizeOf(shape);
  const outValue = backend.makeOutput(shape, 'float32');
  const outM = backend.makeOutput(shape, 'float32');
  const outV = backend.makeOutput(shape, 'float32');
  const ptr = (t: Info) => memoryOffset(backend, t);
  // adam_step(x, g, m, v, x', m', v', i0, i1, beta1, beta2, 1 - beta1, 1 - beta2, step_size, root_c2, epsilon),
  // split over elements
  simdKernels(backend).parallel(
    'adam_step',
    [ptr(value), ptr(grad), ptr(m), ptr(v), ptr(outValue), ptr(outM), ptr(outV), 0, 0, beta1, beta2, 1 - beta1, 1 - beta2, lr / correction1, Math.sqrt(correction2), epsilon],
    7,
    size,
    4 * size,
    4,
    -1,
    PIECES,
  );
  return [outValue, outM, outV];
}
