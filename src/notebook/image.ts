/**
 * Pictures in the lessons: tensors and pixel buffers to PNG (sharp), shown inline; feature-map grids;
 * a drawn test image for when no photo is at hand. (Photos are loaded with src/data, as training does.)
 */
import sharp from 'sharp';
import * as tf from '../tf';
import { escapeHtml, displayBundle, png } from './display';

/** Pixels in HWC order: bytes 0..255 or floats (scaled by `range`); 3 channels unless told (src/data's RgbImage fits). */
export interface Pixels {
  data: Uint8Array | Uint8ClampedArray | Float32Array;
  height: number;
  width: number;
  channels?: 1 | 3 | 4;
}

export interface ToPngOptions {
  /**
   * Float values that map to black and white. Default: [0, 1] for float tensors whose values lie in
   * it, else the tensor's own min..max. Normalised inputs (x - 0.5) / 0.5 use [-1, 1].
   */
  range?: [number, number];
  /** Nearest-neighbour enlargement, for small maps (default 1). */
  scale?: number;
  /** 'png' (default: exact, for maps and small images) or 'jpeg' (photos: a tenth of the bytes). */
  format?: 'png' | 'jpeg';
}

function isPixels(x: unknown): x is Pixels {
  return typeof x === 'object' && x !== null && !(x instanceof tf.Tensor) && 'data' in x && 'height' in x && 'width' in x;
}

/** A [H, W, C] or [1, H, W, C] tensor (C = 1, 3, 4) to HWC pixels. */
async function tensorPixels(t: tf.Tensor): Promise<Pixels> {
  const shape = t.shape.length === 4 && t.shape[0] === 1 ? t.shape.slice(1) : t.shape.length === 2 ? [...t.shape, 1] : t.shape;
  if (shape.length !== 3 || ![1, 3, 4].includes(shape[2])) {
    throw new Error(`an image tensor is [H, W, C] or [1, H, W, C] with C = 1, 3 or 4; got [${t.shape.join(', ')}]`);
  }
  const data = (await t.data()) as Float32Array | Int32Array | Uint8Array;
  const floats = data instanceof Float32Array ? data : Float32Array.from(data);
  return { data: floats, height: shape[0], width: shape[1], channels: shape[2] as 1 | 3 | 4 };
}

function minMax(a: ArrayLike<number>): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < a.length; i++) {
    const v = a[i];
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

/** Float pixels to bytes over `range` (see ToPngOptions.range). */
export function toBytes(p: Pixels, range?: [number, number]): Uint8Array {
  if (!(p.data instanceof Float32Array)) return Uint8Array.from(p.data);
  const [lo0, hi0] = minMax(p.data);
  const [lo, hi] = range ?? (lo0 >= 0 && hi0 <= 1 ? [0, 1] : [lo0, hi0]);
  const span = hi - lo || 1;
  const out = new Uint8Array(p.data.length);
  for (let i = 0; i < out.length; i++) out[i] = Math.max(0, Math.min(255, Math.round(((p.data[i] - lo) / span) * 255)));
  return out;
}

/** PNG (or JPEG, see `format`) bytes of an image tensor or pixel buffer. */
export async function toPng(img: tf.Tensor | Pixels, opts: ToPngOptions = {}): Promise<Buffer> {
  const p = isPixels(img) ? img : await tensorPixels(img);
  const bytes = toBytes(p, opts.range);
  let s = sharp(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), { raw: { width: p.width, height: p.height, channels: p.channels ?? 3 } });
  const scale = opts.scale ?? 1;
  if (scale !== 1) s = s.resize(Math.round(p.width * scale), Math.round(p.height * scale), { kernel: 'nearest' });
  return opts.format === 'jpeg' ? s.jpeg({ quality: 85 }).toBuffer() : s.png().toBuffer();
}

function mimeOf(bytes: Buffer): string {
  return bytes[0] === 0xff && bytes[1] === 0xd8 ? 'image/jpeg' : 'image/png';
}

