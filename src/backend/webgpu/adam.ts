/**
 * The fused Adam step ('AdamStep', the kernel src/train/adam.ts runs where a backend has it) for
 * webgpu: three elementwise passes in place of tfjs's ~14 kernels per variable.
 *
 *   m' = beta1 m + (1 - beta1) g                  (pass 1: reads m, g)
 *   v' = beta2 v + (1 - beta2) g^2                (pass 2: reads v, g)
 *   value' = value - (lr / c1) m' / (sqrt(v') / sqrt(c2) + epsilon)   (pass 3: reads value, m', v')
 *
 * with c1 = 1 - beta1^t, c2 = 1 - beta2^t: tfjs's AdamOptimizer's arithmetic. A WebGPU program writes
 * one output, hence three passes; each is one pipeline for every variable (sizes in uniforms).
 */
import * as tf from '../../tf';
import type { AdamStepAttrs } from '../wasm/adam';
import { elementwiseProgram, WebGpuBackendLike } from './program';

export function adamStepWebGpu(args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap }): tf.TensorInfo[] {
  const { value, grad, m, v } = args.inputs as { value: tf.TensorInfo; grad: tf.TensorInfo; m: tf.TensorInfo; v: tf.TensorInfo };
  const backend = args.backend as unknown as WebGpuBackendLike;
  const a = args.attrs as unknown as AdamStepAttrs;
  const shape = value.shape.slice();
  const f = (...xs: number[]) => xs.map((x) => ({ type: 'float32' as const, data: [x] }));
  const moment = (key: string, square: boolean, beta: number, t: tf.TensorInfo) =>
    backend.runWebGPUProgram(
      elementwiseProgram(`adam_${key}`, ['mom', 'g'], 'beta : f32, oneMinusBeta : f32, ', `let gi = g[i]; result[i] = uniforms.beta * mom[i] + uniforms.oneMinusBeta * ${square ? 'gi * gi' : 'gi'};`, shape),
      [t, grad],
      'float32',
      f(beta, 1 - beta),
    );
  const newM = moment('m', false, a.beta1, m);
  const newV = moment('v', true, a.beta2, v);
  const newValue = backend.runWebGPUProgram(
    elementwiseProgram('adam_value', ['p', 'mm', 'vv'], 'stepSize : f32, rootC2 : f32, eps : f32, ', 'result[i] = p[i] - uniforms.stepSize * mm[i] / (sqrt(vv[i]) / uniforms.rootC2 + uniforms.eps);', shape),
    [value, newM, newV],
    'float32',
    f(a.lr / a.correction1, Math.sqrt(a.correction2), a.epsilon),
  );
  return [newValue, newM, newV];
}
