/**
 * The Inception module: four parallel branches concatenated on channels.
 *   branch1: 1x1                    -> ch1x1
 *   branch2: 1x1 reduce -> 3x3      -> ch3x3      (`branch2.0`, `branch2.1`)
 *   branch3: 1x1 reduce -> 5x5 (3x3 in torchvision) -> ch5x5
 *   branch4: maxpool 3x3/1 pad 1 -> 1x1 -> pool_proj   (`branch4.1`; the pool has no weights)
 * Spatial size is kept; [N, H, W, in] -> [N, H, W, ch1x1 + ch3x3 + ch5x5 + pool_proj].
 * branch1 and the two reductions all read x: they run as one 1x1 convolution (./nn/shared_input_convs.ts),
 * the same arithmetic as three.
 */
import * as tf from '../tf';
import { BasicConv2d } from './basic_conv2d';
import { ForwardContext, Module } from './module';
import { Initializer } from './nn/init';
import { maxPool2d } from './nn/pool';
import { SharedInputConvs } from './nn/shared_input_convs';
import { InceptionSpec, VariantSpec } from './specs';

/** nn.Sequential: children named 0, 1, ... */
class Sequential extends Module {
  constructor(readonly layers: (BasicConv2d | null)[]) {
    super();
    layers.forEach((l, i) => l && this.addModule(String(i), l));
  }
}

export class Inception extends Module {
  readonly branch1: BasicConv2d;
  readonly branch2: [BasicConv2d, BasicConv2d];
  readonly branch3: [BasicConv2d, BasicConv2d];
  /** branch4.0 is the max-pool (no parameters), branch4.1 the 1x1 projection. */
  readonly branch4: BasicConv2d;
  readonly outChannels: number;
  /** branch1, branch2.0 and branch3.0: the 1x1 convolutions on x. */
  private readonly onInput: SharedInputConvs;

  constructor(readonly spec: InceptionSpec, variant: VariantSpec, init: Initializer) {
    super();
    const [inC, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, poolProj] = spec;
    const bn = variant.batchNorm;
    const k3 = variant.branch3Kernel;
    this.branch1 = this.addModule('branch1', new BasicConv2d({ inChannels: inC, outChannels: ch1x1, kernelSize: 1, batchNorm: bn }, init));
    this.branch2 = [
      new BasicConv2d({ inChannels: inC, outChannels: ch3x3red, kernelSize: 1, batchNorm: bn }, init),
      new BasicConv2d({ inChannels: ch3x3red, outChannels: ch3x3, kernelSize: 3, padding: 1, batchNorm: bn }, init),
    ];
    this.addModule('branch2', new Sequential(this.branch2));
    this.branch3 = [
      new BasicConv2d({ inChannels: inC, outChannels: ch5x5red, kernelSize: 1, batchNorm: bn }, init),
      new BasicConv2d({ inChannels: ch5x5red, outChannels: ch5x5, kernelSize: k3, padding: (k3 - 1) / 2, batchNorm: bn }, init),
    ];
    this.addModule('branch3', new Sequential(this.branch3));
    this.branch4 = new BasicConv2d({ inChannels: inC, outChannels: poolProj, kernelSize: 1, batchNorm: bn }, init);
    this.addModule('branch4', new Sequential([null, this.branch4]));
    this.outChannels = ch1x1 + ch3x3 + ch5x5 + poolProj;
    this.onInput = new SharedInputConvs([this.branch1.conv, this.branch2[0].conv, this.branch3[0].conv]);
  }

  apply(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor4D {
    return tf.tidy(() => {
      // [N, H, W, ch1x1], [N, H, W, ch3x3red], [N, H, W, ch5x5red]: conv (+ ReLU without BatchNorm)
      const [y1, y2, y3] = this.onInput.apply(x, !this.branch1.bn);
      const b1 = this.branch1.activate(y1, ctx); //                     [N, H, W, ch1x1]
      const b2 = this.branch2[1].apply(this.branch2[0].activate(y2, ctx), ctx); // [N, H, W, ch3x3]
      const b3 = this.branch3[1].apply(this.branch3[0].activate(y3, ctx), ctx); // [N, H, W, ch5x5]
      const pooled = maxPool2d(x, { kernelSize: 3, stride: 1, padding: 1, ceilMode: true });
      const b4 = this.branch4.apply(pooled, ctx); //                    [N, H, W, pool_proj]
      return tf.concat([b1, b2, b3, b4], 3); // torch.cat(outputs, 1): channels are axis 3 in NHWC
    });
  }
}
