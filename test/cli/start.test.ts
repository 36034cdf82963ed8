/**
 * `npm start` (scripts/start.js), shortened to one epoch: every step runs, the evaluation prints the
 * accuracy, the loss beside uniform guessing's and a confusion matrix with the class names in full,
 * and the prediction gives probabilities. (Its full 15 epochs are measured, not tested: README.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { ROOT, tmpDir } from '../helpers';

const START = path.join(ROOT, 'scripts', 'start.js');

test('npm start runs train, evaluate and predict on the bundled sample', () => {
  const out = path.join(tmpDir('start-'), 'run');
  const r = spawnSync(process.execPath, [START, '--epochs', '1', '--seed', '3', '--out', out], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, GOOGLENET_BACKEND: 'wasm' } });
  const all = r.stdout + r.stderr;
  assert.equal(r.status, 0, all.slice(-2000));
  assert.match(all, /--init kaiming --lr-schedule cosine --seed 3/);
  assert.match(all, /accuracy \d+\.\d\d% on 50 images/);
  assert.match(all, /mean cross-entropy \d\.\d{3} \(uniform guessing: 1\.609\)/);
  assert.match(all, /true \\ predicted +daisy +dandelion +roses +sunflowers +tulips +accuracy/);
  assert.match(all, /daisy +\d+\.\d\d% +\(class 0\)|dandelion +\d+\.\d\d%|roses +\d+\.\d\d%|sunflowers +\d+\.\d\d%|tulips +\d+\.\d\d%/);
  for (const f of ['model.json', 'metadata.json', 'class_indices.json', 'metrics.jsonl']) assert.ok(fs.existsSync(path.join(out, f)), f);
  const meta = JSON.parse(fs.readFileSync(path.join(out, 'metadata.json'), 'utf8')) as { imageSize: number; config: { init: string; lrSchedule: string } };
  assert.equal(meta.imageSize, 64);
  assert.equal(meta.config.init, 'kaiming');
  assert.equal(meta.config.lrSchedule, 'cosine');
});

test('npm start refuses a bad option with one line', () => {
  const r = spawnSync(process.execPath, [START, '--seed', 'x'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /^npm start: --seed takes a whole number, got 'x'\nusage: /);
});
