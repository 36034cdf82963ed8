/**
 * The main job from a fresh clone, as a user runs it: train on 2 classes of the bundled photos at 64 px
 * for 2 epochs, evaluate on other photos, predict, resume, Ctrl-C, kill -9, and bad input.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { CLI, cliJson, ROOT, runCli, tmpDir } from '../helpers';

const SAMPLE = path.join(ROOT, 'data_set', 'flower_data');
const CLASSES = ['daisy', 'roses'];
let work = '';
let data = '';
let other = '';
const COMMON = ['--image-size', '64', '--batch-size', '8', '--backend', 'wasm'];

/** A 2-class split from the bundled sample: n train images per class, the val photos as val. */
function makeSplit(dir: string, nTrain: number): void {
  for (const split of ['train', 'val']) {
    for (const c of CLASSES) {
      const src = path.join(SAMPLE, split, c);
      const dst = path.join(dir, split, c);
      fs.mkdirSync(dst, { recursive: true });
      const files = fs.readdirSync(src).sort();
      for (const f of split === 'train' ? files.slice(0, nTrain) : files) fs.copyFileSync(path.join(src, f), path.join(dst, f));
    }
  }
}

before(() => {
  work = tmpDir('train-cli-');
  data = path.join(work, 'data');
  makeSplit(data, 16);
  // "other photos" for evaluate: train images the run never saw (the sample's train images 16..39)
  other = path.join(work, 'other');
  for (const c of CLASSES) {
    fs.mkdirSync(path.join(other, c), { recursive: true });
    for (const f of fs.readdirSync(path.join(SAMPLE, 'train', c)).sort().slice(16, 28)) fs.copyFileSync(path.join(SAMPLE, 'train', c, f), path.join(other, c, f));
  }
});

type TrainSummary = { epochsCompleted: number; bestValAccuracy: number; stoppedBy: string; history: { epoch: number }[] };

