/**
 * SharedInputConvs (src/model/nn/shared_input_convs.ts): sibling 1x1 convs run as one on concatenated
 * weights give what the three convs give one by one, forward and every gradient, on the cpu backend,
 * and leave no tensor behind.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '../../src/tf';
import '@tensorflow/tfjs-backend-cpu';
import { Conv2d } from '../../src/model/nn/conv2d';
import { SharedInputConvs } from '../../src/model/nn/shared_input_convs';
import { Rng } from '../../src/util/rng';

before(async () => {
  await tf.setBackend('cpu');
});

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

// inception3a's branch1, branch2.0 and branch3.0 (64, 96, 16 out of 192), scaled down: 24 -> 8, 12, 4.
const OUT = [8, 12, 4];

for (const bias of [true, false]) {
  test(`sibling 1x1 convs as one (${bias ? 'with bias, fused ReLU: the course variant' : 'no bias, no ReLU: torchvision, BatchNorm follows'}) = the convs one by one, forward and gradients`, () => {
    const init = { scheme: 'kaiming' as const, rng: new Rng(3) };
    const convs = OUT.map((co) => new Conv2d({ inChannels: 24, outChannels: co, kernelSize: 1, bias }, init));
    const shared = new SharedInputConvs(convs);
    const x = tf.randomNormal([2, 5, 5, 24], 0, 1, 'float32', 4) as tf.Tensor4D;
    const dys = OUT.map((co, i) => tf.randomNormal([2, 5, 5, co], 0, 1, 'float32', 10 + i));
    const vars = convs.flatMap((c) => (c.bias ? [c.weight, c.bias] : [c.weight]));
    // The loss sum_i <y_i, dy_i>: its gradients are the convs' gradients for output gradients dy_i.
    const loss = (ys: tf.Tensor[]) => tf.addN(ys.map((y, i) => tf.sum(tf.mul(y, dys[i])))) as tf.Scalar;
    const gradsOf = (f: (x: tf.Tensor4D) => tf.Tensor[]) => {
      const { value, grads } = tf.variableGrads(() => loss(f(x)));
      const dx = tf.grad((a: tf.Tensor) => loss(f(a as tf.Tensor4D)))(x);
      return { value, dx, dw: vars.map((v) => grads[v.name]) };
    };
    const one = gradsOf((a) => convs.map((c) => c.apply(a, bias)));
    const all = gradsOf((a) => shared.apply(a, bias));
    assert.ok(Math.abs(one.value.dataSync()[0] - all.value.dataSync()[0]) < 1e-3, 'loss');
    assert.ok(maxAbsDiff(all.dx, one.dx) < 1e-4, `dx: max |diff| ${maxAbsDiff(all.dx, one.dx)}`);
    vars.forEach((v, i) => assert.ok(maxAbsDiff(all.dw[i], one.dw[i]) < 1e-4, `${v.name}: max |diff| ${maxAbsDiff(all.dw[i], one.dw[i])}`));
    assert.ok(all.dw.every((g) => tf.max(tf.abs(g)).dataSync()[0] > 0), 'every variable gets a gradient');

    // Inference (no tape): the same outputs, and nothing left behind.
    const before = tf.memory().numTensors;
    const ys = shared.apply(x, bias);
    assert.ok(tf.tidy(() => ys.every((y, i) => maxAbsDiff(y, convs[i].apply(x, bias)) === 0)), 'inference = the convs one by one');
    tf.dispose(ys);
    assert.equal(tf.memory().numTensors, before, 'no tensor left behind');
    tf.dispose([x, ...dys, one.value, one.dx, ...one.dw, all.value, all.dx, ...all.dw]);
    convs.forEach((c) => c.dispose());
  });
}

test('SharedInputConvs refuses convs it cannot run as one', () => {
  const init = { scheme: 'kaiming' as const, rng: new Rng(1) };
  const a = new Conv2d({ inChannels: 8, outChannels: 4, kernelSize: 1 }, init);
  const b = new Conv2d({ inChannels: 8, outChannels: 4, kernelSize: 3, padding: 1 }, init);
  const c = new Conv2d({ inChannels: 6, outChannels: 4, kernelSize: 1 }, init);
  assert.throws(() => new SharedInputConvs([a, b]), /must be 1x1/);
  assert.throws(() => new SharedInputConvs([a, c]), /same input/);
  [a, b, c].forEach((m) => m.dispose());
});