/** Show one image inline. */
export async function showImage(img: tf.Tensor | Pixels, opts: ToPngOptions & { alt?: string } = {}): Promise<void> {
  const bytes = await toPng(img, opts);
  if (mimeOf(bytes) === 'image/png') return png(bytes, opts.alt ?? 'image');
  displayBundle({ 'image/jpeg': bytes.toString('base64'), 'text/plain': `<${opts.alt ?? 'image'}>` });
}

export interface Captioned {
  image: tf.Tensor | Pixels | Buffer;
  caption: string;
}

/** Several images side by side with captions (PNG buffers are shown as they are). */
export async function showImages(items: Captioned[], opts: ToPngOptions & { height?: number } = {}): Promise<void> {
  const figures: string[] = [];
  for (const it of items) {
    const bytes = Buffer.isBuffer(it.image) ? it.image : await toPng(it.image, opts);
    const h = opts.height ? ` height="${opts.height}"` : '';
    figures.push(
      `<figure style="display:inline-block;margin:4px 8px;text-align:center">` +
        `<img src="data:${mimeOf(bytes)};base64,${bytes.toString('base64')}"${h} alt="${escapeHtml(it.caption)}"/>` +
        `<figcaption style="font-size:12px">${escapeHtml(it.caption)}</figcaption></figure>`,
    );
  }
  displayBundle({ 'text/html': `<div class="googlenet-images">${figures.join('')}</div>`, 'text/plain': items.map((i) => `<image: ${i.caption}>`).join('\n') });
}

// ---------------------------------------------------------------------------------------------------
// Feature maps

/** matplotlib's viridis at nine stops; dark = low, yellow = high. */
const VIRIDIS = [
  [68, 1, 84], [72, 36, 117], [62, 73, 137], [49, 104, 142], [38, 130, 142],
  [31, 158, 137], [53, 183, 121], [110, 206, 88], [253, 231, 37],
];

export function viridis(t: number): [number, number, number] {
  const x = Math.max(0, Math.min(1, t)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const f = x - i;
  const a = VIRIDIS[i];
  const b = VIRIDIS[i + 1];
  return [0, 1, 2].map((k) => Math.round(a[k] + (b[k] - a[k]) * f)) as [number, number, number];
}

export interface GridOptions {
  /** Which channels (default: the first `maxMaps`). */
  channels?: number[];
  maxMaps?: number;
  /** Maps per row (default 8). */
  cols?: number;
  /** Pixel size of one map in the grid (nearest-neighbour; default 96). */
  cellSize?: number;
  /** 'viridis' (default) or 'gray'. */
  colormap?: 'viridis' | 'gray';
  /** Label each map with its channel index (default true). */
  labels?: boolean;
  /** 'png' (default) or 'jpeg' (a large grid: a fifth of the bytes). */
  format?: 'png' | 'jpeg';
}

/**
 * A grid of feature maps ([H, W, C] or [1, H, W, C]) as PNG. Each map is scaled to its own min..max,
 * so the grid shows where a channel responds, not how strongly compared with the others.
 */
export async function featureMapGrid(fmap: tf.Tensor, opts: GridOptions = {}): Promise<Buffer> {
  const shape = fmap.shape.length === 4 ? fmap.shape.slice(1) : fmap.shape;
  if (shape.length !== 3 || (fmap.shape.length === 4 && fmap.shape[0] !== 1)) {
    throw new Error(`feature maps are [H, W, C] or [1, H, W, C]; got [${fmap.shape.join(', ')}]`);
  }
  const [h, w, c] = shape;
  const channels = opts.channels ?? Array.from({ length: Math.min(c, opts.maxMaps ?? 16) }, (_, i) => i);
  const bad = channels.find((k) => k < 0 || k >= c);
  if (bad !== undefined) throw new Error(`channel ${bad} is not in 0..${c - 1}`);
  const cols = Math.min(opts.cols ?? 8, channels.length);
  const rows = Math.ceil(channels.length / cols);
  const cell = opts.cellSize ?? 96;
  const gap = 4;
  const W = cols * cell + (cols + 1) * gap;
  const H = rows * cell + (rows + 1) * gap;
  const out = new Uint8Array(W * H * 3).fill(255);
  const data = (await fmap.data()) as Float32Array;
  channels.forEach((ch, n) => {
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < h * w; i++) {
      const v = data[i * c + ch];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    const span = hi - lo || 1;
    const ox = gap + (n % cols) * (cell + gap);
    const oy = gap + Math.floor(n / cols) * (cell + gap);
    for (let y = 0; y < cell; y++) {
      const sy = Math.min(h - 1, Math.floor((y * h) / cell));
      for (let x = 0; x < cell; x++) {
        const sx = Math.min(w - 1, Math.floor((x * w) / cell));
        const t = (data[(sy * w + sx) * c + ch] - lo) / span;
        const rgb = opts.colormap === 'gray' ? [t * 255, t * 255, t * 255] : viridis(t);
        const o = ((oy + y) * W + ox + x) * 3;
        out[o] = rgb[0];
        out[o + 1] = rgb[1];
        out[o + 2] = rgb[2];
      }
    }
  });
  let img = sharp(Buffer.from(out.buffer), { raw: { width: W, height: H, channels: 3 } });
  if (opts.labels ?? true) {
    const labels = channels
      .map((ch, n) => {
        const x = gap + (n % cols) * (cell + gap) + 2;
        const y = gap + Math.floor(n / cols) * (cell + gap) + 12;
        return `<text x="${x}" y="${y}" font-size="11" font-family="Helvetica, Arial, sans-serif" fill="#fff" stroke="#000" stroke-width="0.6">${ch}</text>`;
      })
      .join('');
    const svg = Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}">${labels}</svg>`);
    img = sharp(await img.png().toBuffer()).composite([{ input: svg, top: 0, left: 0 }]);
  }
  return opts.format === 'jpeg' ? img.jpeg({ quality: 90 }).toBuffer() : img.png().toBuffer();
}

