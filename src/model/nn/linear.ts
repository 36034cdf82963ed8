/** nn.Linear: weight stored [in, out] (PyTorch stores [out, in]), bias [out]. */
import * as tf from '../../tf';
import { Module } from '../module';
import { Initializer, initBias, initWeight } from './init';

export class Linear extends Module {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;

  constructor(readonly inFeatures: number, readonly outFeatures: number, init: Initializer) {
    super();
    this.weight = this.addParam('weight', initWeight(init, [inFeatures, outFeatures]));
    this.bias = this.addParam('bias', initBias(init, outFeatures, inFeatures));
  }

  /** [N, in] -> [N, out] */
  apply(x: tf.Tensor2D, relu = false): tf.Tensor2D {
    return tf.fused.matMul({
      a: x,
      b: this.weight as tf.Tensor2D,
      bias: this.bias,
      activation: relu ? 'relu' : 'linear',
    }) as tf.Tensor2D;
  }
}
