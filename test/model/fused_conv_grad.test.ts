/**
 * The FusedConv2D gradient (src/model/nn/fused_conv_grad.ts) against tfjs's own gradient of the same
 * layer written as three kernels (conv2d, add bias, relu), on the cpu backend; and what it changes: one
 * kernel per conv in training, no input gradient where none is needed, no tensors left behind.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '../../src/tf';
import '@tensorflow/tfjs-backend-cpu';
import { Conv2d } from '../../src/model/nn/conv2d';
import { registerFusedConvGradient } from '../../src/model/nn/fused_conv_grad';
import { Rng } from '../../src/util/rng';
import { maxRelErr, randn } from './tensors';

before(async () => {
  await tf.setBackend('cpu');
  registerFusedConvGradient();
});

const CASES = [
  { k: 1, s: 1, p: 0, h: 7, ci: 5, co: 6, what: '1x1' },
  { k: 3, s: 1, p: 1, h: 9, ci: 4, co: 5, what: '3x3 pad 1' },
  { k: 5, s: 1, p: 2, h: 8, ci: 3, co: 4, what: '5x5 pad 2' },
  { k: 7, s: 2, p: 3, h: 15, ci: 3, co: 4, what: '7x7/2 pad 3 (conv1)' },
];

for (const c of CASES) {
  for (const activation of ['relu', 'linear'] as const) {
    test(`FusedConv2D gradient = conv2d + bias + ${activation} gradient: ${c.what}`, () => {
      const x = randn([2, c.h, c.h, c.ci], 1);
      const w = randn([c.k, c.k, c.ci, c.co], 2);
      const b = randn([c.co], 3);
      const oh = Math.floor((c.h + 2 * c.p - c.k) / c.s) + 1;
      const r = randn([2, oh, oh, c.co], 4); // weights of the scalar loss, so that every output matters differently
      const attrs = { strides: c.s, pad: c.p, dataFormat: 'NHWC', dilations: 1, activation } as unknown as tf.NamedAttrMap;
      const fused = tf.grads((xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) =>
        tf.sum(tf.mul(tf.engine().runKernel('FusedConv2D', { x: xx, filter: ww, bias: bb }, attrs) as tf.Tensor, r)),
      )([x, w, b]);
      const unfused = tf.grads((xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => {
        const z = tf.add(tf.conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, c.s, c.p), bb);
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

test('a biased Conv2d runs one FusedConv2D kernel while a tape records (not conv2d + add + relu)', async () => {
  const conv = new Conv2d({ inChannels: 3, outChannels: 4, kernelSize: 3, padding: 1 }, { scheme: 'pytorch-default', rng: new Rng(11) });
  const x = randn([1, 6, 6, 3], 5);
  const info = await tf.profile(() => {
    const { value, grads } = tf.variableGrads(() => tf.sum(conv.apply(x as tf.Tensor4D, true)) as tf.Scalar, [conv.weight, conv.bias!]);
    tf.dispose([value, ...Object.values(grads)]);
  });
  const names = info.kernelNames;
  assert.ok(names.includes('FusedConv2D'), names.join(' '));
  assert.ok(!names.includes('Relu') && !names.includes('Conv2D'), names.join(' '));
  // x is a constant here: its gradient (a whole backward convolution) is never computed.
  assert.ok(names.includes('Conv2DBackpropFilter') && !names.includes('Conv2DBackpropInput'), names.join(' '));
  x.dispose();
  conv.dispose();
});

test('no tensors are left behind, whichever gradients are asked for', async () => {
  const conv = new Conv2d({ inChannels: 3, outChannels: 4, kernelSize: 3, padding: 1 }, { scheme: 'pytorch-default', rng: new Rng(11) });
  const x = randn([1, 6, 6, 3], 6);
  const before = tf.memory().numTensors;
  // All three gradients, then only the input's (the bias closure, which frees the shared ReLU mask, never runs).
  const all = tf.variableGrads(() => tf.sum(conv.apply(x as tf.Tensor4D, true)) as tf.Scalar, [conv.weight, conv.bias!]);
  tf.dispose([all.value, ...Object.values(all.grads)]);
  assert.equal(tf.memory().numTensors, before, 'after weight and bias gradients');
  const dx = tf.grad((xx: tf.Tensor) => tf.sum(conv.apply(xx as tf.Tensor4D, true)))(x);
  dx.dispose();
  await new Promise((r) => setImmediate(r));
  assert.equal(tf.memory().numTensors, before, 'after an input gradient');
  x.dispose();
  conv.dispose();
});

test('an activation the gradient does not cover is refused by name', () => {
  const x = randn([1, 5, 5, 2], 7);
  const w = randn([3, 3, 2, 2], 8);
  const b = randn([2], 9);
  const attrs = { strides: 1, pad: 1, dataFormat: 'NHWC', dilations: 1, activation: 'elu' } as unknown as tf.NamedAttrMap;
  assert.throws(
    () => tf.grad((ww: tf.Tensor) => tf.sum(tf.engine().runKernel('FusedConv2D', { x, filter: ww, bias: b }, attrs) as tf.Tensor))(w),
    /FusedConv2D gradient here covers .* elu/,
  );
  tf.dispose([x, w, b]);
});
