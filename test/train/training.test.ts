/** The training step: it learns, and training, evaluation and prediction leak no tensors. */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '../../src/tf';
import { initBackend } from '../../src/backend/select';
import { createGoogLeNet } from '../../src/model/googlenet';
import { tensorSource } from '../../src/train/batches';
import { DEFAULT_TRAIN_CONFIG } from '../../src/train/config';
import { evaluate } from '../../src/train/evaluate';
import { AUX_LOSS_WEIGHT, crossEntropy, googlenetLoss } from '../../src/train/loss';
import { predictImages } from '../../src/train/predict';
import { trainModel } from '../../src/train/trainer';
import { loadCheckpoint } from '../../src/checkpoint/checkpoint';
import { ROOT, tmpDir } from '../helpers';

before(async () => {
  await initBackend('wasm');
});

test('cross-entropy matches -log softmax; total loss = main + 0.3 (aux1 + aux2)', () => {
  const logits = tf.tensor2d([[2, 0, -1], [0.5, 0.5, 3]]);
  const labels = tf.tensor1d([0, 2], 'int32');
  const ce = crossEntropy(logits, labels).dataSync()[0];
  const ref = -(Math.log(Math.exp(2) / (Math.exp(2) + 1 + Math.exp(-1))) + Math.log(Math.exp(3) / (2 * Math.exp(0.5) + Math.exp(3)))) / 2;
  assert.ok(Math.abs(ce - ref) < 1e-6);
  const a1 = tf.tensor2d([[0, 0, 0], [0, 0, 0]]);
  const parts = googlenetLoss({ logits, aux1: a1, aux2: a1 }, labels);
  assert.equal(AUX_LOSS_WEIGHT, 0.3);
  assert.ok(Math.abs(parts.total.dataSync()[0] - (ref + 0.3 * 2 * Math.log(3))) < 1e-5);
  tf.dispose([logits, labels, a1, parts.total, parts.main, parts.aux1!, parts.aux2!]);
});

test('a few dozen steps on a tiny fixed batch drive the loss down (torchvision variant, the full training loop)', async () => {
  const model = createGoogLeNet({ variant: 'torchvision', numClasses: 2, seed: 3 });
  const x = tf.randomUniform([4, 64, 64, 3], -1, 1, 'float32', 7) as tf.Tensor4D;
  const y = tf.tensor1d([0, 1, 0, 1], 'int32');
  const losses: number[] = [];
  const out = tmpDir('learns-');
  await trainModel({
    model,
    train: tensorSource(x, y, 4),
    val: tensorSource(x, y, 4),
    config: { ...DEFAULT_TRAIN_CONFIG, variant: 'torchvision', epochs: 30, batchSize: 4, imageSize: 64, lr: 1e-3 },
    classNames: ['a', 'b'],
    normalization: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
    outDir: out,
    callbacks: { onBatchEnd: (b) => void losses.push(b.loss) },
  });
  const first = losses.slice(0, 3).reduce((a, b) => a + b) / 3;
  const last = losses.slice(-5).reduce((a, b) => a + b) / 5;
  assert.ok(last < 0.5 * first, `loss ${first.toFixed(3)} -> ${last.toFixed(3)}`);
  tf.dispose([x, y]);
  model.dispose();
  fs.rmSync(out, { recursive: true, force: true });
});

test('the course variant learns a fixed batch too (fixed dropout masks; with fresh masks it is as slow as in PyTorch)', () => {
  const model = createGoogLeNet({ variant: 'course', numClasses: 2, seed: 1 });
  const x = tf.randomUniform([4, 64, 64, 3], -1, 1, 'float32', 3) as tf.Tensor4D;
  const y = tf.tensor1d([0, 1, 0, 1], 'int32');
  const vars = model.namedParameters().map(([, v]) => v);
  const opt = tf.train.adam(1e-3, 0.9, 0.999, 1e-8);
  const losses: number[] = [];
  for (let i = 0; i < 12; i++) {
    const l = opt.minimize(() => googlenetLoss(model.forward(x, { training: true, nextSeed: () => 5 }), y).total, true, vars)!;
    losses.push(l.dataSync()[0]);
    l.dispose();
  }
  assert.ok(losses[losses.length - 1] < 0.5 * losses[0], `loss ${losses.map((l) => l.toFixed(3)).join(' ')}`);
  opt.dispose();
  tf.dispose([x, y]);
  model.dispose();
});

test('no leaks: the tensor count is the same before and after a training step, an evaluation pass and a prediction', async () => {
  const model = createGoogLeNet({ variant: 'torchvision', numClasses: 2, seed: 1 }); // BN: running stats updated too
  const x = tf.randomUniform([4, 64, 64, 3], -1, 1) as tf.Tensor4D;
  const y = tf.tensor1d([0, 1, 1, 0], 'int32');
  const out = tmpDir('leaks-');
  const cfg = { ...DEFAULT_TRAIN_CONFIG, epochs: 1, batchSize: 2, imageSize: 64 };
  const norm = { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] } as { mean: [number, number, number]; std: [number, number, number] };
  // warm-up (kernels, the optimizer's lazily made moment variables live across steps by design)
  await trainModel({ model, train: tensorSource(x, y, 2), val: tensorSource(x, y, 2), config: cfg, classNames: ['a', 'b'], normalization: norm, outDir: out });
  const before = tf.memory().numTensors;
  await trainModel({ model, train: tensorSource(x, y, 2), val: tensorSource(x, y, 2), config: cfg, classNames: ['a', 'b'], normalization: norm, outDir: path.join(out, 'b') });
  assert.equal(tf.memory().numTensors, before, 'training');
  await evaluate(model, tensorSource(x, y, 3));
  assert.equal(tf.memory().numTensors, before, 'evaluation');
  const ck = await loadCheckpoint(out, { auxLogits: false });
  const img = path.join(ROOT, 'data_set', 'flower_data', 'val', 'daisy');
  const file = path.join(img, fs.readdirSync(img)[0]);
  const n0 = tf.memory().numTensors;
  const r = await predictImages(ck.model, { ...ck.metadata, imageSize: 64 }, [file, file], 2);
  assert.equal(r.results.length, 2);
  assert.equal(tf.memory().numTensors, n0, 'prediction');
  ck.model.dispose();
  tf.dispose([x, y]);
  model.dispose();
  fs.rmSync(out, { recursive: true, force: true });
});
