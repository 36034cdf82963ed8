/**
 * Gradient norms per parameter and per stage: equal to a direct tf.variableGrads computation (norms taken
 * here in plain JS); with aux weight 0 the aux heads get exactly zero gradient and the stages above 4d
 * get what they get with 0.3; the model is left unchanged; no leaks.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '../../src/tf';
import { initBackend } from '../../src/backend/select';
import { createGoogLeNet } from '../../src/model/googlenet';
import { googlenetLoss } from '../../src/train/loss';
import { combinedNorm, gradientNorms, stageOf } from '../../src/train/gradient_norms';
import { Rng } from '../../src/util/rng';

before(async () => {
  await initBackend('wasm');
});

function batch(seed: number): { x: tf.Tensor4D; y: tf.Tensor1D } {
  return { x: tf.randomUniform([3, 64, 64, 3], -1, 1, 'float32', seed) as tf.Tensor4D, y: tf.tensor1d([0, 2, 1], 'int32') };
}

const close = (a: number, b: number, rel = 1e-5) => Math.abs(a - b) <= rel * Math.max(Math.abs(a), Math.abs(b), 1e-12);

test('equal to a direct tf.variableGrads of main + 0.3 (aux1 + aux2) with the same dropout masks', () => {
  const model = createGoogLeNet({ variant: 'course', numClasses: 3, seed: 5 });
  const { x, y } = batch(1);
  const got = gradientNorms(model, x, y, { auxWeight: 0.3, seed: 42 });

  const rng = new Rng(42);
  const named = model.namedParameters();
  const { value, grads } = tf.variableGrads(
    () => googlenetLoss(model.forward(x, { training: true, nextSeed: () => rng.seed() }), y, 0.3).total,
    named.map(([, v]) => v),
  );
  const want: Record<string, number> = {};
  const stageSq: Record<string, number> = {};
  for (const [name, v] of named) {
    const g = grads[v.name].dataSync();
    let sq = 0;
    for (let i = 0; i < g.length; i++) sq += g[i] * g[i];
    want[name] = Math.sqrt(sq);
    stageSq[name.split('.')[0]] = (stageSq[name.split('.')[0]] ?? 0) + sq;
  }
  assert.ok(close(got.loss, value.dataSync()[0], 1e-6), `loss ${got.loss} vs ${value.dataSync()[0]}`);
  assert.deepEqual(Object.keys(got.parameters), named.map(([n]) => n));
  for (const [name] of named) assert.ok(close(got.parameters[name], want[name]), `${name}: ${got.parameters[name]} vs ${want[name]}`);
  assert.deepEqual(Object.keys(got.stages), [
    'conv1', 'conv2', 'conv3', 'inception3a', 'inception3b', 'inception4a', 'inception4b', 'inception4c', 'inception4d',
    'inception4e', 'inception5a', 'inception5b', 'fc', 'aux1', 'aux2',
  ]);
  for (const [s, sq] of Object.entries(stageSq)) assert.ok(close(got.stages[s], Math.sqrt(sq)), `${s}: ${got.stages[s]} vs ${Math.sqrt(sq)}`);
  assert.ok(close(combinedNorm(got.stages, ['conv1', 'conv2']), Math.hypot(got.stages.conv1, got.stages.conv2), 1e-12));
  assert.ok(Object.values(got.stages).every((v) => v > 0), 'every stage gets some gradient');
  assert.ok(got.mainLoss > 0 && got.mainLoss < got.loss, `main ${got.mainLoss} < total ${got.loss}`);
  tf.dispose([x, y, value, ...Object.values(grads)]);
  model.dispose();
});

test('aux weight 0: the aux heads get zero gradient, stages above 4d are unchanged, those below change', () => {
  const model = createGoogLeNet({ variant: 'course', numClasses: 3, seed: 6 });
  const { x, y } = batch(2);
  const withAux = gradientNorms(model, x, y, { auxWeight: 0.3, seed: 7 });
  const without = gradientNorms(model, x, y, { auxWeight: 0, seed: 7 });
  const auxParams = Object.keys(without.parameters).filter((n) => /^aux[12]\./.test(n));
  assert.equal(auxParams.length, 2 * 6); // per head: conv weight and bias, fc1 and fc2 weights and biases
  for (const n of auxParams) {
    assert.equal(without.parameters[n], 0, n);
    assert.ok(withAux.parameters[n] > 0, n);
  }
  assert.equal(without.loss, without.mainLoss);
  assert.ok(close(without.mainLoss, withAux.mainLoss, 1e-6), 'the same masks: the same main loss');
  for (const s of ['inception4e', 'inception5a', 'inception5b', 'fc']) assert.ok(close(without.stages[s], withAux.stages[s], 1e-6), `${s} is above both aux heads`);
  for (const s of ['conv1', 'conv2', 'conv3', 'inception3a', 'inception4a', 'inception4d']) assert.ok(!close(without.stages[s], withAux.stages[s], 1e-3), `${s} is below an aux head`);
  tf.dispose([x, y]);
  model.dispose();
});

test('a model without aux heads has no aux stages; the seed picks the dropout masks', () => {
  const model = createGoogLeNet({ variant: 'course', numClasses: 3, auxLogits: false, seed: 6 });
  const { x, y } = batch(3);
  const a = gradientNorms(model, x, y, { auxWeight: 0.3, seed: 1 });
  const b = gradientNorms(model, x, y, { auxWeight: 0.3, seed: 1 });
  const c = gradientNorms(model, x, y, { auxWeight: 0.3, seed: 2 });
  assert.ok(!('aux1' in a.stages) && !('aux2' in a.stages));
  assert.equal(a.loss, a.mainLoss);
  assert.deepEqual(a.stages, b.stages);
  assert.notEqual(a.stages.fc, c.stages.fc);
  assert.equal(stageOf('inception4a.branch2.1.conv.weight'), 'inception4a');
  tf.dispose([x, y]);
  model.dispose();
});

test('nothing changes in the model (BatchNorm statistics included) and no tensor leaks', () => {
  const model = createGoogLeNet({ variant: 'torchvision', numClasses: 3, seed: 8 });
  const { x, y } = batch(4);
  const snapshot = (): number[] => [...model.stateDict().values()].map((v) => tf.tidy(() => tf.sum(tf.abs(v)).dataSync()[0]));
  const before = snapshot();
  const tensors = tf.memory().numTensors;
  const r = gradientNorms(model, x, y, { auxWeight: 0.3, seed: 3 });
  assert.equal(tf.memory().numTensors, tensors);
  assert.deepEqual(snapshot(), before);
  assert.ok(r.stages.conv1 > 0 && Number.isFinite(r.stages.conv1));
  assert.ok(model.namedBuffers().some(([n]) => n.endsWith('running_mean')), 'the snapshot covers the running statistics');
  tf.dispose([x, y]);
  model.dispose();
});
