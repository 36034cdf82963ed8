/**
 * nn.BatchNorm2d over the channel axis of NHWC. torchvision's GoogLeNet uses eps=0.001; momentum 0.1 is
 * PyTorch's default. Training mode normalises with the batch's statistics and records them so that the
 * running averages are updated after the step (see `applyBatchNormUpdates`).
 */
import * as tf from '../../tf';
import { ForwardContext, Module } from '../module';

export class BatchNorm2d extends Module {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;
  readonly runningMean: tf.Variable;
  readonly runningVar: tf.Variable;

  constructor(readonly numFeatures: number, readonly eps = 1e-3, readonly momentum = 0.1) {
    super();
    this.weight = this.addParam('weight', tf.ones([numFeatures]));
    this.bias = this.addParam('bias', tf.zeros([numFeatures]));
    this.runningMean = this.addBuffer('running_mean', tf.zeros([numFeatures]));
    this.runningVar = this.addBuffer('running_var', tf.ones([numFeatures]));
  }

  /** [N, H, W, C] -> [N, H, W, C] */
  apply(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor4D {
    if (!ctx.training || ctx.freezeBatchNormStats) {
      return tf.batchNorm4d(x, this.runningMean as tf.Tensor1D, this.runningVar as tf.Tensor1D, this.bias as tf.Tensor1D, this.weight as tf.Tensor1D, this.eps);
    }
    const { mean, variance } = tf.moments(x, [0, 1, 2]);
    if (ctx.batchNormUpdates) {
      const [n, h, w] = x.shape;
      ctx.batchNormUpdates.push({
        runningMean: this.runningMean,
        runningVar: this.runningVar,
        mean: tf.keep(tf.clone(mean) as tf.Tensor1D),
        variance: tf.keep(tf.clone(variance) as tf.Tensor1D),
        count: n * h * w,
        momentum: this.momentum,
      });
    }
    return tf.batchNorm4d(x, mean as tf.Tensor1D, variance as tf.Tensor1D, this.bias as tf.Tensor1D, this.weight as tf.Tensor1D, this.eps);
  }
}
