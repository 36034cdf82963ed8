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
 * corrections 1 - beta^t. Outputs: [value', m', v'].
 */
import { BackendWasm, Info, KernelArgs, f32 } from './common';

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
  const outValue = backend.makeOutput(shape, 'float32');
  const outM = backend.makeOutput(shape, 'float32');
  const outV = backend.makeOutput(shape, 'float32');
  // Views after the last allocation (an allocation may grow the heap and replace its buffer).
  const [x, g, m0, v0, x1, m1, v1] = [value, grad, m, v, outValue, outM, outV].map((t) => f32(backend, t));
  const a1 = 1 - beta1;
  const a2 = 1 - beta2;
  const stepSize = lr / correction1;
  const rootCorrection2 = Math.sqrt(correction2);
  for (let i = 0; i < x.length; i++) {
    const gi = g[i];
    const mi = beta1 * m0[i] + a1 * gi;
    const vi = beta2 * v0[i] + a2 * gi * gi;
    m1[i] = mi;
    v1[i] = vi;
    // sqrt(v / c2) = sqrt(v) / sqrt(c2)
    x1[i] = x[i] - (stepSize * mi) / (Math.sqrt(vi) / rootCorrection2 + epsilon);
  }
  return [outValue, outM, outV];
}
