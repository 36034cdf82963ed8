/**
 * The parity check: a state dict PyTorch writes (both file formats, both variants), imported
 * with `import-torch` and run with `predict` on 224x224 PNGs, gives PyTorch's probabilities within 1e-4.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { cliJson, ROOT, runPython, tmpDir } from '../helpers';

interface Expected {
  images: string[];
  probabilities: number[][];
  spread: number;
}
type Predictions = { image: string; predictions: { index: number; className: string; probability: number }[] }[];

const FIXTURE = path.join(ROOT, 'test', 'reference', 'make_parity_fixture.py');

for (const variant of ['course', 'torchvision'] as const) {
  test(`${variant}: PyTorch state dict -> import-torch -> predict matches PyTorch within 1e-4`, async (t) => {
    const dir = tmpDir(`parity-${variant}-`);
    runPython(FIXTURE, [variant, '5', dir]);
    const expected = JSON.parse(fs.readFileSync(path.join(dir, 'expected.json'), 'utf8')) as Expected;
    // The oracle itself must discriminate: two photos give clearly different outputs.
    assert.ok(expected.spread > 1e-2, `fixture outputs barely move with the input (${expected.spread})`);
    for (const format of ['zip', 'legacy']) {
      await t.test(`${format} format`, () => {
        const run = path.join(dir, `run-${format}`);
        const names = 'daisy,dandelion,roses,sunflowers,tulips';
        cliJson(['import-torch', '--variant', variant, '--num-classes', '5', '--state-dict', path.join(dir, `${format}.pth`), '--out', run, '--class-names', names]);
        const meta = JSON.parse(fs.readFileSync(path.join(run, 'metadata.json'), 'utf8'));
        assert.equal(meta.transformInput, variant === 'torchvision');
        assert.deepEqual(JSON.parse(fs.readFileSync(path.join(run, 'class_indices.json'), 'utf8')), { 0: 'daisy', 1: 'dandelion', 2: 'roses', 3: 'sunflowers', 4: 'tulips' });
        const got = cliJson<Predictions>(['predict', '--checkpoint', run, '--top-k', '5', '--backend', 'wasm', ...expected.images]);
        assert.equal(got.length, 2);
        let maxDiff = 0;
        got.forEach((r, i) => {
          assert.equal(r.image, expected.images[i]);
          assert.equal(r.predictions.length, 5);
          const sum = r.predictions.reduce((s, p) => s + p.probability, 0);
          assert.ok(Math.abs(sum - 1) < 1e-5, `probabilities sum to ${sum}`);
          for (let j = 1; j < 5; j++) assert.ok(r.predictions[j - 1].probability >= r.predictions[j].probability, 'best first');
          for (const p of r.predictions) {
            assert.equal(p.className, names.split(',')[p.index]);
            maxDiff = Math.max(maxDiff, Math.abs(p.probability - expected.probabilities[i][p.index]));
          }
        });
        assert.ok(maxDiff < 1e-4, `max |p_ours - p_torch| = ${maxDiff}`);
      });
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });
}
