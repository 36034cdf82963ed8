/**
 * The `kaiming` initialisation (He et al. 2015) that `npm start` uses: conv weights N(0, 2 / fan_out),
 * linear weights N(0, 0.01), biases 0; and the reason for it: the photo still moves the logits after
 * GoogLeNet's 20-odd layers, where PyTorch's default initialisation (the notes') nearly erases it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '../../src/tf';
import { createGoogLeNet } from '../../src/model/googlenet';

function stats(t: tf.Tensor): { mean: number; std: number } {
  const v = t.dataSync();
  let s = 0;
  for (const x of v) s += x;
  const mean = s / v.length;
  let q = 0;
  for (const x of v) q += (x - mean) ** 2;
  return { mean, std: Math.sqrt(q / v.length) };
}

test('kaiming: conv weights have std sqrt(2 / fan_out), linear weights 0.01, biases 0', async () => {
  await tf.setBackend('cpu');
  const model = createGoogLeNet({ variant: 'course', numClasses: 5, auxLogits: true, seed: 3, init: 'kaiming' });
  const params = new Map(model.namedParameters());
  for (const [name, shape] of [
    ['conv1.conv.weight', [7, 7, 3, 64]],
    ['inception4a.branch2.1.conv.weight', [3, 3, 96, 208]],
    ['inception5b.branch1.conv.weight', [1, 1, 832, 384]],
  ] as const) {
    const w = params.get(name)!;
    assert.deepEqual(w.shape, shape, name);
    const { mean, std } = stats(w);
    const want = Math.sqrt(2 / (shape[0] * shape[1] * shape[3]));
    assert.ok(Math.abs(std / want - 1) < 0.05, `${name}: std ${std} vs ${want}`);
    assert.ok(Math.abs(mean) < want * 0.05, `${name}: mean ${mean}`);
  }
  for (const name of ['fc.weight', 'aux1.fc1.weight', 'aux2.fc2.weight']) {
    const { std } = stats(params.get(name)!);
    assert.ok(Math.abs(std / 0.01 - 1) < 0.05, `${name}: std ${std}`);
  }
  for (const [name, p] of params) {
    if (name.endsWith('.bias')) assert.equal(tf.abs(p).max().dataSync()[0], 0, `${name} is zero`);
  }
  model.dispose();
});

test('after kaiming init the photo moves the logits far more than after PyTorch default init', async () => {
  await tf.setBackend('cpu');
  const x = tf.randomUniform([4, 64, 64, 3], -1, 1, 'float32', 7) as tf.Tensor4D;
  const spread = (init: 'kaiming' | 'pytorch-default'): number => {
    const model = createGoogLeNet({ variant: 'course', numClasses: 5, auxLogits: false, seed: 3, init });
    const s = tf.tidy(() => {
      const logits = model.predictLogits(x);
      return tf.moments(logits, 0).variance.sqrt().mean().dataSync()[0]; // std over the 4 inputs, per class
    });
    model.dispose();
    return s;
  };
  const kaiming = spread('kaiming');
  const torchDefault = spread('pytorch-default');
  assert.ok(kaiming > 1000 * torchDefault, `logit spread over inputs: kaiming ${kaiming}, PyTorch default ${torchDefault}`);
  x.dispose();
});
