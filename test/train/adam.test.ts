/**
 * The fused Adam step (src/train/adam.ts with the wasm 'AdamStep' kernel) against tfjs's own
 * AdamOptimizer on the cpu backend: parameters and both moments after several steps, the saved state
 * (getWeights) interchangeable both ways, and no tensors left behind.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '../../src/tf';
import '@tensorflow/tfjs-backend-cpu';
import { initBackend } from '../../src/backend/select';
import { ADAM_STEP } from '../../src/backend/wasm/adam';
import { createAdam } from '../../src/train/adam';
import { Rng } from '../../src/util/rng';

before(async () => {
  await initBackend('wasm');
});

const SHAPES = [[3, 3, 4, 8], [8], [10, 7], [1]];
const STEPS = 5;

function values(n: number, seed: number, scale = 1): number[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => scale * (rng.uniform(-1, 1) + rng.uniform(-1, 1)));
}

interface Result {
  params: number[][];
  weights: { name: string; values: number[] }[];
}

/** Train variables named per `tag` with fixed gradients on the current backend; read everything back. */
async function run(optimizer: tf.Optimizer, tag: string, steps = STEPS): Promise<Result> {
  // (tidy frees the initial tensors; variables outlive it)
  const vars = tf.tidy(() => SHAPES.map((s, i) => tf.variable(tf.tensor(values(tf.util.sizeFromShape(s), 10 + i), s), true, `${tag}/p${i}`)));
  for (let step = 0; step < steps; step++) {
    // Gradients of very different sizes per step, some tiny (epsilon matters) and one exactly zero.
    const grads = vars.map((v, i) => ({ name: v.name, tensor: tf.tensor(values(v.size, 100 * step + i, i === 1 ? 1e-6 : 10 ** (step - 2)), v.shape) }));
    grads[3].tensor.dispose();
    grads[3] = { name: vars[3].name, tensor: tf.zeros(vars[3].shape) };
    optimizer.applyGradients(grads);
    tf.dispose(grads.map((g) => g.tensor));
  }
  const params = vars.map((v) => Array.from(v.dataSync()));
  const saved = await optimizer.getWeights();
  const weights = saved.map((w) => ({ name: w.name, values: Array.from(w.tensor.dataSync()) }));
  saved.filter((w) => w.name === 'iter').forEach((w) => w.tensor.dispose());
  tf.dispose(vars);
  return { params, weights };
}

function assertClose(name: string, a: number[], b: number[], tol: number): void {
  assert.equal(a.length, b.length, name);
  // max |a - b| / max |b|: the error relative to the tensor's scale.
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  if (scale === 0) return assert.equal(diff, 0, `${name}: expected all zeros`);
  assert.ok(diff / scale < tol, `${name}: relative error ${(diff / scale).toExponential(2)}`);
}

test('on wasm the optimizer runs one AdamStep kernel per variable, instead of elementwise kernels', async () => {
  await tf.setBackend('wasm');
  assert.ok(tf.getKernel(ADAM_STEP, 'wasm'));
  const v = tf.tidy(() => tf.variable(tf.ones([64]), true, 'profiled/p'));
  const opt = createAdam(1e-3);
  const g = tf.fill([64], 0.5);
  const info = await tf.profile(() => opt.applyGradients([{ name: v.name, tensor: g }]));
  const kernels = info.kernelNames;
  assert.equal(kernels.filter((k) => k === ADAM_STEP).length, 1, kernels.join(' '));
  assert.ok(!kernels.includes('Sqrt') && !kernels.includes('Square'), kernels.join(' '));
  // One step of Adam from zero moments moves every parameter by lr (up to epsilon).
  for (const x of v.dataSync()) assert.ok(Math.abs(x - (1 - 1e-3)) < 1e-6, String(x));
  tf.dispose([v, g]);
  opt.dispose();
});

test('fused Adam on wasm = tfjs AdamOptimizer on cpu: parameters, moments and saved state after 5 steps', async () => {
  await tf.setBackend('cpu');
  const reference = tf.train.adam(3e-4, 0.9, 0.999, 1e-8);
  const want = await run(reference, 'cpu');
  reference.dispose();

  await tf.setBackend('wasm');
  const before = tf.memory().numTensors;
  const fused = createAdam(3e-4);
  const got = await run(fused, 'wasm');
  fused.dispose();
  assert.equal(tf.memory().numTensors, before, 'no tensors left behind');

  got.params.forEach((p, i) => assertClose(`param ${i}`, p, want.params[i], 1e-5));
  // The parameters really moved (a kernel that did nothing would fail above only if values differ).
  assert.ok(got.params[0].some((x, j) => Math.abs(x - values(got.params[0].length, 10)[j]) > 1e-4));
  assert.deepEqual(got.weights.map((w) => w.name), want.weights.map((w) => w.name.replace(/^cpu\//, 'wasm/')));
  got.weights.forEach((w, i) => assertClose(w.name, w.values, want.weights[i].values, 1e-5));
});

test('fused Adam resumes from state saved by tfjs AdamOptimizer (and the other way round)', async () => {
  // 5 steps straight vs 2 steps, save, restore into the other optimizer, 3 more.
  await tf.setBackend('wasm');
  const straight = createAdam(1e-2);
  const want = await run(straight, 'a');
  straight.dispose();

  const vars = tf.tidy(() => SHAPES.map((s, i) => tf.variable(tf.tensor(values(tf.util.sizeFromShape(s), 10 + i), s), true, `b/p${i}`)));
  const apply = (opt: tf.Optimizer, step: number) => {
    const grads = vars.map((v, i) => ({ name: v.name, tensor: tf.tensor(values(v.size, 100 * step + i, i === 1 ? 1e-6 : 10 ** (step - 2)), v.shape) }));
    grads[3].tensor.dispose();
    grads[3] = { name: vars[3].name, tensor: tf.zeros(vars[3].shape) };
    opt.applyGradients(grads);
    tf.dispose(grads.map((g) => g.tensor));
  };
  const first = tf.train.adam(1e-2, 0.9, 0.999, 1e-8);
  for (let s = 0; s < 2; s++) apply(first, s);
  const state = await first.getWeights();
  const second = createAdam(1e-2);
  await second.setWeights(state.map((w) => ({ name: w.name, tensor: w.tensor.clone() })));
  for (let s = 2; s < STEPS; s++) apply(second, s);
  vars.forEach((v, i) => assertClose(`resumed param ${i}`, Array.from(v.dataSync()), want.params[i], 1e-5));
  first.dispose();
  second.dispose();
  state.filter((w) => w.name === 'iter').forEach((w) => w.tensor.dispose());
  tf.dispose(vars);
});
