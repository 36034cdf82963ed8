/**
 * Rectangles drawn on a photo: where RandomResizedCrop cut its crops (lesson 07). The photo is the
 * decoded, upright RGB image (src/data's `loadImage` without a transform), whose pixel coordinates are
 * the ones a transform plan's `crop` box uses.
 */
import sharp from 'sharp';
import type { Box, RgbImage } from '../data/transforms';
import { PALETTE } from './figure';

export interface DrawBoxesOptions {
  /** Stroke width in source pixels (default 2). */
  strokeWidth?: number;
  /** Number each box at its top-left corner (default false). */
  labels?: boolean;
  /** Scale the result (default 1). */
  scale?: number;
}

/** JPEG bytes of `image` with `boxes` outlined in plotly's colours, ready for showImages. */
export async function drawBoxes(image: RgbImage, boxes: readonly Box[], opts: DrawBoxesOptions = {}): Promise<Buffer> {
  const { width, height } = image;
  const sw = opts.strokeWidth ?? 2;
  const shapes = boxes
    .map((b, i) => {
      const color = PALETTE[i % PALETTE.length];
      const rect = `<rect x="${b.left + sw / 2}" y="${b.top + sw / 2}" width="${Math.max(1, b.width - sw)}" height="${Math.max(1, b.height - sw)}" fill="none" stroke="${color}" stroke-width="${sw}"/>`;
      const label = opts.labels
        ? `<text x="${b.left + sw + 2}" y="${b.top + sw + 12}" font-size="12" font-family="Helvetica, Arial, sans-serif" fill="#fff" stroke="#000" stroke-width="0.5">${i + 1}</text>`
        : '';
      return rect + label;
    })
    .join('');
  const svg = Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${shapes}</svg>`);
  const base = sharp(Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength), { raw: { width, height, channels: 3 } });
  const drawn = await base.composite([{ input: svg, top: 0, left: 0 }]).png().toBuffer();
  const scale = opts.scale ?? 1;
  const out = scale === 1 ? sharp(drawn) : sharp(drawn).resize(Math.round(width * scale), Math.round(height * scale));
  return out.jpeg({ quality: 85 }).toBuffer();
}
