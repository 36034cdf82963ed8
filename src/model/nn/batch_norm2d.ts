/**
 * nn.BatchNorm2d over the channel axis of NHWC. torchvision's GoogLeNet uses eps=0.001; momentum 0.1 is
 * PyTorch's default. Training mode normalises with the batch's statistics and records them so that the
 * running averages are updated after the step (see `applyBatchNormUpdates`).
 *
 * `applyRelu` is BasicConv2d's BatchNorm + ReLU. Where the backend has the project's BatchNorm kernels
 * (wasm: src/backend/wasm/batch_norm.ts) it is one custom-gradient op of four passes; elsewhere it is
 * `relu(apply(x))`, tfjs's ops and their gradients.
 */
import * as tf from '../../tf';
import { ForwardContext, Module } from '../module';

const STATS = 'BatchNormStats';
const APPLY = 'BatchNormApply';
const APPLY_GRAD = 'BatchNormApplyGrad';

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
    this.recordBatchStats(x, mean as tf.Tensor1D, variance as tf.Tensor1D, ctx);
    return tf.batchNorm4d(x, mean as tf.Tensor1D, variance as tf.Tensor1D, this.bias as tf.Tensor1D, this.weight as tf.Tensor1D, this.eps);
  }

  /** relu(BatchNorm(x)): [N, H, W, C] -> [N, H, W, C] */
  applyRelu(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor4D {
    if (!tf.getKernel(APPLY, tf.getBackend())) return tf.relu(this.apply(x, ctx));
    const batchStats = ctx.training && !ctx.freezeBatchNormStats;
    const attrs = { eps: this.eps, relu: true };
    const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const [xIn, gamma, beta] = args as tf.Tensor[];
      const save = args[3] as tf.GradSaveFunc;
      const [mean, variance] = batchStats
        ? (tf.engine().runKernel(STATS, { x: xIn }, {}) as unknown as tf.Tensor1D[])
        : [this.runningMean as tf.Tensor1D, this.runningVar as tf.Tensor1D];
      if (batchStats) this.recordBatchStats(x, mean, variance, ctx);
      const out = tf.engine().runKernel(APPLY, { x: xIn, mean, variance, gamma, beta }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor4D;
      save([xIn, out, gamma, mean, variance]);
      return {
        value: out,
        gradFunc: (dy: tf.Tensor4D, saved: tf.Tensor[]) => {
          const [xs, outs, g, m, v] = saved;
          const inputs = { dy, out: outs, x: xs, mean: m, variance: v, gamma: g };
          return tf.engine().runKernel(APPLY_GRAD, inputs, { ...attrs, batchStats } as unknown as tf.NamedAttrMap) as unknown as tf.Tensor[];
        },
      };
    });
    return op(x, this.weight, this.bias) as tf.Tensor4D;
  }

  /** Keep a batch's statistics for the running averages' update after the step (`applyBatchNormUpdates`). */
  private recordBatchStats(x: tf.Tensor4D, mean: tf.Tensor1D, variance: tf.Tensor1D, ctx: ForwardContext): void {
    if (!ctx.batchNormUpdates) return;
    const [n, h, w] = x.shape;
    ctx.batchNormUpdates.push({
      runningMean: this.runningMean,
      runningVar: this.runningVar,
      mean: tf.keep(tf.clone(mean)),
      variance: tf.keep(tf.clone(variance)),
      count: n * h * w,
      momentum: this.momentum,
    });
  }
}
