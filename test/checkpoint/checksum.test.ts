/**
 * Weight files that know they are damaged: model.json records each file's sha256, loading checks it,
 * and the message names the damaged file and the run's other checkpoint that is still there. Older
 * checkpoints (no sha256) still load. The CLI says it in one line, with a non-zero exit.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import * as tf from '../../src/tf';
import { CheckpointError, loadCheckpoint } from '../../src/checkpoint/checkpoint';
import { ROOT, runCli, tmpDir } from '../helpers';
import { makeRun } from '../fuzz/targets/checkpoint';

let dir = '';
let run = '';
const fresh = (name: string) => {
  const d = path.join(dir, name);
  fs.cpSync(run, d, { recursive: true });
  return d;
};
const flip = (file: string, at: number) => {
  const b = fs.readFileSync(file);
  b[at] ^= 0x01;
  fs.writeFileSync(file, b);
};

before(async () => {
  await tf.setBackend('cpu');
  dir = tmpDir('checksum-');
  run = path.join(dir, 'run');
  await makeRun(run);
});

after(() => fs.rmSync(dir, { recursive: true, force: true }));

async function rejects(p: Promise<unknown>, ...patterns: (RegExp | string)[]): Promise<string> {
  let message = '';
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof CheckpointError, `expected a CheckpointError, got ${String(e)}`);
    message = e.message;
    assert.ok(!message.includes('\n'), 'one line');
    for (const pat of patterns) {
      if (typeof pat === 'string') assert.ok(message.includes(pat), `"${message}" lacks "${pat}"`);
      else assert.match(message, pat);
    }
    return true;
  });
  return message;
}

test('model.json records a sha256 for every weight file', () => {
  for (const f of ['model.json', 'last/model.json']) {
    const json = JSON.parse(fs.readFileSync(path.join(run, f), 'utf8'));
    for (const g of [...json.weightsManifest, ...(json.extra ?? [])]) {
      assert.equal(g.sha256.length, g.paths.length, f);
      for (const [i, p] of g.paths.entries()) {
        const want = require('crypto').createHash('sha256').update(fs.readFileSync(path.join(run, path.dirname(f), p))).digest('hex');
        assert.equal(g.sha256[i], want, `${f}: ${p}`);
      }
    }
  }
});

test('a flipped byte in the best weights is refused, naming the file and RUN/last', async () => {
  const d = fresh('flip-best');
  const shard = path.join(d, 'weights-best.bin');
  flip(shard, 1_000_003);
  await rejects(loadCheckpoint(d), `checkpoint ${d} is damaged: ${shard} fails its checksum`, /truncated or altered since it was written/, `the last epoch's state ${path.join(d, 'last')} is still there`);
});

test('a truncated shard is refused, naming the file', async () => {
  const d = fresh('cut-best');
  const shard = path.join(d, 'weights-best.bin');
  fs.truncateSync(shard, fs.statSync(shard).size - 4096);
  await rejects(loadCheckpoint(d), `${shard} fails its checksum`, /\d+ bytes\)/);
});

test("a damaged RUN/last (weights or optimizer state) is refused, naming the file and the best checkpoint", async () => {
  for (const f of ['weights-last.bin', 'extra-last.bin']) {
    const d = fresh(`flip-${f}`);
    const shard = path.join(d, 'last', f);
    flip(shard, 20);
    await rejects(loadCheckpoint(path.join(d, 'last'), { withExtra: true }), `${shard} fails its checksum`, `the run's best checkpoint ${d} is still there`);
  }
});

test('an older checkpoint without checksums still loads, with the same weights', async () => {
  const d = fresh('old');
  const file = path.join(d, 'model.json');
  const json = JSON.parse(fs.readFileSync(file, 'utf8'));
  for (const g of json.weightsManifest) delete g.sha256;
  delete json.manifestSha256;
  fs.writeFileSync(file, JSON.stringify(json));
  const [a, b] = [await loadCheckpoint(d), await loadCheckpoint(run)];
  try {
    const sa = [...a.model.stateDict()];
    const sb = new Map(b.model.stateDict());
    assert.equal(sa.length, sb.size);
    for (const [name, t] of sa) assert.deepEqual(t.dataSync(), sb.get(name)!.dataSync(), name);
  } finally {
    a.model.dispose();
    b.model.dispose();
  }
});

test('the CLI says it in one line with a non-zero exit, no stack trace', () => {
  const d = fresh('cli');
  const shard = path.join(d, 'weights-best.bin');
  flip(shard, 123_457);
  const photo = path.join(ROOT, 'data_set', 'flower_data', 'val', 'daisy');
  const image = path.join(photo, fs.readdirSync(photo)[0]);
  const r = runCli(['predict', '--checkpoint', d, image, '--backend', 'cpu']);
  assert.notEqual(r.status, 0);
  const lines = r.stderr.trim().split('\n').filter((l) => l.startsWith('googlenet: '));
  assert.equal(lines.length, 1, r.stderr);
  assert.ok(lines[0].includes(`${shard} fails its checksum`), lines[0]);
  assert.ok(!/\n\s+at /.test(r.stderr), 'no stack trace');
  assert.equal(r.stdout, '');
});

test('a weight renamed in model.json (the fuzzer turned optimizer/0 into optKmizer/0) is refused, naming model.json', async () => {
  const d = fresh('renamed');
  const file = path.join(d, 'last', 'model.json');
  const text = fs.readFileSync(file, 'utf8');
  assert.ok(text.includes('"optimizer/0"'), 'the optimizer state is saved under optimizer/N');
  fs.writeFileSync(file, text.replace('"optimizer/0"', '"optKmizer/0"'));
  await rejects(loadCheckpoint(path.join(d, 'last'), { withExtra: true }), `${file}`, 'do not match the checksum', 'best checkpoint');
  // The same change in the weights of the best checkpoint, and a changed shape.
  const best = path.join(d, 'model.json');
  const json = JSON.parse(fs.readFileSync(best, 'utf8'));
  json.weightsManifest[0].weights[0].shape = [...json.weightsManifest[0].weights[0].shape].reverse();
  fs.writeFileSync(best, JSON.stringify(json));
  await rejects(loadCheckpoint(d), `${best}`, 'do not match the checksum');
  // A checkpoint written before the checksum existed still loads.
  delete json.manifestSha256;
  json.weightsManifest[0].weights[0].shape = [...json.weightsManifest[0].weights[0].shape].reverse();
  fs.writeFileSync(best, JSON.stringify(json));
  const ck = await loadCheckpoint(d);
  ck.model.dispose();
});
