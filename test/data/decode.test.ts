import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import sharp from 'sharp';
import { decodeImage, imageInfo, loadImage } from '../../src/data/decode';
import { readJpegHeader } from '../../src/data/jpeg_header';
import { evalTransform, randomResizedCrop, trainTransform } from '../../src/data/transforms';
import { Rng } from '../../src/util/rng';
import { tmpDir } from '../helpers';
import { rawImage, testCard, writeJpeg } from './fixtures';

const dir = tmpDir('decode-');
const f = (n: string) => path.join(dir, n);

test('greyscale, CMYK, alpha, palette, 16-bit and 1x1 images load as RGB', async () => {
  await rawImage(64, 48, 1).greyscale().jpeg().toFile(f('grey.jpg'));
  await rawImage(64, 48, 1).greyscale().png().toFile(f('grey.png'));
  await sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 200, g: 30, b: 40 } } }).toColourspace('cmyk').jpeg().toFile(f('cmyk.jpg'));
  await sharp({ create: { width: 64, height: 48, channels: 4, background: { r: 10, g: 200, b: 90, alpha: 0.25 } } }).png().toFile(f('alpha.png'));
  await sharp({ create: { width: 64, height: 48, channels: 4, background: { r: 10, g: 200, b: 90, alpha: 0.5 } } }).webp({ lossless: true }).toFile(f('alpha.webp'));
  await rawImage(64, 48, 2).png({ palette: true, colours: 8 }).toFile(f('palette.png'));
  await rawImage(64, 48, 3).toColourspace('rgb16').png().toFile(f('deep.png'));
  await sharp({ create: { width: 1, height: 1, channels: 3, background: { r: 1, g: 2, b: 3 } } }).png().toFile(f('one.png'));
  await sharp({ create: { width: 1, height: 1, channels: 3, background: { r: 90, g: 120, b: 200 } } }).jpeg({ quality: 100 }).toFile(f('one.jpg'));
  for (const name of ['grey.jpg', 'grey.png', 'cmyk.jpg', 'alpha.png', 'alpha.webp', 'palette.png', 'deep.png', 'one.png', 'one.jpg']) {
    const img = await decodeImage(f(name));
    const [w, h] = name.startsWith('one') ? [1, 1] : [64, 48];
    assert.equal(img.width, w, name);
    assert.equal(img.height, h, name);
    assert.equal(img.data.length, w * h * 3, `${name}: 3 channels`);
    // Through the eval transform too: 224x224 RGB.
    const { image } = await loadImage(f(name), { transform: evalTransform(224) });
    assert.equal(image.data.length, 224 * 224 * 3, name);
  }
  const grey = await decodeImage(f('grey.png'));
  for (let i = 0; i < grey.data.length; i += 3) assert.ok(grey.data[i] === grey.data[i + 1] && grey.data[i] === grey.data[i + 2]);
  const cmyk = await decodeImage(f('cmyk.jpg'));
  const [r, g, b] = cmyk.data; // through libvips's CMYK profile: a red stays clearly red
  assert.ok(r > 150 && g < 90 && b < 90, `cmyk red came back as ${r},${g},${b}`);
  const alpha = await decodeImage(f('alpha.png'));
  assert.deepEqual([...alpha.data.subarray(0, 3)], [10, 200, 90]); // alpha dropped, colour kept (not flattened)
  const one = await loadImage(f('one.png'), { transform: evalTransform(224) });
  assert.ok(one.image.data.every((v, i) => v === [1, 2, 3][i % 3]));
  const crop = await loadImage(f('one.png'), { transform: trainTransform(224), rng: new Rng(3) });
  assert.equal(crop.image.width, 224);
});

test('EXIF orientation is applied (a phone photo comes out upright), and read from the header as libvips does', async () => {
  const [w, h] = [40, 24];
  const card = testCard(w, h, 4);
  await sharp(card, { raw: { width: w, height: h, channels: 3 } }).png().toFile(f('upright.png'));
  // Orientation 6: the stored image must be turned 90 degrees clockwise to display; store it turned back.
  await sharp(card, { raw: { width: w, height: h, channels: 3 } }).rotate(-90).withMetadata({ orientation: 6 }).jpeg({ quality: 100 }).toFile(f('exif6.jpg'));
  const info = await imageInfo(f('exif6.jpg'));
  assert.deepEqual([info.width, info.height, info.orientation], [w, h, 6]);
  const img = await decodeImage(f('exif6.jpg'));
  assert.deepEqual([img.width, img.height], [w, h]);
  let diff = 0;
  for (let i = 0; i < card.length; i++) diff += Math.abs(img.data[i] - card[i]);
  assert.ok(diff / card.length < 6, `upright image differs by ${diff / card.length} on average`);
  // A crop (and mirror) is in upright coordinates, as on the upright original.
  for (const orientation of [3, 6, 8]) {
    const angle = { 3: 180, 6: -90, 8: 90 }[orientation]!;
    await sharp(card, { raw: { width: w, height: h, channels: 3 } }).rotate(angle).withMetadata({ orientation }).png().toFile(f(`exif${orientation}.png`));
    const cut = (plan: Parameters<ReturnType<typeof randomResizedCrop>>[0]) => ({ ...plan, crop: { left: 5, top: 3, width: 20, height: 12 }, width: 20, height: 12, flip: true });
    const want = await loadImage(f('upright.png'), { transform: cut });
    const got = await loadImage(f(`exif${orientation}.png`), { transform: cut });
    assert.ok(Buffer.from(got.image.data).equals(Buffer.from(want.image.data)), `orientation ${orientation}`);
  }
  // The JS header reader agrees with sharp's metadata on size, channels and orientation.
  await rawImage(50, 30, 5).jpeg({ progressive: true }).toFile(f('prog.jpg'));
  for (const name of ['exif6.jpg', 'prog.jpg']) {
    const buf = fs.readFileSync(f(name));
    const m = await sharp(buf).metadata();
    assert.deepEqual(readJpegHeader(buf), { width: m.width, height: m.height, components: m.channels, orientation: m.orientation ?? 1 }, name);
  }
  assert.equal(readJpegHeader(Buffer.from('not a jpeg')), undefined);
});

