/**
 * Weight initialisers. `pytorch-default` is what the course notes get (they call no init): PyTorch's
 * Conv2d/Linear reset_parameters, kaiming_uniform(a=sqrt(5)), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in))
 * for weights and biases. `torchvision` is googlenet(init_weights=True): truncated normal, std 0.01.
 * `kaiming` is He et al. (2015) for ReLU networks, as torchvision's ResNets and VGG initialise:
 * conv weights N(0, 2 / fan_out) (kaiming_normal_(mode='fan_out', nonlinearity='relu')), linear weights
 * N(0, 0.01), biases 0. PyTorch's default shrinks each conv's output variance to about a third of its
 * input's, so after GoogLeNet's 20-odd layers the logits barely depend on the photo and the notes' model
 * sits at chance for its first epochs; He's scale keeps the signal, and the same model learns at once.
 */
import * as tf from '../../tf';
import { Rng } from '../../util/rng';

export type InitScheme = 'pytorch-default' | 'torchvision' | 'kaiming';

export const INIT_SCHEMES: readonly InitScheme[] = ['pytorch-default', 'torchvision', 'kaiming'];

export interface Initializer {
  scheme: InitScheme;
  rng: Rng;
}

/** fan_in of an HWIO conv kernel or an [in, out] linear weight. */
export function fanIn(shape: number[]): number {
  return shape.length === 4 ? shape[0] * shape[1] * shape[2] : shape[0];
}

/** fan_out of an HWIO conv kernel (kh * kw * out channels). */
function fanOut(shape: number[]): number {
  return shape[0] * shape[1] * shape[3];
}

export function initWeight(init: Initializer, shape: number[]): tf.Tensor {
  if (init.scheme === 'kaiming') {
    const std = shape.length === 4 ? Math.sqrt(2 / fanOut(shape)) : 0.01;
    return tf.randomNormal(shape, 0, std, 'float32', init.rng.seed());
  }
  if (init.scheme === 'torchvision') return tf.truncatedNormal(shape, 0, 0.01, 'float32', init.rng.seed());
  const bound = 1 / Math.sqrt(fanIn(shape));
  return tf.randomUniform(shape, -bound, bound, 'float32', init.rng.seed());
}

export function initBias(init: Initializer, size: number, fanInOfWeight: number): tf.Tensor {
  if (init.scheme !== 'pytorch-default') return tf.zeros([size]);
  const bound = 1 / Math.sqrt(fanInOfWeight);
  return tf.randomUniform([size], -bound, bound, 'float32', init.rng.seed());
}
