import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { DataError } from '../../src/data/errors';
import { scanImageFolder } from '../../src/data/image_folder';
import { splitImageFolder } from '../../src/data/split';
import { runCli, tmpDir } from '../helpers';

/** An ImageFolder of empty .jpg files (split only lists and links), created in the given order. */
function fakeFolder(counts: Record<string, number>, reverse = false): string {
  const root = tmpDir('split-src-');
  for (const [c, n] of Object.entries(counts)) {
    fs.mkdirSync(path.join(root, c));
    const idx = Array.from({ length: n }, (_, i) => i);
    for (const i of reverse ? idx.reverse() : idx) fs.writeFileSync(path.join(root, c, `img_${String(i).padStart(4, '0')}.jpg`), `${c}${i}`);
  }
  return root;
}

function listing(out: string): Record<string, string[]> {
  const r: Record<string, string[]> = {};
  for (const s of ['train', 'val']) {
    const ds = scanImageFolder(path.join(out, s));
    for (const [i, c] of ds.classes.entries()) r[`${s}/${c}`] = ds.samples.filter((x) => x.label === i).map((x) => path.basename(x.file));
  }
  return r;
}

test('split: floor(n * ratio) per class to val, reproducible whatever the creation order, seed-dependent', () => {
  const counts = { daisy: 63, dandelion: 98, roses: 9, tulips: 10 };
  const a = tmpDir('split-a-');
  const r = splitImageFolder({ source: fakeFolder(counts), out: a, valRatio: 0.1, seed: 0 });
  assert.deepEqual(r.classes, [
    { name: 'daisy', train: 57, val: 6 },
    { name: 'dandelion', train: 89, val: 9 },
    { name: 'roses', train: 9, val: 0 },
    { name: 'tulips', train: 9, val: 1 },
  ]);
  assert.equal(r.linked, r.train + r.val); // hard links on the same file system
  const b = tmpDir('split-b-');
  splitImageFolder({ source: fakeFolder(counts, true), out: b, valRatio: 0.1, seed: 0, copy: true });
  assert.deepEqual(listing(b), listing(a));
  const c = tmpDir('split-c-');
  splitImageFolder({ source: fakeFolder(counts), out: c, valRatio: 0.1, seed: 1 });
  assert.notDeepEqual(listing(c)['val/daisy'], listing(a)['val/daisy']);
  // Val files are a random spread, not the first or last names.
  const val = listing(a)['val/dandelion'].map((n) => Number(n.slice(4, 8)));
  assert.ok(Math.min(...val) < 30 && Math.max(...val) > 70);
  // The file content travels with its name.
  assert.equal(fs.readFileSync(path.join(a, 'train', 'roses', 'img_0003.jpg'), 'utf8'), 'roses3');
  assert.throws(() => splitImageFolder({ source: fakeFolder(counts), out: a }), (e: Error) => e instanceof DataError && /train already exists and is not empty/.test(e.message));
});

test('bin/googlenet split: JSON result, and one-line errors', () => {
  const src = fakeFolder({ x: 20, y: 31 });
  const out = path.join(tmpDir('split-cli-'), 'data');
  const r = runCli(['split', '--source', src, '--out', out, '--val-ratio', '0.2', '--seed', '3', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.deepEqual(j.classes, [
    { name: 'x', train: 16, val: 4 },
    { name: 'y', train: 25, val: 6 },
  ]);
  const empty = runCli(['split', '--source', tmpDir('split-empty-'), '--out', path.join(out, 'z')]);
  assert.equal(empty.status, 1);
  assert.match(empty.stderr, /^googlenet: No class folders in .*: expected .*\/<class>\/\*\.jpg \(run: bin\/googlenet split[^\n]*\n$/);
});
