import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '../../src/tf';
import '@tensorflow/tfjs-backend-cpu';
import { scanImageFolder } from '../../src/data/image_folder';
import { DataLoader } from '../../src/data/loader';
import { evalTransform, trainTransform } from '../../src/data/transforms';
import { tmpDir } from '../helpers';
import { makeFolder } from './fixtures';

const CLASSES = ['a', 'b', 'c'];

async function folder(perClass: number): Promise<string> {
  const root = tmpDir('loader-');
  await makeFolder(root, CLASSES, perClass);
  return root;
}

test.before(async () => {
  await tf.setBackend('cpu');
});

test('batches: NHWC float32 images in [-1, 1], int32 labels matching the files, last batch smaller', async () => {
  const root = await folder(7); // 21 images
  const ds = scanImageFolder(root);
  const loader = new DataLoader({ dataset: ds, transform: evalTransform(32), batchSize: 8 });
  assert.equal(loader.batchesPerEpoch, 3);
  const sizes: number[] = [];
  const files: string[] = [];
  for await (const b of loader.epoch(0)) {
    assert.deepEqual(b.images.shape.slice(1), [32, 32, 3]);
    assert.equal(b.images.dtype, 'float32');
    assert.equal(b.labels.dtype, 'int32');
    const labels = Array.from(await b.labels.data());
    assert.deepEqual(labels, b.files.map((f) => CLASSES.indexOf(path.basename(path.dirname(f)))));
    const v = await b.images.data();
    assert.ok(Math.min(...v) >= -1 && Math.max(...v) <= 1);
    sizes.push(b.images.shape[0]);
    files.push(...b.files);
    b.dispose();
  }
  assert.deepEqual(sizes, [8, 8, 5]);
  assert.deepEqual(files, ds.samples.map((s) => s.file)); // no shuffle: folder order
});

test('shuffling: a new order each epoch, the same for the same seed and epoch; no tensor leaks', async () => {
  const root = await folder(6);
  const ds = scanImageFolder(root);
  const make = (seed: number) => new DataLoader({ dataset: ds, transform: trainTransform(24), batchSize: 5, shuffle: true, seed });
  const files = async (l: DataLoader, e: number) => {
    const out: string[] = [];
    for await (const b of l.epoch(e)) {
      out.push(...b.files);
      b.dispose();
    }
    return out;
  };
  const before = tf.memory().numTensors;
  const a0 = await files(make(1), 0);
  const a1 = await files(make(1), 1);
  assert.deepEqual([...a0].sort(), ds.samples.map((s) => s.file).sort());
  assert.notDeepEqual(a0, a1);
  assert.deepEqual(await files(make(1), 1), a1); // epoch 1 alone is epoch 1
  assert.notDeepEqual(await files(make(2), 0), a0);
  // Same seed, same pixels, whatever the concurrency.
  const pixels = async (concurrency: number) => {
    const l = new DataLoader({ dataset: ds, transform: trainTransform(24), batchSize: 18, shuffle: true, seed: 3, concurrency });
    for await (const b of l.epoch(4)) {
      const d = await b.images.data();
      b.dispose();
      return d;
    }
  };
  assert.deepEqual(await pixels(1), await pixels(6));
  // Leaving an epoch early leaks nothing either.
  for await (const b of make(1).epoch(0)) {
    b.dispose();
    break;
  }
  assert.equal(tf.memory().numTensors, before);
});

test('bad files are skipped, warned once, counted; every good image is served; batches stay full', async () => {
  const root = await folder(5); // 15 good
  const good = fs.readFileSync(path.join(root, 'a', '000.jpg'));
  fs.writeFileSync(path.join(root, 'a', 'empty.jpg'), '');
  fs.writeFileSync(path.join(root, 'b', 'truncated.jpg'), good.subarray(0, good.length >> 1));
  fs.writeFileSync(path.join(root, 'b', 'notes.png'), 'not an image at all');
  const corrupt = Buffer.from(good);
  corrupt.fill(0x41, 20);
  fs.writeFileSync(path.join(root, 'c', 'corrupt.jpg'), corrupt);
  const ds = scanImageFolder(root);
  assert.equal(ds.samples.length, 19);
  const warnings: string[] = [];
  const loader = new DataLoader({ dataset: ds, transform: trainTransform(16), batchSize: 5, shuffle: true, onWarning: (m) => warnings.push(m) });
  for (const epoch of [0, 1]) {
    const sizes: number[] = [];
    const seen: string[] = [];
    for await (const b of loader.epoch(epoch)) {
      sizes.push(b.images.shape[0]);
      seen.push(...b.files);
      b.dispose();
    }
    assert.deepEqual(sizes, [5, 5, 5], `epoch ${epoch}`);
    assert.equal(new Set(seen).size, 15);
    assert.ok(seen.every((f) => /^\d{3}\.jpg$/.test(path.basename(f))));
  }
  assert.equal(loader.skipped, 4);
  assert.equal(warnings.length, 4); // once each, not again in epoch 1
  for (const name of ['empty.jpg', 'truncated.jpg', 'notes.png', 'corrupt.jpg']) assert.ok(warnings.some((w) => w.startsWith('skipped ') && w.includes(name)), name);
  assert.ok(warnings.find((w) => w.includes('empty.jpg'))!.endsWith('empty file'));
  assert.equal(loader.batchesPerEpoch, 3);
});

test('prefetch: the next batches are decoded while the caller is busy', async () => {
  const root = await folder(8); // 24 images
  const loader = new DataLoader({ dataset: scanImageFolder(root), transform: evalTransform(16), batchSize: 4, prefetch: 2 });
  const it = loader.epoch(0)[Symbol.asyncIterator]();
  const first = await it.next();
  assert.ok(!first.done);
  first.value.dispose();
  await new Promise((r) => setTimeout(r, 300)); // the caller "trains"
  // Batch 1 was handed over; batches 2 and 3 (prefetch 2) and the current one are ready, no more.
  assert.equal(loader.decoded, 4 * (1 + 1 + 2));
  const t0 = Date.now();
  const second = await it.next();
  assert.ok(Date.now() - t0 < 50, 'the second batch was already decoded');
  second.value!.dispose();
  await it.return?.(undefined);
});

test('prefetch keeps going while a synchronous training step blocks the main thread', async () => {
  const root = await folder(8); // 24 images
  const loader = new DataLoader({ dataset: scanImageFolder(root), transform: evalTransform(16), batchSize: 4, prefetch: 2 });
  const it = loader.epoch(0)[Symbol.asyncIterator]();
  (await it.next()).value!.dispose();
  const block = (ms: number) => {
    const end = Date.now() + ms;
    while (Date.now() < end);
  };
  // Two "training steps" with one event-loop turn between them: each image needs one turn to start
  // and one to finish, so the whole window (4 served + 12 ahead) is decoded by now.
  block(250);
  await new Promise((r) => setImmediate(r));
  block(250);
  await new Promise((r) => setImmediate(r));
  assert.equal(loader.decoded, 16);
  await it.return?.(undefined);
});
