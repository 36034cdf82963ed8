/** nn.Linear: weight stored [in, out] (PyTorch stores [out, in]), bias [out]. */
import * as tf from '../../tf';
import { Module } from '../module';
import { registerFusedMatMulGradient } from './fused_mat_mul_grad';
import { Initializer, initBias, initWeight } from './init';

export class Linear extends Module {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;

  constructor(readonly inFeatures: number, readonly outFeatures: number, init: Initializer) {
    super();
    this.weight = this.addParam('weight', initWeight(init, [inFeatures, outFeatures]));
    this.bias = this.addParam('bias', initBias(init, outFeatures, inFeatures));
  }

  /** [N, in] -> [N, out]; `relu` fuses the activation into the product's kernel. */
  apply(x: tf.Tensor2D, relu = false): tf.Tensor2D {
    // The fused kernel in training too (tf.fused.matMul splits a ReLU'd product into three while a
    // tape records), with the gradient registered in ./fused_mat_mul_grad.ts; its operands are rank 3.
    registerFusedMatMulGradient();
    const [n] = x.shape;
    return tf.tidy(() => {
      const y = tf.engine().runKernel(
        '_FusedMatMul',
        { a: x.reshape([1, n, this.inFeatures]), b: this.weight.reshape([1, this.inFeatures, this.outFeatures]), bias: this.bias },
        { transposeA: false, transposeB: false, activation: relu ? 'relu' : 'linear', leakyreluAlpha: 0 } as unknown as tf.NamedAttrMap,
      ) as tf.Tensor3D; // [1, N, out]
      return y.reshape([n, this.outFeatures]);
    });
  }
}
