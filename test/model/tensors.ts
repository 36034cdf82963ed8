/** Tensors for the gradient tests of the fused kernels (fused_conv_grad, fused_mat_mul_grad). */
import * as tf from '../../src/tf';
import { Rng } from '../../src/util/rng';

/** A seeded tensor of sums of two U(-1, 1) draws (a rough bell on [-2, 2]). */
export function randn(shape: number[], seed: number): tf.Tensor {
  const rng = new Rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Array.from({ length: n }, () => rng.uniform(-1, 1) + rng.uniform(-1, 1)), shape);
}

/** max |a - b| / max |b| */
export function maxRelErr(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] / Math.max(1e-12, tf.max(tf.abs(b)).dataSync()[0]));
}
