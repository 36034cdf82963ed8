/**
 * Fuzz target: photo decoding (src/data/decode.ts on sharp, bitmap_formats.ts, jpeg_header.ts) on one
 * bundled photo as JPEG (baseline, progressive, grey, EXIF-rotated), PNG (RGB, palette, RGBA, 16-bit),
 * BMP (24-bit, palette, grey, 1-bit, 32-bit) and Netpbm (PGM, PPM, PBM, plain P2/P3), through the three
 * ways the project decodes: the eval transform, the training transform, the whole image. A damaged
 * photo may still decode (a flipped bit in JPEG data is a different photo); the result must then be a
 * well-formed RGB image of the planned size.
 */
import { decodeImage, loadImage } from '../../../src/data/decode';
import { ImageError, MAX_IMAGE_PIXELS } from '../../../src/data/image_error';
import { evalTransform, RgbImage, trainTransform } from '../../../src/data/transforms';
import { Rng } from '../../../src/util/rng';
import type { Target } from '../harness';
import { Mutant, mutate } from '../mutate';
import type { SeedSet } from '../seeds';

const SIZE = 48;

export interface ImageInput extends Mutant {
  how: 'eval' | 'train' | 'whole';
  rngSeed: number;
}

export function imageTarget(seeds: SeedSet): Target<ImageInput> {
  const pool = seeds.pick((n) => n.startsWith('img_'));
  return {
    name: 'image',
    errorType: ImageError,
    timeLimitMs: 10_000,
    memoryBoundMb: 600,
    generate: (rng) => ({ ...mutate(pool, rng), how: (['eval', 'train', 'whole'] as const)[rng.int(0, 2)], rngSeed: rng.int(0, 1e9) }),
    run: async (m) => {
      const buf = Buffer.from(m.bytes.buffer, m.bytes.byteOffset, m.bytes.byteLength);
      if (m.how === 'whole') return decodeImage(buf);
      const transform = m.how === 'eval' ? evalTransform(SIZE) : trainTransform(SIZE);
      return (await loadImage(buf, { transform, rng: new Rng(m.rngSeed) })).image;
    },
    check: (m, result) => {
      const img = result as RgbImage;
      if (!(img.data instanceof Uint8Array) || img.data.length !== img.width * img.height * 3) return `malformed image ${img.width}x${img.height} with ${img.data.length} bytes`;
      if (m.how !== 'whole' && (img.width !== SIZE || img.height !== SIZE)) return `${img.width}x${img.height}, planned ${SIZE}x${SIZE}`;
      if (img.width * img.height > MAX_IMAGE_PIXELS) return `${img.width}x${img.height}: over the pixel limit`;
      return undefined;
    },
    describe: (m) => `${m.seed} (${m.how}): ${m.what}`,
  };
}