test('train 2 epochs at 64 px writes checkpoint, metadata, class_indices.json and two metric rows; evaluate and predict read it', () => {
  const run = path.join(work, 'run');
  const s = cliJson<TrainSummary>(['train', '--data', data, '--out', run, '--epochs', '2', ...COMMON]);
  assert.equal(s.epochsCompleted, 2);
  assert.equal(s.stoppedBy, 'done');
  for (const f of ['model.json', 'metadata.json', 'class_indices.json', 'metrics.jsonl', 'last/model.json']) {
    assert.ok(fs.existsSync(path.join(run, f)), `${f} missing`);
  }
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(run, 'class_indices.json'), 'utf8')), { 0: 'daisy', 1: 'roses' });
  const meta = JSON.parse(fs.readFileSync(path.join(run, 'metadata.json'), 'utf8'));
  assert.deepEqual(meta.classNames, CLASSES);
  assert.equal(meta.imageSize, 64);
  assert.equal(meta.variant, 'course');
  assert.equal(meta.config.lr, 3e-4);
  const rows = fs.readFileSync(path.join(run, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(rows.length, 2);
  rows.forEach((r, i) => {
    assert.equal(r.epoch, i + 1);
    for (const k of ['trainLoss', 'valLoss', 'valAccuracy', 'seconds', 'imagesPerSec']) assert.ok(Number.isFinite(r[k]), `${k} = ${r[k]}`);
  });

  const ev = cliJson<{ accuracy: number; count: number; confusion: number[][]; classNames: string[]; perClass: Record<string, number> }>([
    'evaluate', '--checkpoint', run, '--data', other, '--backend', 'wasm',
  ]);
  assert.equal(ev.count, 24);
  assert.deepEqual(ev.classNames, CLASSES);
  const total = ev.confusion.flat().reduce((a, b) => a + b, 0);
  assert.equal(total, ev.count, 'confusion matrix sums to the count');
  const correct = ev.confusion.reduce((a, row, i) => a + row[i], 0);
  assert.ok(Math.abs(ev.accuracy - correct / ev.count) < 1e-12, 'accuracy agrees with the confusion matrix');
  ev.confusion.forEach((row) => assert.equal(row.reduce((a, b) => a + b, 0), 12));

  const img = path.join(other, 'roses', fs.readdirSync(path.join(other, 'roses'))[0]);
  const pr = cliJson<{ image: string; predictions: { probability: number; className: string }[] }[]>(['predict', '--checkpoint', run, img, '--backend', 'wasm']);
  assert.equal(pr.length, 1);
  assert.equal(pr[0].predictions.length, 2);
  const sum = pr[0].predictions.reduce((a, p) => a + p.probability, 0);
  assert.ok(Math.abs(sum - 1) < 1e-5, `probabilities sum to ${sum}`);

  // --resume continues from the saved epoch
  const r = cliJson<TrainSummary>(['train', '--data', data, '--out', run, '--epochs', '3', '--resume', ...COMMON]);
  assert.equal(r.epochsCompleted, 3);
  assert.deepEqual(r.history.map((h) => h.epoch), [3]);
  const rows3 = fs.readFileSync(path.join(run, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).epoch);
  assert.deepEqual(rows3, [1, 2, 3]);

  // a run killed before its first RUN/last save resumes from its best checkpoint
  const early = path.join(work, 'early');
  fs.cpSync(run, early, { recursive: true });
  fs.rmSync(path.join(early, 'last'), { recursive: true });
  const e = runCli(['train', '--data', data, '--out', early, '--epochs', '4', '--resume', ...COMMON]);
  assert.equal(e.status, 0, e.stderr);
  assert.match(e.stderr, /from its best checkpoint with a fresh optimizer/);
  assert.ok(fs.existsSync(path.join(early, 'last', 'model.json')));

  // a checkpoint that does not match is refused, naming the mismatch
  const three = path.join(work, 'three');
  for (const c of ['daisy', 'roses', 'tulips']) {
    fs.mkdirSync(path.join(three, c), { recursive: true });
    const f = fs.readdirSync(path.join(SAMPLE, 'val', c))[0];
    fs.copyFileSync(path.join(SAMPLE, 'val', c, f), path.join(three, c, f));
  }
  const bad = runCli(['evaluate', '--checkpoint', run, '--data', three, '--backend', 'wasm']);
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /trained on classes \[daisy, roses\] but the data has \[daisy, roses, tulips\]/);
  assert.doesNotMatch(bad.stderr, /\n\s+at /, 'no stack trace');
  const badSize = runCli(['train', '--data', data, '--out', run, '--epochs', '4', '--resume', '--image-size', '96', '--backend', 'wasm']);
  assert.notEqual(badSize.status, 0);
  assert.match(badSize.stderr, /trained at 64 px, but --image-size 96/);
});

