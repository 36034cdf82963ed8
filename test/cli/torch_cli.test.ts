/**
 * PyTorch files at the command line: bad .pth files get one clear line (and nothing in them runs), and
 * `train --pretrained` starts the torchvision variant from a state dict with new 5-class heads.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '../../src/tf';
import { initBackend } from '../../src/backend/select';
import { loadCheckpoint } from '../../src/checkpoint/checkpoint';
import { readStateDict } from '../../src/torch/pth';
import { cliJson, ROOT, runCli, runPython, tmpDir } from '../helpers';

let dir = '';
const FIX = path.join(ROOT, 'test', 'torch', 'fixtures');

before(() => {
  dir = tmpDir('torch-cli-');
  runPython(path.join(FIX, 'googlenet.py'), [dir]); // torchvision googlenet, 1000 classes, both formats
});

function oneLine(args: string[], pattern: RegExp): string {
  const r = runCli(args);
  assert.notEqual(r.status, 0, `${args.join(' ')} should fail`);
  const lines = r.stderr.trim().split('\n').filter((l) => l.startsWith('googlenet:'));
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  return lines[0];
}

test('import-torch refuses bad files with one clear line', () => {
  const good = path.join(dir, 'googlenet_zip.pth');
  const bytes = fs.readFileSync(path.join(dir, 'googlenet_legacy.pth'));
  const truncated = path.join(dir, 'truncated.pth');
  fs.writeFileSync(truncated, bytes.subarray(0, Math.floor(bytes.length / 2)));
  const out = path.join(dir, 'out');
  oneLine(['import-torch', '--variant', 'torchvision', '--num-classes', '1000', '--state-dict', truncated, '--out', out], /truncated/);
  // shapes that do not fit: 1000-class file into a 5-class model, torchvision file into the course variant
  oneLine(['import-torch', '--variant', 'torchvision', '--num-classes', '5', '--state-dict', good, '--out', out], /fc\.weight: checkpoint has \[1000, 1024\], model expects \[5, 1024\]/);
  oneLine(['import-torch', '--variant', 'course', '--num-classes', '1000', '--state-dict', good, '--out', out], /course/);
  oneLine(['import-torch', '--variant', 'alexnet', '--num-classes', '5', '--state-dict', good, '--out', out], /unknown variant 'alexnet'/);
  oneLine(['import-torch', '--variant', 'course', '--num-classes', '-2', '--state-dict', good, '--out', out], /--num-classes must be at least 1/);
  assert.ok(!fs.existsSync(path.join(out, 'model.json')), 'nothing written for refused files');
});

test('a .pth naming a global outside the allow-list is refused and nothing is executed', () => {
  const marker = path.join(dir, 'PWNED');
  const control = path.join(dir, 'control');
  runPython(path.join(FIX, 'malicious.py'), [dir, marker, control]);
  assert.ok(fs.existsSync(control), 'the payload is live when Python unpickles it');
  for (const f of ['evil_zip.pth', 'evil_legacy.pth']) {
    oneLine(['import-torch', '--variant', 'course', '--num-classes', '5', '--state-dict', path.join(dir, f), '--out', path.join(dir, 'evil')], /posix\.system/);
  }
  assert.ok(!fs.existsSync(marker), 'the payload ran');
});

test('train --pretrained: torchvision weights with new 5-class heads; --freeze-features keeps the features', async () => {
  const data = path.join(dir, 'data');
  for (const split of ['train', 'val']) {
    for (const c of ['daisy', 'dandelion', 'roses', 'sunflowers', 'tulips']) {
      const src = path.join(ROOT, 'data_set', 'flower_data', split, c);
      fs.mkdirSync(path.join(data, split, c), { recursive: true });
      for (const f of fs.readdirSync(src).sort().slice(0, 2)) fs.copyFileSync(path.join(src, f), path.join(data, split, c, f));
    }
  }
  const run = path.join(dir, 'tl');
  const s = cliJson<{ epochsCompleted: number }>([
    'train', '--variant', 'torchvision', '--pretrained', path.join(dir, 'googlenet_legacy.pth'), '--freeze-features',
    '--data', data, '--out', run, '--epochs', '1', '--image-size', '64', '--batch-size', '5', '--backend', 'wasm',
  ]);
  assert.equal(s.epochsCompleted, 1);
  await initBackend('wasm');
  const ck = await loadCheckpoint(run);
  const sd = readStateDict(fs.readFileSync(path.join(dir, 'googlenet_legacy.pth')));
  assert.equal(ck.metadata.numClasses, 5);
  assert.equal(ck.metadata.transformInput, true);
  const ours = ck.model.stateDict();
  assert.deepEqual(ours.get('fc.weight')!.shape, [1024, 5]);
  // frozen features: identical to the file (HWIO here, OIHW there: compare one conv via a transpose)
  const src = sd.get('inception4a.branch2.1.conv.weight')!;
  const mine = tf.tidy(() => ours.get('inception4a.branch2.1.conv.weight')!.transpose([3, 2, 0, 1]).dataSync());
  assert.deepEqual(Array.from(mine), Array.from(src.data));
  const bn = ours.get('conv1.bn.running_mean')!.dataSync();
  assert.deepEqual(Array.from(bn), Array.from(sd.get('conv1.bn.running_mean')!.data), 'BN statistics of frozen features unchanged');
  ck.model.dispose();
});
