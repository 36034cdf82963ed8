/**
 * Weight initialisers. `pytorch-default` is what the course notes get (they call no init): PyTorch's
 * Conv2d/Linear reset_parameters, kaiming_uniform(a=sqrt(5)), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in))
 * for weights and biases. `torchvision` is googlenet(init_weights=True): truncated normal, std 0.01.
 */
import * as tf from '../../tf';
import { Rng } from '../../util/rng';

export type InitScheme = 'pytorch-default' | 'torchvision';

export interface Initializer {
  scheme: InitScheme;
  rng: Rng;
}

/** fan_in of an HWIO conv kernel or an [in, out] linear weight. */
export function fanIn(shape: number[]): number {
  return shape.length === 4 ? shape[0] * shape[1] * shape[2] : shape[0];
}

export function initWeight(init: Initializer, shape: number[]): tf.Tensor {
  if (init.scheme === 'torchvision') return tf.truncatedNormal(shape, 0, 0.01, 'float32', init.rng.seed());
  const bound = 1 / Math.sqrt(fanIn(shape));
  return tf.randomUniform(shape, -bound, bound, 'float32', init.rng.seed());
}

export function initBias(init: Initializer, size: number, fanInOfWeight: number): tf.Tensor {
  if (init.scheme === 'torchvision') return tf.zeros([size]);
  const bound = 1 / Math.sqrt(fanInOfWeight);
  return tf.randomUniform([size], -bound, bound, 'float32', init.rng.seed());
}