function oneLineError(args: string[], pattern: RegExp): void {
  const r = runCli(args);
  assert.notEqual(r.status, 0, `${args.join(' ')} should fail`);
  const lines = r.stderr.trim().split('\n').filter((l) => l.startsWith('googlenet:'));
  assert.equal(lines.length, 1, `one error line, got: ${r.stderr}`);
  assert.match(lines[0], pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
}

test('bad input gets one clear line and a non-zero exit', () => {
  oneLineError(['train', '--data', data, '--out', path.join(work, 'neg'), '--epochs', '-3'], /--epochs must be at least 1, got -3/);
  oneLineError(['train', '--data', path.join(work, 'nowhere'), '--out', path.join(work, 'x')], /No such folder/);
  oneLineError(['predict', '--checkpoint', path.join(work, 'run'), path.join(work, 'missing.jpg'), '--backend', 'wasm'], /missing\.jpg does not exist/);
  oneLineError(['predict', '--checkpoint', path.join(work, 'run'), other, '--backend', 'wasm'], /is a directory, not an image/);
  const junk = path.join(work, 'junk.jpg');
  fs.writeFileSync(junk, 'this is not a jpeg');
  oneLineError(['predict', '--checkpoint', path.join(work, 'run'), junk, '--backend', 'wasm'], /junk\.jpg is not a readable image/);
  oneLineError(['predict', '--checkpoint', path.join(work, 'no-run'), junk, '--backend', 'wasm'], /checkpoint folder .* does not exist/);
  oneLineError(['summary', '--variant', 'resnet'], /unknown variant 'resnet'/);
  oneLineError(['summary', '--num-classes', '0'], /--num-classes must be at least 1/);
  // NaN loss: stops with a message, no stack trace
  oneLineError(['train', '--data', data, '--out', path.join(work, 'nan'), '--epochs', '1', '--lr', '1e12', ...COMMON], /the loss became (NaN|Infinity|-Infinity)/);
});

test('a good image next to a bad one is still predicted; the exit code says one failed', () => {
  const img = path.join(other, 'daisy', fs.readdirSync(path.join(other, 'daisy'))[0]);
  const r = runCli(['predict', '--checkpoint', path.join(work, 'run'), img, path.join(work, 'missing.jpg'), '--backend', 'wasm', '--json']);
  assert.equal(r.status, 1);
  const out = JSON.parse(r.stdout);
  assert.equal(out.length, 1);
  assert.equal(out[0].image, img);
  assert.match(r.stderr, /missing\.jpg does not exist/);
});

function waitFor(child: ReturnType<typeof spawn>, pattern: RegExp, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}: ${buf}`)), timeoutMs);
    child.stderr!.on('data', (d: Buffer) => {
      buf += d.toString();
      if (pattern.test(buf)) {
        clearTimeout(timer);
        resolve(buf);
      }
    });
  });
}

test('Ctrl-C mid-epoch exits within 15 s, no stack trace, and leaves a loadable checkpoint', async () => {
  const run = path.join(work, 'sigint');
  const child = spawn(process.execPath, [CLI, 'train', '--data', data, '--out', run, '--epochs', '50', ...COMMON], { cwd: ROOT });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  await waitFor(child, /train epoch\[2\]|\[epoch 1\]/, 240_000);
  const t0 = Date.now();
  child.kill('SIGINT');
  const code: number = await new Promise((resolve) => child.on('exit', (c) => resolve(c ?? -1)));
  const seconds = (Date.now() - t0) / 1000;
  assert.ok(seconds < 15, `exited ${seconds} s after Ctrl-C`);
  assert.equal(code, 130);
  assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
  assert.match(stderr, /continue with --resume/);
  const img = path.join(other, 'daisy', fs.readdirSync(path.join(other, 'daisy'))[0]);
  for (const ck of [run, path.join(run, 'last')]) {
    const p = cliJson<unknown[]>(['predict', '--checkpoint', ck, img, '--backend', 'wasm']);
    assert.equal(p.length, 1, `${ck} loads`);
  }
});

test('kill -9 at any moment never leaves a broken checkpoint', async () => {
  const run = path.join(work, 'kill9');
  const img = path.join(other, 'daisy', fs.readdirSync(path.join(other, 'daisy'))[0]);
  // Tiny epochs so that saves happen often; kill at several points during them.
  const tiny = path.join(work, 'tiny');
  makeSplit(tiny, 4);
  let saved = 0;
  // Each run is killed at a different moment after its first save, while it trains and saves more
  // (an epoch of this tiny split is about a second, a save a few hundred milliseconds).
  for (const delay of [0, 350, 700, 1050, 1400]) {
    const out = `${run}-${delay}`;
    const child = spawn(process.execPath, [CLI, 'train', '--data', tiny, '--out', out, '--epochs', '1000', ...COMMON], { cwd: ROOT });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    await waitFor(child, /\[epoch 1\]/, 240_000);
    await new Promise((r) => setTimeout(r, delay));
    child.kill('SIGKILL');
    await exited;
    for (const ck of [out, path.join(out, 'last')]) {
      if (!fs.existsSync(path.join(ck, 'model.json'))) continue;
      saved++;
      const p = runCli(['predict', '--checkpoint', ck, img, '--backend', 'wasm', '--json']);
      assert.equal(p.status, 0, `after kill -9 at ${delay} ms, ${ck} does not load: ${p.stderr}`);
    }
  }
  assert.ok(saved >= 5, `checkpoints were written before the kills (${saved})`);
});
