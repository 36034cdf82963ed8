/**
 * Nothing good is lost: `train` over a folder where some photos are damaged copies (truncated, empty,
 * garbage after a valid signature, a BMP with a cut header, bit flips in a PNG's header) trains on every
 * good photo, counted in its report, names each bad one once, and finishes.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { ROOT, runCli, tmpDir } from '../helpers';

const DATA = path.join(ROOT, 'data_set', 'flower_data');

test('train over damaged photos: every good one trains (counted), each bad one is named once, the run finishes', { timeout: 600_000 }, () => {
  const dir = tmpDir('bad-photos-');
  try {
    const data = path.join(dir, 'data');
    const good: Record<string, number> = { train: 0, val: 0 };
    for (const [split, n] of [['train', 6], ['val', 2]] as const) {
      for (const c of ['daisy', 'roses']) {
        fs.mkdirSync(path.join(data, split, c), { recursive: true });
        for (const f of fs.readdirSync(path.join(DATA, split, c)).sort().slice(0, n)) {
          fs.copyFileSync(path.join(DATA, split, c, f), path.join(data, split, c, f));
          good[split]++;
        }
      }
    }
    const photo = fs.readFileSync(path.join(DATA, 'train', 'daisy', fs.readdirSync(path.join(DATA, 'train', 'daisy')).sort()[0]));
    // a damaged copy that still decodes is a good photo: bytes after the JPEG's end marker
    fs.writeFileSync(path.join(data, 'train', 'roses', 'zz_trailing.jpg'), Buffer.concat([photo, Buffer.alloc(100, 0x55)]));
    good.train++;
    const png = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');
    const bad: Record<string, Buffer> = {
      'train/daisy/bad_truncated.jpg': photo.subarray(0, photo.length >> 1),
      'train/daisy/bad_empty.jpg': Buffer.alloc(0),
      'train/roses/bad_garbage.jpg': Buffer.concat([photo.subarray(0, 2), Buffer.alloc(2000, 0xa7)]),
      'train/roses/bad_header.png': Buffer.concat([png, Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 8, 2, 0, 0, 0, 0xde, 0xad])]),
      'train/daisy/bad_cut.bmp': Buffer.from('424d3600000000000000', 'hex'),
      'val/roses/bad_text.jpg': Buffer.from('not a photo\n'),
    };
    for (const [f, b] of Object.entries(bad)) fs.writeFileSync(path.join(data, f), b);
    const out = path.join(dir, 'run');
    const r = runCli(['train', '--data', data, '--out', out, '--epochs', '1', '--image-size', '64', '--batch-size', '4'], { timeoutMs: 580_000 });
    assert.equal(r.status, 0, r.stderr);
    for (const f of Object.keys(bad)) {
      const file = path.join(data, f);
      const named = r.stderr.split('\n').filter((l) => l.includes(file));
      assert.equal(named.length, 1, `${f} named ${named.length} times:\n${r.stderr}`);
      assert.match(named[0], /warning: skipped .*: \S/);
    }
    const trained = /trained on (\d+) of (\d+) training images in the last epoch; (\d+) unreadable image\(s\) were skipped/.exec(r.stderr);
    assert.ok(trained, r.stderr);
    assert.equal(Number(trained[1]), good.train, 'every good training photo trained');
    assert.equal(Number(trained[2]), good.train + 5);
    assert.equal(Number(trained[3]), Object.keys(bad).length);
    assert.ok(fs.existsSync(path.join(out, 'model.json')) && fs.existsSync(path.join(out, 'last', 'model.json')));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
