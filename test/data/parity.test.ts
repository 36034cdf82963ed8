/**
 * Pixel parity with torchvision (the notes' transforms, PIL path), torchvision run as the oracle:
 * Resize((224, 224)) + ToTensor + Normalize, and RandomResizedCrop's crop-and-resize once the box is
 * chosen. Enlarging axes are PIL's own arithmetic (resample.ts): equal to the last bit. Shrinking axes
 * are libvips's bilinear reduce: the same filter with its own fixed-point rounding, a few levels apart
 * at most on this noisy test card. An image already 224x224 is not resampled: exactly equal.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import sharp from 'sharp';
import { loadImage } from '../../src/data/decode';
import { compose, cropPlan, evalTransform, NOTES_NORMALIZATION, normalize, resizePlan, toTensor, Transform } from '../../src/data/transforms';
import { runPython, tmpDir } from '../helpers';
import { rawImage, writeJpeg, writePng } from './fixtures';

const ORACLE = path.join(__dirname, 'torchvision_reference.py');
/** One 8-bit level after Normalize(0.5, 0.5). */
const LEVEL = 2 / 255;

interface Job {
  name: string;
  file: string;
  ops: (string | number)[][];
  ours: Transform;
  normalize?: boolean;
  /** Largest difference allowed, in 8-bit levels; 0: bit-exact. */
  levels: number;
}

async function ours(job: Job): Promise<Float32Array> {
  const { image } = await loadImage(job.file, { transform: job.ours });
  const x = toTensor(image);
  return job.normalize === false ? x : normalize(x, NOTES_NORMALIZATION);
}

const crop =
  (top: number, left: number, h: number, w: number, H: number, W: number, flip = false): Transform =>
  (plan) => {
    const p = resizePlan(cropPlan(plan, { left, top, width: w, height: h }), W, H);
    return flip ? { ...p, flip: true } : p;
  };

