/** Images made with sharp for the data tests: small, varied, written into temp folders. */
import * as fs from 'fs';
import * as path from 'path';
import sharp, { Sharp } from 'sharp';

/** A smooth-with-texture RGB test card, different for every `seed`. */
export function testCard(width: number, height: number, seed = 0): Buffer {
  const data = Buffer.alloc(width * height * 3);
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      const noise = ((s >>> 0) % 41) - 20;
      const o = (y * width + x) * 3;
      data[o] = clamp(128 + 100 * Math.sin(x / 13 + seed) + noise);
      data[o + 1] = clamp(128 + 100 * Math.cos(y / 9 - x / 31) + noise);
      data[o + 2] = clamp(((x * 255) / width + (y * 128) / height + seed * 40) % 256);
    }
  }
  return data;
}

function clamp(v: number): number {
  return Math.max(0, Math.min(255, Math.round(v)));
}

export function rawImage(width: number, height: number, seed = 0): Sharp {
  return sharp(testCard(width, height, seed), { raw: { width, height, channels: 3 } });
}

export async function writeJpeg(file: string, width: number, height: number, seed = 0, quality = 90): Promise<void> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await rawImage(width, height, seed).jpeg({ quality }).toFile(file);
}

export async function writePng(file: string, width: number, height: number, seed = 0): Promise<void> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await rawImage(width, height, seed).png().toFile(file);
}

/** An ImageFolder `root/<class>/<i>.jpg` with `perClass` small JPEGs per class. */
export async function makeFolder(root: string, classes: string[], perClass: number, size = 40): Promise<void> {
  let seed = 1;
  for (const c of classes) {
    for (let i = 0; i < perClass; i++) await writeJpeg(path.join(root, c, `${String(i).padStart(3, '0')}.jpg`), size + (i % 3) * 8, size, seed++);
  }
}
