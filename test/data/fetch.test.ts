import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as http from 'http';
import { AddressInfo } from 'net';
import * as path from 'path';
import * as tar from 'tar';
import { DataError } from '../../src/data/errors';
import { fetchFlowerData, FLOWER_COUNTS, SAMPLE_MARKER } from '../../src/data/fetch';
import { runCli, tmpDir } from '../helpers';

/** A miniature flower_photos/ (the archive's layout): 5 classes of placeholder files and a LICENSE.txt. */
function miniFlowers(perClass = 10, classes = Object.keys(FLOWER_COUNTS)): string {
  const parent = tmpDir('flowers-');
  const root = path.join(parent, 'flower_photos');
  for (const c of classes) {
    fs.mkdirSync(path.join(root, c), { recursive: true });
    for (let i = 0; i < perClass; i++) fs.writeFileSync(path.join(root, c, `${c}_${i}.jpg`), `${c}${i}`);
  }
  fs.writeFileSync(path.join(root, 'LICENSE.txt'), 'All images in this archive are licensed under CC-BY\n');
  return parent;
}

async function tgz(parent: string): Promise<string> {
  const file = path.join(tmpDir('tgz-'), 'flower_photos.tgz');
  await tar.c({ gzip: true, file, cwd: parent }, ['flower_photos']);
  return file;
}

function counts(out: string): Record<string, number> {
  const r: Record<string, number> = {};
  for (const s of ['train', 'val']) for (const c of fs.readdirSync(path.join(out, s))) r[`${s}/${c}`] = fs.readdirSync(path.join(out, s, c)).length;
  return r;
}

test('fetch-data from a local folder and from a local .tgz: checked, split 9:1, licence kept', async () => {
  const parent = miniFlowers(10);
  const logs: string[] = [];
  const a = path.join(tmpDir('fetch-'), 'flower_data');
  const r = await fetchFlowerData({ out: a, from: parent, onLog: (m) => logs.push(m) });
  assert.deepEqual(r.counts, { daisy: 10, dandelion: 10, roses: 10, sunflowers: 10, tulips: 10 });
  assert.equal(r.complete, false);
  assert.deepEqual([r.train, r.val], [45, 5]);
  assert.ok(logs.some((l) => l.includes('this is a subset')));
  assert.equal(counts(a)['val/roses'], 1);
  assert.match(fs.readFileSync(path.join(a, 'LICENSE.txt'), 'utf8'), /CC-BY/);
  const b = path.join(tmpDir('fetch-'), 'flower_data');
  const file = await tgz(parent);
  const rb = await fetchFlowerData({ out: b, from: file });
  assert.deepEqual(counts(b), counts(a)); // the same split either way
  assert.equal(rb.source, file);
  assert.deepEqual(fs.readdirSync(path.dirname(b)), ['flower_data']); // no work folder left behind
});

test('fetch-data from a URL (a local server stands in for the internet)', async () => {
  const body = fs.readFileSync(await tgz(miniFlowers(4)));
  const server = http.createServer((req, res) => {
    if (req.url !== '/flower_photos.tgz') return res.writeHead(404).end();
    res.writeHead(200, { 'content-length': body.length }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  try {
    const out = path.join(tmpDir('fetch-url-'), 'd');
    let downloaded = 0;
    const r = await fetchFlowerData({ out, from: `http://127.0.0.1:${port}/flower_photos.tgz`, onProgress: (p) => p.phase === 'download' && (downloaded = p.done) });
    assert.equal(downloaded, body.length);
    assert.deepEqual([r.train, r.val], [20, 0]); // floor(4 * 0.1) = 0
    await assert.rejects(fetchFlowerData({ out: path.join(tmpDir(), 'x'), from: `http://127.0.0.1:${port}/missing.tgz` }), (e: Error) => e instanceof DataError && /HTTP 404/.test(e.message));
  } finally {
    server.close();
  }
  await assert.rejects(fetchFlowerData({ out: path.join(tmpDir(), 'y'), from: 'http://127.0.0.1:9/none.tgz' }), (e: Error) => e instanceof DataError && /cannot download .*no internet\? download it elsewhere and pass --from FILE/.test(e.message));
});

test('fetch-data replaces the shipped sample, refuses other data without --force, refuses a wrong archive', async () => {
  const parent = miniFlowers(10);
  const out = path.join(tmpDir('fetch-replace-'), 'flower_data');
  fs.mkdirSync(path.join(out, 'train', 'daisy'), { recursive: true });
  fs.writeFileSync(path.join(out, 'train', 'daisy', 'old.jpg'), 'x');
  fs.writeFileSync(path.join(out, 'LICENSE.txt'), `${SAMPLE_MARKER}: ...\n`);
  await fetchFlowerData({ out, from: parent });
  assert.ok(!fs.existsSync(path.join(out, 'train', 'daisy', 'old.jpg')));
  assert.equal(counts(out)['train/daisy'], 9);
  // Now it holds real data (the archive's LICENSE.txt): refused, then replaced with force.
  await assert.rejects(fetchFlowerData({ out, from: parent }), (e: Error) => e instanceof DataError && /already holds data: pass --force/.test(e.message));
  await fetchFlowerData({ out, from: parent, force: true, valRatio: 0.2 });
  assert.equal(counts(out)['val/daisy'], 2);
  const wrong = miniFlowers(3, ['daisy', 'roses', 'cats', 'dandelion', 'sunflowers', 'tulips']);
  await assert.rejects(fetchFlowerData({ out: path.join(tmpDir(), 'w'), from: wrong }), (e: Error) => e instanceof DataError && /is not flower_photos: unexpected cats/.test(e.message));
  await assert.rejects(fetchFlowerData({ out: path.join(tmpDir(), 'n'), from: '/no/such/flowers.tgz' }), (e: Error) => e instanceof DataError && e.message === '--from /no/such/flowers.tgz: no such file or folder (give a URL, a .tgz file or a folder)');
  const notTgz = path.join(tmpDir(), 'junk.tgz');
  fs.writeFileSync(notTgz, 'junk');
  await assert.rejects(fetchFlowerData({ out: path.join(tmpDir(), 'j'), from: notTgz }), (e: Error) => e instanceof DataError && /cannot extract/.test(e.message));
});

test('bin/googlenet fetch-data --from a .tgz --json', async () => {
  const file = await tgz(miniFlowers(10));
  const out = path.join(tmpDir('fetch-cli-'), 'fd');
  const r = runCli(['fetch-data', '--from', file, '--out', out, '--json']);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout).counts.tulips, 10);
});