export async function showFeatureMaps(fmap: tf.Tensor, opts: GridOptions & { title?: string } = {}): Promise<void> {
  const bytes = await featureMapGrid(fmap, opts);
  if (!opts.title && mimeOf(bytes) === 'image/png') return png(bytes, 'feature maps');
  const title = opts.title ?? 'feature maps';
  displayBundle({
    'text/html': `<div><div style="font-weight:bold;margin:4px 0">${escapeHtml(title)}</div><img src="data:${mimeOf(bytes)};base64,${bytes.toString('base64')}" alt="${escapeHtml(title)}"/></div>`,
    'text/plain': `<feature maps: ${title}>`,
  });
}

// ---------------------------------------------------------------------------------------------------
// Photos

/**
 * A drawn flower (petals, centre, stem on a sky gradient): a stand-in with edges and colours for when
 * no photo is at hand. [size, size, 3], values in 0..1.
 */
export function drawnFlower(size: number): tf.Tensor3D {
  const f = new Float32Array(size * size * 3);
  const cx = size / 2;
  const cy = size * 0.42;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const dx = (x - cx) / size;
      const dy = (y - cy) / size;
      const r = Math.hypot(dx, dy);
      const a = Math.atan2(dy, dx);
      let rgb = [0.55 + 0.3 * (y / size), 0.75 + 0.15 * (y / size), 0.95]; // sky
      if (y > cy && Math.abs(x - cx) < size * 0.015) rgb = [0.2, 0.55, 0.2]; // stem
      const petal = 0.2 + 0.07 * Math.cos(6 * a);
      if (r < petal) rgb = [0.95, 0.85 - 0.4 * (r / petal), 0.2 + 0.6 * Math.abs(Math.sin(3 * a))];
      if (r < 0.07) rgb = [0.55, 0.3, 0.1]; // centre
      f.set(rgb, (y * size + x) * 3);
    }
  }
  return tf.tensor3d(f, [size, size, 3]);
}
