/**
 * InceptionAux, the auxiliary classifier hung on inception4a (aux1, 512 channels in) and inception4d
 * (aux2, 528 in). Active in training only; its loss is added with weight 0.3.
 *
 * course (the notes):  AvgPool2d(5, stride 3) -> BasicConv2d(in, 128, 1x1) -> flatten 128*4*4 = 2048
 *                      -> dropout 0.5 -> fc1 2048->1024 + ReLU -> dropout 0.5 -> fc2 1024->classes
 * torchvision:         adaptive_avg_pool2d(4x4) -> BasicConv2d(+BN) -> flatten -> fc1 + ReLU -> dropout 0.7 -> fc2
 *
 * The notes' fixed pooling turns the 14x14 map of a 224 px input into 4x4; at 112 px the map is 7x7 and
 * AvgPool(5, 3) gives 1x1, so fc1's 2048 inputs would not fit. At sizes where the fixed pooling does
 * not give 4x4 the course head pools adaptively to 4x4, as torchvision's does (reported by `summary`).
 */
import * as tf from '../tf';
import { BasicConv2d } from './basic_conv2d';
import { ForwardContext, Module } from './module';
import { dropout } from './nn/dropout';
import { Initializer } from './nn/init';
import { Linear } from './nn/linear';
import { adaptiveAvgPool2d, avgPool2d, poolOutputSize } from './nn/pool';
import { AUX_FEATURES, AUX_POOL_OUT, VariantSpec } from './specs';

export type AuxPooling = 'avg5s3' | 'adaptive4';

/** Which pooling an aux head uses on an h x w feature map. */
export function auxPooling(variant: VariantSpec, h: number, w: number): AuxPooling {
  if (variant.auxPool === 'avg5s3' && poolOutputSize(h, 5, 3) === AUX_POOL_OUT && poolOutputSize(w, 5, 3) === AUX_POOL_OUT) {
    return 'avg5s3';
  }
  return 'adaptive4';
}

export class InceptionAux extends Module {
  readonly conv: BasicConv2d;
  readonly fc1: Linear;
  readonly fc2: Linear;

  constructor(readonly inChannels: number, readonly numClasses: number, readonly variant: VariantSpec, init: Initializer) {
    super();
    this.conv = this.addModule('conv', new BasicConv2d({ inChannels, outChannels: 128, kernelSize: 1, batchNorm: variant.batchNorm }, init));
    this.fc1 = this.addModule('fc1', new Linear(AUX_FEATURES, 1024, init));
    this.fc2 = this.addModule('fc2', new Linear(1024, numClasses, init));
  }

  /** [N, H, W, in] (14x14 at 224 px) -> [N, numClasses] */
  apply(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor2D {
    return tf.tidy(() => {
      const [n, h, w] = x.shape;
      const pooled = auxPooling(this.variant, h, w) === 'avg5s3' ? avgPool2d(x, 5, 3) : adaptiveAvgPool2d(x, AUX_POOL_OUT, AUX_POOL_OUT); // [N, 4, 4, in]
      const y = this.conv.apply(pooled, ctx); // [N, 4, 4, 128]
      // torch.flatten(x, 1) flattens NCHW: go to [N, 128, 4, 4] first so fc1's weights match PyTorch's.
      let f = y.transpose([0, 3, 1, 2]).reshape([n, AUX_FEATURES]) as tf.Tensor2D; // [N, 2048]
      f = dropout(f, this.variant.auxDropoutBeforeFc1, ctx);
      f = this.fc1.apply(f, true); // [N, 1024]
      f = dropout(f, this.variant.auxDropoutAfterFc1, ctx);
      return this.fc2.apply(f); // [N, numClasses]
    });
  }
}