test('Resize((224,224)) and resized crops + ToTensor + Normalize match torchvision', async (t) => {
  const dir = tmpDir('parity-');
  const f = (n: string) => path.join(dir, n);
  await writePng(f('down.png'), 320, 240, 1);
  await writePng(f('up.png'), 100, 80, 2);
  await writePng(f('mixed.png'), 300, 150, 3);
  await writePng(f('mixed2.png'), 150, 300, 4);
  await writePng(f('exact.png'), 224, 224, 5);
  await writeJpeg(f('photo.jpg'), 500, 375, 6);
  await writeJpeg(f('exact.jpg'), 224, 224, 7);
  // Greyscale, RGBA (alpha dropped, not flattened: PIL's convert('RGB')) and palette PNGs at 224x224.
  await rawImage(224, 224, 8).greyscale().png().toFile(f('grey.png'));
  const rgba = Buffer.alloc(224 * 224 * 4);
  for (let i = 0; i < 224 * 224; i++) rgba.set([(i * 7) % 256, (i * 13) % 256, (i >> 8) % 256, i % 256], i * 4);
  await sharp(rgba, { raw: { width: 224, height: 224, channels: 4 } }).png().toFile(f('alpha.png'));
  await rawImage(224, 224, 9).png({ palette: true, colours: 16 }).toFile(f('palette.png'));
  const resize224 = evalTransform(224);
  const jobs: Job[] = [
    { name: 'down', file: f('down.png'), ops: [['resize', 224, 224]], ours: resize224, levels: 8 },
    { name: 'up', file: f('up.png'), ops: [['resize', 224, 224]], ours: resize224, levels: 0 },
    { name: 'mixed', file: f('mixed.png'), ops: [['resize', 224, 224]], ours: resize224, levels: 8 },
    { name: 'mixed2', file: f('mixed2.png'), ops: [['resize', 224, 224]], ours: resize224, levels: 8 },
    { name: 'exact png', file: f('exact.png'), ops: [['resize', 224, 224]], ours: resize224, levels: 0 },
    { name: 'exact jpeg (same decoder output)', file: f('exact.jpg'), ops: [['resize', 224, 224]], ours: resize224, levels: 0 },
    { name: 'jpeg photo', file: f('photo.jpg'), ops: [['resize', 224, 224]], ours: resize224, levels: 8 },
    { name: 'grey', file: f('grey.png'), ops: [['resize', 224, 224]], ours: resize224, levels: 0 },
    { name: 'alpha', file: f('alpha.png'), ops: [['resize', 224, 224]], ours: resize224, levels: 0 },
    { name: 'palette', file: f('palette.png'), ops: [['resize', 224, 224]], ours: resize224, levels: 0 },
    { name: 'crop up', file: f('photo.jpg'), ops: [['resized_crop', 40, 60, 90, 120, 224, 224]], ours: crop(40, 60, 90, 120, 224, 224), levels: 0 },
    { name: 'crop up + flip', file: f('photo.jpg'), ops: [['resized_crop', 40, 60, 90, 120, 224, 224], ['hflip']], ours: crop(40, 60, 90, 120, 224, 224, true), levels: 0 },
    { name: 'crop down', file: f('photo.jpg'), ops: [['resized_crop', 10, 20, 350, 460, 224, 224]], ours: crop(10, 20, 350, 460, 224, 224), levels: 8 },
    { name: 'crop down + flip', file: f('photo.jpg'), ops: [['resized_crop', 10, 20, 350, 460, 224, 224], ['hflip']], ours: crop(10, 20, 350, 460, 224, 224, true), levels: 8 },
    { name: 'crop exact size', file: f('photo.jpg'), ops: [['resized_crop', 3, 5, 224, 224, 224, 224]], ours: compose(crop(3, 5, 224, 224, 224, 224)), levels: 0 },
    { name: 'toTensor only', file: f('up.png'), ops: [['resize', 224, 224]], ours: resize224, normalize: false, levels: 0 },
  ];
  // Formats that sharp's libvips cannot read (bitmap_formats.ts), written by PIL.
  const converts = [
    ['mixed.png', 'rgb.bmp', 'RGB'],
    ['down.png', 'palette.bmp', 'P'],
    ['up.png', 'grey.bmp', 'L'],
    ['up.png', 'mono.bmp', '1'],
    ['mixed2.png', 'rgb.ppm', 'RGB'],
    ['up.png', 'grey.pgm', 'L'],
    ['exact.png', 'mono.pbm', '1'],
  ];
  for (const [, dst] of converts) {
    jobs.push({ name: dst, file: f(dst), ops: [['resize', 224, 224]], ours: resize224, levels: dst === 'rgb.bmp' || dst === 'rgb.ppm' || dst === 'palette.bmp' ? 8 : 0 });
  }
  const spec = [
    ...converts.map(([src, dst, mode]) => ({ convert: [f(src), f(dst), mode] })),
    ...jobs.map((j, i) => ({ file: j.file, out: f(`ref${i}.f32`), ops: j.ops, normalize: j.normalize ?? true })),
  ];
  fs.writeFileSync(f('jobs.json'), JSON.stringify(spec));
  runPython(ORACLE, [f('jobs.json')]);
  for (const [i, job] of jobs.entries()) {
    const ref = new Float32Array(new Uint8Array(fs.readFileSync(f(`ref${i}.f32`))).buffer);
    const got = await ours(job);
    assert.equal(got.length, ref.length, job.name);
    let max = 0;
    let sum = 0;
    for (let k = 0; k < ref.length; k++) {
      const d = Math.abs(got[k] - ref[k]);
      max = Math.max(max, d);
      sum += d;
    }
    const unit = job.normalize === false ? LEVEL / 2 : LEVEL;
    t.diagnostic(`${job.name}: max ${(max / unit).toFixed(2)} levels, mean ${(sum / ref.length / unit).toFixed(3)}`);
    if (job.levels === 0) assert.equal(max, 0, `${job.name}: not bit-exact, max diff ${max}`);
    else {
      assert.ok(max <= job.levels * unit + 1e-6, `${job.name}: max diff ${(max / unit).toFixed(2)} levels`);
      assert.ok(sum / ref.length < 0.5 * unit, `${job.name}: mean diff ${(sum / ref.length / unit).toFixed(3)} levels`);
    }
  }
});
