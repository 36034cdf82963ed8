/**
 * Sibling 1x1 convolutions that read the same input (an Inception module's branch1, branch2's and
 * branch3's reductions), run as one convolution with their weights concatenated on the output axis,
 * and its output split back: one GEMM of [N*H*W, in] x [in, sum(out)] in place of three narrow ones
 * (x read once, one call on the thread pool, and one input gradient in place of three and their sum).
 *
 *   x [N, H, W, in] --conv(concat(w_i), concat(b_i))--> [N, H, W, sum(out_i)] --split--> [N, H, W, out_i]
 *
 * Each conv keeps its own variables (and PyTorch names); the weights are concatenated on every call
 * (on the tape while one records, so that each variable gets its slice of the gradient). Nothing is
 * kept between calls: an inference pass leaves no tensor behind (a kept concatenation measured no
 * faster in evaluation, within this machine's noise).
 */
import * as tf from '../../tf';
import { Conv2d, convolve } from './conv2d';

export class SharedInputConvs {
  private readonly sizes: number[];

  /** `convs`: 1x1, stride 1, no padding, the same input channels, all with a bias or all without. */
  constructor(readonly convs: Conv2d[]) {
    const { inChannels } = convs[0].args;
    const biased = convs[0].bias !== null;
    for (const c of convs) {
      if (c.args.kernelSize !== 1 || c.stride !== 1 || c.padding !== 0 || c.args.inChannels !== inChannels || (c.bias !== null) !== biased)
        throw new Error('SharedInputConvs: the convolutions must be 1x1, stride 1, unpadded, on the same input, with or without bias alike');
    }
    this.sizes = convs.map((c) => c.args.outChannels);
  }

  /** [N, H, W, in] -> one [N, H, W, out_i] per conv, ReLU'd if `relu`. */
  apply(x: tf.Tensor4D, relu: boolean): tf.Tensor4D[] {
    return tf.tidy(() => {
      const weight = tf.concat(this.convs.map((c) => c.weight as tf.Tensor4D), 3); // [1, 1, in, sum(out)]
      const bias = this.convs[0].bias ? tf.concat(this.convs.map((c) => c.bias as tf.Tensor1D)) : null;
      const y = convolve(x, weight, bias, 1, 0, relu); // [N, H, W, sum(out)]
      return tf.split(y, this.sizes, 3) as tf.Tensor4D[];
    });
  }
}
