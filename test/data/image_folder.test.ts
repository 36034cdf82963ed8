import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { DataError } from '../../src/data/errors';
import { IMG_EXTENSIONS, listImages, openSplit, scanImageFolder } from '../../src/data/image_folder';
import { tmpDir } from '../helpers';

function touch(file: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, 'x');
}

test('classes sorted, classToIdx, files sorted as torchvision (os.walk, sorted), only image extensions', () => {
  const root = tmpDir('if-');
  for (const f of ['tulips/b.JPG', 'tulips/a.png', 'daisy/z.jpeg', 'daisy/a.webp', 'daisy/sub/c.jpg', 'daisy/sub2/a.tif', 'daisy/notes.txt', 'daisy/.hidden.jpg', 'roses/x.bmp']) touch(path.join(root, f));
  fs.mkdirSync(path.join(root, '.ipynb_checkpoints'));
  touch(path.join(root, 'stray.jpg')); // a file beside the class folders is not a class
  const ds = scanImageFolder(root);
  assert.deepEqual(ds.classes, ['daisy', 'roses', 'tulips']);
  assert.deepEqual(ds.classToIdx, { daisy: 0, roses: 1, tulips: 2 });
  const rel = ds.samples.map((s) => [path.relative(root, s.file).split(path.sep).join('/'), s.label]);
  assert.deepEqual(rel, [
    ['daisy/a.webp', 0],
    ['daisy/z.jpeg', 0],
    ['daisy/sub/c.jpg', 0],
    ['daisy/sub2/a.tif', 0],
    ['roses/x.bmp', 1],
    ['tulips/a.png', 2],
    ['tulips/b.JPG', 2],
  ]);
  assert.deepEqual(listImages(path.join(root, 'daisy')).map((p) => p.split(path.sep).join('/')), ['a.webp', 'z.jpeg', 'sub/c.jpg', 'sub2/a.tif']);
  assert.deepEqual([...IMG_EXTENSIONS], ['.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif', '.tiff', '.webp']);
});

test('an empty dataset is refused with what to do', () => {
  const root = tmpDir('if-empty-');
  assert.throws(() => scanImageFolder(root), (e: Error) => e instanceof DataError && e.message === `No class folders in ${root}: expected ${root}/<class>/*.jpg (run: bin/googlenet split --source DIR --out DIR, or bin/googlenet fetch-data)`);
  fs.mkdirSync(path.join(root, 'daisy'));
  touch(path.join(root, 'daisy', 'readme.txt'));
  assert.throws(() => scanImageFolder(root), (e: Error) => e instanceof DataError && /^No images in class folder .*daisy: put \.jpg/.test(e.message));
  assert.throws(() => scanImageFolder(path.join(root, 'nope')), (e: Error) => e instanceof DataError && /^No such folder: .*nope \(expected .*nope\/<class>\/\*\.jpg\)$/.test(e.message));
});

test('a split root needs train/ and val/ with the same classes', () => {
  const root = tmpDir('if-split-');
  touch(path.join(root, 'train', 'daisy', 'a.jpg'));
  assert.throws(() => openSplit(root), (e: Error) => e instanceof DataError && e.message.startsWith(`No val/ in ${root}: expected ${root}/train/<class>/*.jpg and ${root}/val/<class>/*.jpg (split an ImageFolder with: bin/googlenet split --source FOLDER --out ${root})`));
  const none = tmpDir('if-split-none-');
  assert.throws(() => openSplit(none), (e: Error) => e instanceof DataError && e.message.startsWith(`No train/ or val/ in ${none}`));
  touch(path.join(root, 'val', 'daisy', 'b.jpg'));
  touch(path.join(root, 'val', 'roses', 'c.jpg'));
  touch(path.join(root, 'train', 'tulips', 'd.jpg'));
  assert.throws(
    () => openSplit(root),
    (e: Error) => e instanceof DataError && e.message.startsWith(`train/ and val/ in ${root} have different classes (only in train/: tulips; only in val/: roses): give both the same class folders`),
  );
  touch(path.join(root, 'train', 'roses', 'e.jpg'));
  touch(path.join(root, 'val', 'tulips', 'f.jpg'));
  const s = openSplit(root);
  assert.deepEqual(s.train.classes, ['daisy', 'roses', 'tulips']);
  assert.deepEqual(s.val.classToIdx, s.train.classToIdx);
});

test('the shipped sample opens as a split root with the five classes', () => {
  const s = openSplit(path.resolve(__dirname, '..', '..', 'data_set', 'flower_data'));
  assert.deepEqual(s.train.classes, ['daisy', 'dandelion', 'roses', 'sunflowers', 'tulips']);
  assert.ok(s.train.samples.length >= 100 && s.val.samples.length >= 25);
});

test('the sample LICENSE.txt credits exactly the shipped photos, and the known duplicate is not shipped', () => {
  const root = path.resolve(__dirname, '..', '..', 'data_set', 'flower_data');
  const s = openSplit(root);
  const shipped = [...s.train.samples, ...s.val.samples].map((x) => path.relative(root, x.file).split(path.sep).slice(1).join('/')).sort();
  const credited = fs
    .readFileSync(path.join(root, 'LICENSE.txt'), 'utf8')
    .split('\n')
    .filter((l) => /^\w+\/\S+\.jpg CC-BY /.test(l))
    .map((l) => l.split(' ')[0])
    .sort();
  assert.deepEqual(credited, shipped);
  assert.ok(!shipped.includes('roses/15922772266_1167a06620.jpg'));
});
