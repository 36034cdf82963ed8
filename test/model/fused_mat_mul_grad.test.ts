/**
 * The _FusedMatMul gradient (src/model/nn/fused_mat_mul_grad.ts) against tfjs's own gradient of the
 * same dense layer written as three kernels (matMul, add bias, relu), on the cpu backend; and what it
 * changes: one kernel per Linear in training, no input gradient where none is needed, no tensors left
 * behind, a message for what it does not cover.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '../../src/tf';
import '@tensorflow/tfjs-backend-cpu';
import { Linear } from '../../src/model/nn/linear';
import { registerFusedMatMulGradient } from '../../src/model/nn/fused_mat_mul_grad';
import { Rng } from '../../src/util/rng';
import { maxRelErr, randn } from './tensors';

before(async () => {
  await tf.setBackend('cpu');
  registerFusedMatMulGradient();
});

const init = { scheme: 'pytorch-default' as const, rng: new Rng(11) };

// [rows, in, out]: the aux heads' fc1 scaled down, an odd batch, fc2's few outputs
for (const [m, k, n] of [[16, 64, 32], [3, 20, 7], [4, 32, 5]]) {
  for (const activation of ['relu', 'linear'] as const) {
    test(`_FusedMatMul gradient = matMul + bias + ${activation} gradient: ${m}x${k}x${n}`, () => {
      const x = randn([m, k], 1);
      const w = randn([k, n], 2);
      const b = randn([n], 3);
      const r = randn([m, n], 4); // weights of the scalar loss, so that every output matters differently
      const attrs = { transposeA: false, transposeB: false, activation } as unknown as tf.NamedAttrMap;
      const fused = tf.grads((xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => {
        const y = tf.engine().runKernel('_FusedMatMul', { a: xx.reshape([1, m, k]), b: ww.reshape([1, k, n]), bias: bb }, attrs) as tf.Tensor;
        return tf.sum(tf.mul(y.reshape([m, n]), r));
      })([x, w, b]);
      const unfused = tf.grads((xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => {
        const z = tf.add(tf.matMul(xx as tf.Tensor2D, ww as tf.Tensor2D), bb);
        return tf.sum(tf.mul(activation === 'relu' ? tf.relu(z) : z, r));
      })([x, w, b]);
      ['dx', 'dW', 'db'].forEach((name, i) => {
        assert.deepEqual(fused[i].shape, unfused[i].shape, name);
        const e = maxRelErr(fused[i], unfused[i]);
        assert.ok(e < 1e-5, `${name}: relative error ${e}`);
      });
      tf.dispose([x, w, b, r, ...fused, ...unfused]);
    });
  }
}

test('a Linear with a ReLU runs one _FusedMatMul kernel while a tape records (not matMul + add + relu)', async () => {
  const fc = new Linear(12, 8, init);
  const x = randn([4, 12], 5);
  const info = await tf.profile(() => {
    const { value, grads } = tf.variableGrads(() => tf.sum(fc.apply(x as tf.Tensor2D, true)) as tf.Scalar, [fc.weight, fc.bias]);
    tf.dispose([value, ...Object.values(grads)]);
  });
  const names = info.kernelNames;
  assert.ok(names.includes('_FusedMatMul'), names.join(' '));
  assert.ok(!names.includes('Relu') && !names.includes('Add'), names.join(' '));
  // x is a constant here: its gradient (a product with the weights) is never computed, so one product
  // (the weight gradient) runs in the backward pass.
  assert.equal(names.filter((k) => k === 'BatchMatMul').length, 1, names.join(' '));
  x.dispose();
  fc.dispose();
});

test('Linear gives the same output as tf.fused.matMul, in and out of a tape', () => {
  const fc = new Linear(10, 6, init);
  const x = randn([3, 10], 6);
  for (const relu of [false, true]) {
    const want = tf.fused.matMul({ a: x as tf.Tensor2D, b: fc.weight as tf.Tensor2D, bias: fc.bias, activation: relu ? 'relu' : 'linear' });
    const got = fc.apply(x as tf.Tensor2D, relu);
    assert.deepEqual(got.shape, [3, 6]);
    assert.ok(maxRelErr(got, want) < 1e-6);
    const inTape = tf.grad((xx: tf.Tensor) => {
      const y = fc.apply(xx as tf.Tensor2D, relu);
      assert.ok(maxRelErr(y, want) < 1e-6, 'under a tape');
      return tf.sum(y);
    })(x);
    tf.dispose([want, got, inTape]);
  }
  x.dispose();
  fc.dispose();
});

test('no tensors are left behind, whichever gradients are asked for', async () => {
  const fc = new Linear(12, 8, init);
  const x = randn([4, 12], 7);
  const before = tf.memory().numTensors;
  // All three gradients, then only the input's (the bias closure, which frees the shared ReLU mask, never runs).
  const all = tf.variableGrads(() => tf.sum(fc.apply(x as tf.Tensor2D, true)) as tf.Scalar, [fc.weight, fc.bias]);
  tf.dispose([all.value, ...Object.values(all.grads)]);
  assert.equal(tf.memory().numTensors, before, 'after weight and bias gradients');
  const dx = tf.grad((xx: tf.Tensor) => tf.sum(fc.apply(xx as tf.Tensor2D, true)))(x);
  dx.dispose();
  await new Promise((r) => setImmediate(r));
  assert.equal(tf.memory().numTensors, before, 'after an input gradient');
  x.dispose();
  fc.dispose();
});

test('a transposed operand or an activation the gradient does not cover is refused by name', () => {
  const x = randn([1, 4, 3], 8);
  const w = randn([1, 3, 2], 9);
  const b = randn([2], 10);
  const grad = (attrs: object) => () =>
    tf.grad((ww: tf.Tensor) => tf.sum(tf.engine().runKernel('_FusedMatMul', { a: x, b: ww, bias: b }, attrs as tf.NamedAttrMap) as tf.Tensor))(w);
  assert.throws(grad({ transposeA: false, transposeB: false, activation: 'elu' }), /_FusedMatMul gradient here covers .* elu/);
  const wT = randn([1, 2, 3], 11);
  assert.throws(
    () => tf.grad((ww: tf.Tensor) => tf.sum(tf.engine().runKernel('_FusedMatMul', { a: x, b: ww, bias: b }, { transposeA: false, transposeB: true, activation: 'relu' } as unknown as tf.NamedAttrMap) as tf.Tensor))(wT),
    /_FusedMatMul gradient here covers untransposed operands.*transposeB true/,
  );
  tf.dispose([x, w, b, wT]);
});
