/**
 * BasicConv2d, the notes' "small module": conv + ReLU (course), or conv + BatchNorm + ReLU (torchvision).
 * Parameter names: `conv.weight`, `conv.bias` | `bn.weight`, `bn.bias`, `bn.running_mean`, `bn.running_var`.
 */
import * as tf from '../tf';
import { ForwardContext, Module } from './module';
import { BatchNorm2d } from './nn/batch_norm2d';
import { Conv2d } from './nn/conv2d';
import { Initializer } from './nn/init';

export interface BasicConv2dArgs {
  inChannels: number;
  outChannels: number;
  kernelSize: number;
  stride?: number;
  padding?: number;
  batchNorm: boolean;
}

export class BasicConv2d extends Module {
  readonly conv: Conv2d;
  readonly bn: BatchNorm2d | null;

  constructor(readonly args: BasicConv2dArgs, init: Initializer) {
    super();
    this.conv = this.addModule(
      'conv',
      new Conv2d(
        { inChannels: args.inChannels, outChannels: args.outChannels, kernelSize: args.kernelSize, stride: args.stride, padding: args.padding, bias: !args.batchNorm },
        init,
      ),
    );
    this.bn = args.batchNorm ? this.addModule('bn', new BatchNorm2d(args.outChannels, 1e-3)) : null;
  }

  /** [N, H, W, in] -> [N, H', W', out], H' = floor((H + 2p - k) / s) + 1 */
  apply(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor4D {
    // Without BatchNorm: conv + bias + ReLU in one fused kernel.
    return this.activate(this.conv.apply(x, !this.bn), ctx);
  }

  /**
   * What follows the conv, also for a conv run elsewhere (./nn/shared_input_convs.ts): with BatchNorm,
   * BatchNorm + ReLU of `y`, the conv's output (one op on wasm); without, `y` itself, ReLU'd with the conv.
   */
  activate(y: tf.Tensor4D, ctx: ForwardContext): tf.Tensor4D {
    return this.bn ? this.bn.applyRelu(y, ctx) : y;
  }
}