test('a fixed seed gives identical pixels; an image already at the output size is not resampled', async () => {
  await writeJpeg(f('photo.jpg'), 320, 240, 6);
  const t = trainTransform(224);
  const a = await loadImage(f('photo.jpg'), { transform: t, rng: new Rng(11) });
  const b = await loadImage(f('photo.jpg'), { transform: t, rng: new Rng(11) });
  const c = await loadImage(f('photo.jpg'), { transform: t, rng: new Rng(12) });
  assert.deepEqual(a.plan, b.plan);
  assert.ok(Buffer.from(a.image.data).equals(Buffer.from(b.image.data)));
  assert.ok(!Buffer.from(a.image.data).equals(Buffer.from(c.image.data)));
  await writeJpeg(f('224.jpg'), 224, 224, 7);
  const plain = await decodeImage(f('224.jpg'));
  const resized = await loadImage(f('224.jpg'), { transform: evalTransform(224) });
  assert.ok(Buffer.from(resized.image.data).equals(Buffer.from(plain.data)));
});

test('shrink-on-load for a large JPEG crop stays close to the full decode', async () => {
  await writeJpeg(f('big.jpg'), 2000, 1500, 8, 95);
  // The same pixels as PNG take the exact path (no shrink-on-load): the reference.
  const full = await decodeImage(f('big.jpg'));
  await sharp(Buffer.from(full.data), { raw: { width: 2000, height: 1500, channels: 3 } }).png({ compressionLevel: 1 }).toFile(f('big.png'));
  const box = () => (plan: Parameters<ReturnType<typeof randomResizedCrop>>[0]) => ({ ...plan, crop: { left: 300, top: 200, width: 1200, height: 1000 }, width: 224, height: 224 });
  const fast = await loadImage(f('big.jpg'), { transform: box() });
  const exact = await loadImage(f('big.png'), { transform: box() });
  let sum = 0;
  for (let i = 0; i < fast.image.data.length; i++) sum += Math.abs(fast.image.data[i] - exact.image.data[i]);
  assert.ok(sum / fast.image.data.length < 8, `mean difference ${sum / fast.image.data.length}`);
});

test('corrupt, empty, truncated and non-image files reject with the cause', async () => {
  await writeJpeg(f('good.jpg'), 64, 48, 9);
  const good = fs.readFileSync(f('good.jpg'));
  fs.writeFileSync(f('empty.jpg'), '');
  fs.writeFileSync(f('truncated.jpg'), good.subarray(0, Math.floor(good.length / 2)));
  fs.writeFileSync(f('text.jpg'), 'hello, I am not an image\n');
  const corrupt = Buffer.from(good);
  for (let i = 200; i < corrupt.length - 2; i += 7) corrupt[i] ^= 0x5a;
  fs.writeFileSync(f('corrupt.jpg'), corrupt);
  await assert.rejects(decodeImage(f('empty.jpg')), /empty file/);
  await assert.rejects(decodeImage(f('text.jpg')), /unsupported image format|not an image/i);
  await assert.rejects(decodeImage(f('truncated.jpg')), /premature|truncat|end of/i);
  await assert.rejects(loadImage(f('corrupt.jpg'), { transform: evalTransform(32) }));
  await assert.rejects(decodeImage(f('missing.jpg')), /ENOENT/);
});

test('undecodable photos reject with one ImageError line; damaged BMP/Netpbm headers are refused before any allocation', async () => {
  const { ImageError } = await import('../../src/data/image_error');
  const isImageError = (e: unknown) => e instanceof ImageError && !e.message.includes('\n') && e.message.length > 0;
  await writeJpeg(f('whole.jpg'), 64, 48, 10);
  const good = fs.readFileSync(f('whole.jpg'));
  for (const bytes of [good.subarray(0, good.length >> 1), Buffer.from('not an image'), Buffer.concat([good.subarray(0, 2), Buffer.alloc(500, 0xa7)])]) {
    await assert.rejects(decodeImage(bytes), isImageError);
  }
  // A BMP cut inside its header read past the end of the buffer (RangeError) before the bounds checks.
  await assert.rejects(decodeImage(Buffer.from('424d3600000000000000360000002800000040000000400000000100', 'hex')), (e: unknown) => isImageError(e) && /bad BMP\/PNM file/.test((e as Error).message));
  // A PGM declaring 12000x12000 pixels in a 30-byte file: refused as truncated, with no 288 MB buffer made first.
  const rss = process.resourceUsage().maxRSS;
  await assert.rejects(decodeImage(Buffer.from('P5\n12000 12000\n255\n\x00\x01\x02')), (e: unknown) => isImageError(e) && /truncated/.test((e as Error).message));
  assert.ok(process.resourceUsage().maxRSS - rss < 100 * 1024, 'peak RSS rose by more than 100 MB');
  // Over PIL's decompression-bomb limit: refused by the header alone.
  await assert.rejects(decodeImage(Buffer.from('P5\n20000 20000\n255\n')), (e: unknown) => isImageError(e) && /header values/.test((e as Error).message));
});
