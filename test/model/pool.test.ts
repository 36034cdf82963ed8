/** Pooling with PyTorch's semantics: output sizes (ceil_mode included) and values. */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'path';
import * as tf from '../../src/tf';
import { initBackend } from '../../src/backend/select';
import { adaptiveAvgPool2d, maxPool2d, poolOutputSize } from '../../src/model/nn/pool';
import { ROOT, runPython } from '../helpers';

before(async () => {
  await initBackend('wasm');
});

test('poolOutputSize equals PyTorch max_pool2d for sizes 1-19, floor and ceil mode', () => {
  const ref = JSON.parse(runPython(path.join(ROOT, 'test', 'reference', 'pool_sizes.py'), [])) as Record<string, number>;
  assert.equal(Object.keys(ref).length, 152);
  for (const [key, expected] of Object.entries(ref)) {
    const [size, k, s, ceil] = key.split(',').map(Number);
    assert.equal(poolOutputSize(size, k, s, 0, ceil === 1), expected, key);
  }
});

test('ceil mode keeps the partial last window: 7x7 -> 3x3 with max over the real pixels', () => {
  const x = tf.tensor4d(Array.from({ length: 49 }, (_, i) => i), [1, 7, 7, 1]);
  const y = maxPool2d(x, { kernelSize: 3, stride: 2, ceilMode: true });
  assert.deepEqual(y.shape, [1, 3, 3, 1]);
  assert.deepEqual(Array.from(y.dataSync()), [16, 18, 20, 30, 32, 34, 44, 46, 48]);
  // where a window would hang over by more than the map, floor mode drops it: 8x8 -> 4x4 (ceil) vs 3x3 (floor)
  const z = tf.zeros([1, 8, 8, 1]) as tf.Tensor4D;
  assert.deepEqual(maxPool2d(z, { kernelSize: 3, stride: 2, ceilMode: true }).shape, [1, 4, 4, 1]);
  assert.deepEqual(maxPool2d(z, { kernelSize: 3, stride: 2 }).shape, [1, 3, 3, 1]);
  tf.dispose([x, y, z]);
});

test('adaptive average pooling uses PyTorch windows [floor(i*n/o), ceil((i+1)*n/o))', () => {
  const x = tf.tensor4d(Array.from({ length: 5 * 5 }, (_, i) => i), [1, 5, 5, 1]);
  const y = adaptiveAvgPool2d(x, 2, 2); // windows rows/cols [0,3) and [2,5)
  const mean = (rows: number[], cols: number[]) => rows.flatMap((r) => cols.map((c) => r * 5 + c)).reduce((a, b) => a + b) / (rows.length * cols.length);
  const expected = [mean([0, 1, 2], [0, 1, 2]), mean([0, 1, 2], [2, 3, 4]), mean([2, 3, 4], [0, 1, 2]), mean([2, 3, 4], [2, 3, 4])];
  const got = Array.from(y.dataSync());
  got.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-5, `${v} vs ${expected[i]}`));
  tf.dispose([x, y]);
});

test('adaptive average pooling keeps images and channels apart (2 images, 3 channels, 7x6 -> 4x3)', () => {
  const [n, h, w, c, oh, ow] = [2, 7, 6, 3, 4, 3];
  const data = Array.from({ length: n * h * w * c }, (_, i) => Math.sin(i * 0.37) * 3);
  const x = tf.tensor4d(data, [n, h, w, c]);
  const y = adaptiveAvgPool2d(x, oh, ow);
  assert.deepEqual(y.shape, [n, oh, ow, c]);
  const got = y.dataSync();
  const win = (i: number, size: number, out: number) => [Math.floor((i * size) / out), Math.ceil(((i + 1) * size) / out)];
  for (let b = 0; b < n; b++)
    for (let a = 0; a < oh; a++)
      for (let q = 0; q < ow; q++)
        for (let ch = 0; ch < c; ch++) {
          const [r0, r1] = win(a, h, oh);
          const [c0, c1] = win(q, w, ow);
          let sum = 0;
          for (let r = r0; r < r1; r++) for (let s = c0; s < c1; s++) sum += data[((b * h + r) * w + s) * c + ch];
          const want = sum / ((r1 - r0) * (c1 - c0));
          const v = got[((b * oh + a) * ow + q) * c + ch];
          assert.ok(Math.abs(v - want) < 1e-5, `image ${b} (${a}, ${q}) channel ${ch}: ${v} vs ${want}`);
        }
  tf.dispose([x, y]);
});
