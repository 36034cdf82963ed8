/** nn.Conv2d in NHWC: weight [kh, kw, in, out] (HWIO; PyTorch stores OIHW), optional bias [out]. */
import * as tf from '../../tf';
import { Module } from '../module';
import { registerFusedConvGradient } from './fused_conv_grad';
import { Initializer, fanIn, initBias, initWeight } from './init';

export interface Conv2dArgs {
  inChannels: number;
  outChannels: number;
  kernelSize: number;
  stride?: number;
  /** Symmetric zero padding, as PyTorch's `padding=` (not TF's 'same', which pads asymmetrically at stride 2). */
  padding?: number;
  /** The course notes' convs have a bias; torchvision's are followed by BatchNorm and have none. */
  bias?: boolean;
}

export class Conv2d extends Module {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable | null;
  readonly stride: number;
  readonly padding: number;

  constructor(readonly args: Conv2dArgs, init: Initializer) {
    super();
    const { inChannels, outChannels, kernelSize: k } = args;
    this.stride = args.stride ?? 1;
    this.padding = args.padding ?? 0;
    const shape = [k, k, inChannels, outChannels];
    this.weight = this.addParam('weight', initWeight(init, shape));
    this.bias = args.bias === false ? null : this.addParam('bias', initBias(init, outChannels, fanIn(shape)));
  }

  /** [N, H, W, in] -> [N, H', W', out]; `relu` fuses the activation into the conv kernel. */
  apply(x: tf.Tensor4D, relu = false): tf.Tensor4D {
    return convolve(x, this.weight as tf.Tensor4D, this.bias as tf.Tensor1D | null, this.stride, this.padding, relu);
  }
}

/**
 * [N, H, W, in] -> [N, H', W', out]: x convolved with weight [k, k, in, out] (+ bias [out]), ReLU'd if
 * `relu`, as Conv2d.apply runs it (and ./shared_input_convs.ts on concatenated weights).
 */
export function convolve(x: tf.Tensor4D, weight: tf.Tensor4D, bias: tf.Tensor1D | null, stride: number, padding: number, relu: boolean): tf.Tensor4D {
  if (bias) {
    // The fused kernel in training too (tf.fused.conv2d splits it into three while a tape records),
    // with the gradient registered in ./fused_conv_grad.ts.
    registerFusedConvGradient();
    return tf.engine().runKernel(
      'FusedConv2D',
      { x, filter: weight, bias },
      { strides: stride, pad: padding, dataFormat: 'NHWC', dilations: 1, activation: relu ? 'relu' : 'linear' } as unknown as tf.NamedAttrMap,
    ) as tf.Tensor4D;
  }
  // No bias (torchvision: BatchNorm follows): the plain Conv2D kernel, whose gradient computes only
  // what the tape needs (tf.fused.conv2d's own gradient computes the input gradient always, and
  // conv1's on the images was 15% of a torchvision step).
  const y = tf.conv2d(x, weight, stride, padding);
  return relu ? tf.relu(y) : y;
}
