/**
 * Adam as in the notes (torch.optim.Adam(lr=3e-4), betas 0.9/0.999, eps 1e-8; tfjs's AdamOptimizer has
 * the same update), with one fused kernel per variable where the backend has one ('AdamStep', on wasm:
 * src/backend/wasm/adam.ts). Elsewhere it is tfjs's AdamOptimizer unchanged. The state (moments,
 * iterations) is tfjs's own, so getWeights/setWeights and saved optimizer state are the same either way.
 */
import * as tf from '../tf';
import { ADAM_STEP } from '../backend/wasm/adam';

interface MomentSlot {
  originalName: string;
  variable: tf.Variable;
}

/** The AdamOptimizer fields this subclass reads (private in tfjs's typings, stable in 4.x). */
interface AdamInternals {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: MomentSlot[];
  accumulatedSecondMoment: MomentSlot[];
}

export class FusedAdam extends tf.AdamOptimizer {
  override applyGradients(variableGradients: Record<string, tf.Variable> | { name: string; tensor: tf.Tensor }[]): void {
    if (!tf.getKernel(ADAM_STEP, tf.getBackend())) {
      super.applyGradients(variableGradients);
      return;
    }
    const self = this as unknown as AdamInternals;
    const list: [string, tf.Tensor | undefined][] = Array.isArray(variableGradients)
      ? variableGradients.map((g) => [g.name, g.tensor])
      : Object.keys(variableGradients).map((name) => [name, variableGradients[name]]);
    // Step t (from 1): the bias corrections 1 - beta^t. tfjs keeps beta^t in accBeta*, = beta^(iterations+1).
    const t = this.iterations + 1;
    const correction1 = 1 - Math.pow(self.beta1, t);
    const correction2 = 1 - Math.pow(self.beta2, t);
    tf.tidy(() => {
      list.forEach(([name, gradient], i) => {
        const value = tf.engine().registeredVariables[name];
        if (self.accumulatedFirstMoment[i] == null) {
          self.accumulatedFirstMoment[i] = { originalName: `${name}/m`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
        }
        if (self.accumulatedSecondMoment[i] == null) {
          self.accumulatedSecondMoment[i] = { originalName: `${name}/v`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
        }
        if (gradient == null) return;
        const m = self.accumulatedFirstMoment[i].variable;
        const v = self.accumulatedSecondMoment[i].variable;
        const [newValue, newM, newV] = tf.engine().runKernel(
          ADAM_STEP,
          { value, grad: gradient, m, v },
          { lr: self.learningRate, beta1: self.beta1, beta2: self.beta2, epsilon: self.epsilon, correction1, correction2 } as unknown as tf.NamedAttrMap,
        ) as tf.Tensor[];
        m.assign(newM);
        v.assign(newV);
        value.assign(newValue);
      });
      self.accBeta1.assign(tf.mul(self.accBeta1, self.beta1));
      self.accBeta2.assign(tf.mul(self.accBeta2, self.beta2));
    });
    this.incrementIterations();
  }
}

/** The notes' optimizer: Adam with betas 0.9/0.999 and eps 1e-8. */
export function createAdam(learningRate: number): FusedAdam {
  return new FusedAdam(learningRate, 0.9, 0.999, 1e-8);
}
