/**
 * Forward passes against PyTorch at input sizes where ceil-mode pooling and the aux heads' pooling
 * matter (odd sizes, 224 with the notes' AvgPool(5, 3), others with adaptive 4x4).
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '../../src/tf';
import { initBackend } from '../../src/backend/select';
import { createGoogLeNet } from '../../src/model/googlenet';
import { readStateDict } from '../../src/torch/pth';
import { loadTorchStateDict } from '../../src/torch/load_state_dict';
import { ROOT, runPython, tmpDir } from '../helpers';

before(async () => {
  await initBackend('wasm');
});

function maxRelDiff(a: ArrayLike<number>, b: number[]): number {
  let m = 0;
  const scale = Math.max(1e-6, ...b.map(Math.abs));
  for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) / scale);
  return m;
}

for (const size of [224, 99, 100, 67, 35]) {
  test(`course model at ${size} px: main and aux logits match PyTorch`, () => {
    const dir = tmpDir(`fwd-${size}-`);
    runPython(path.join(ROOT, 'test', 'reference', 'forward_fixture.py'), [String(size), '3', dir]);
    const expected = JSON.parse(fs.readFileSync(path.join(dir, 'expected.json'), 'utf8'));
    const model = createGoogLeNet({ variant: 'course', numClasses: 3 });
    loadTorchStateDict(model, readStateDict(fs.readFileSync(path.join(dir, 'model.pth'))));
    const buf = fs.readFileSync(path.join(dir, 'input.f32'));
    const x = tf.tensor4d(new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4), [2, size, size, 3]);
    const feats: Record<string, tf.Tensor4D> = {};
    const logits = model.forward(x, { training: false }, (name, y) => {
      if (name === 'inception4a' || name === 'inception4d') feats[name] = tf.keep(y.clone()) as tf.Tensor4D;
    }).logits;
    const aux1 = model.aux1!.apply(feats.inception4a, { training: false });
    const aux2 = model.aux2!.apply(feats.inception4d, { training: false });
    assert.equal(expected.adaptive, size !== 224, 'the PyTorch twin uses the fixed pooling only at 224');
    for (const [name, t] of [['logits', logits], ['aux1', aux1], ['aux2', aux2]] as const) {
      const d = maxRelDiff(t.dataSync(), (expected[name] as number[][]).flat());
      assert.ok(d < 1e-4, `${name}: max relative difference ${d}`);
    }
    tf.dispose([x, logits, aux1, aux2, ...Object.values(feats)]);
    model.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });
}
