/**
 * Pillow's bilinear resampling (ImagingResample with the triangle filter, 8-bit fixed point), one axis
 * at a time, bit for bit: the same coefficients, rounding and horizontal-then-vertical order.
 *
 * decode.ts lets libvips do every downscaling axis (in its threads) and uses this for upscaling ones:
 * libvips upsizes with a half-pixel offset from PIL's centre convention (visible as a 0.5 px shift),
 * and a random crop of a small photo is mostly upscaled to 224 px.
 */
import { RgbImage } from './transforms';

const PRECISION_BITS = 32 - 8 - 2;

interface Coefficients {
  /** Per output pixel: first input index and number of taps. */
  bounds: Int32Array;
  /** ksize fixed-point weights per output pixel. */
  weights: Int32Array;
  ksize: number;
}

/** Pillow's precompute_coeffs + normalize_coeffs_8bpc for the bilinear filter (support 1). */
function coefficients(inSize: number, outSize: number): Coefficients {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = 1 * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const weights = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  const ss = 1 / filterscale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const t = Math.abs((x + xmin - center + 0.5) * ss);
      const w = t < 1 ? 1 - t : 0;
      k[x] = w;
      ww += w;
    }
    for (let x = 0; x < ksize; x++) {
      const v = x < xmax && ww !== 0 ? k[x] / ww : 0;
      weights[xx * ksize + x] = v < 0 ? Math.trunc(-0.5 + v * (1 << PRECISION_BITS)) : Math.trunc(0.5 + v * (1 << PRECISION_BITS));
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { bounds, weights, ksize };
}

function clip8(ss: number): number {
  const v = ss >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}


const cache = new Map<string, Coefficients>();
function cachedCoefficients(inSize: number, outSize: number): Coefficients {
  const key = `${inSize}>${outSize}`;
  let c = cache.get(key);
  if (!c) {
    if (cache.size > 4096) cache.clear();
    c = coefficients(inSize, outSize);
    cache.set(key, c);
  }
  return c;
}

// The loops below add uint8 * weight with weights summing to 2^22: the sums stay below 2^31, so int32
// arithmetic (`| 0`) is exact, as Pillow's INT32 accumulators.

/** Resample the width of an RGB image to `width` (PIL's ImagingResampleHorizontal_8bpc). */
export function resampleWidth(image: RgbImage, width: number, into?: Uint8Array): RgbImage {
  if (width === image.width) return image;
  const { bounds, weights, ksize } = cachedCoefficients(image.width, width);
  const src = image.data;
  const out = into ?? new Uint8Array(width * image.height * 3);
  const half = 1 << (PRECISION_BITS - 1);
  const inRow = image.width * 3;
  let o = 0;
  for (let y = 0; y < image.height; y++) {
    const row = y * inRow;
    for (let xx = 0; xx < width; xx++) {
      const n = bounds[xx * 2 + 1];
      let p = row + bounds[xx * 2] * 3;
      let kb = xx * ksize;
      let r = half;
      let g = half;
      let b = half;
      if (n === 2) {
        const w0 = weights[kb];
        const w1 = weights[kb + 1];
        r = (r + src[p] * w0 + src[p + 3] * w1) | 0;
        g = (g + src[p + 1] * w0 + src[p + 4] * w1) | 0;
        b = (b + src[p + 2] * w0 + src[p + 5] * w1) | 0;
      } else {
        for (let x = 0; x < n; x++, p += 3) {
          const w = weights[kb++];
          r = (r + src[p] * w) | 0;
          g = (g + src[p + 1] * w) | 0;
          b = (b + src[p + 2] * w) | 0;
        }
      }
      out[o++] = clip8(r);
      out[o++] = clip8(g);
      out[o++] = clip8(b);
    }
  }
  return { data: out, width, height: image.height };
}

/** Resample the height of an RGB image to `height` (PIL's ImagingResampleVertical_8bpc). */
export function resampleHeight(image: RgbImage, height: number): RgbImage {
  if (height === image.height) return image;
  const { bounds, weights, ksize } = cachedCoefficients(image.height, height);
  const src = image.data;
  const rowLen = image.width * 3;
  const out = new Uint8Array(rowLen * height);
  const half = 1 << (PRECISION_BITS - 1);
  for (let yy = 0; yy < height; yy++) {
    const n = bounds[yy * 2 + 1];
    const first = bounds[yy * 2] * rowLen;
    const kb = yy * ksize;
    const o = yy * rowLen;
    if (n === 2) {
      // The common case when enlarging: two rows.
      const w0 = weights[kb];
      const w1 = weights[kb + 1];
      const second = first + rowLen;
      for (let i = 0; i < rowLen; i++) out[o + i] = clip8((half + src[first + i] * w0 + src[second + i] * w1) | 0);
    } else {
      for (let i = 0; i < rowLen; i++) {
        let ss = half;
        for (let y = 0, p = first + i; y < n; y++, p += rowLen) ss = (ss + src[p] * weights[kb + y]) | 0;
        out[o + i] = clip8(ss);
      }
    }
  }
  return { data: out, width: image.width, height };
}

/** PIL's `image.resize((width, height), Image.BILINEAR)`: horizontal pass, then vertical. */
export function resizeBilinear(image: RgbImage, width: number, height: number): RgbImage {
  return resampleHeight(resampleWidth(image, width), height);
}

let scratch = new Uint8Array(0);

/**
 * `resizeBilinear`, then an optional mirror, then a per-channel lookup table (3 x 256 floats:
 * ToTensor + Normalize), written as floats into `out` at `offset`: the loader's last step in one pass,
 * with no image-sized allocation.
 */
export function writeResized(image: RgbImage, width: number, height: number, flip: boolean, lut: Float32Array, out: Float32Array, offset: number): void {
  if (width === image.width && height === image.height) {
    writeTable(image, flip, lut, out, offset);
    return;
  }
  const need = width * image.height * 3;
  if (width !== image.width && scratch.length < need) scratch = new Uint8Array(need);
  const src = resampleWidth(image, width, width !== image.width ? scratch : undefined).data;
  const rowLen = width * 3;
  if (height === image.height) {
    writeTable({ data: src, width, height }, flip, lut, out, offset);
    return;
  }
  const { bounds, weights, ksize } = cachedCoefficients(image.height, height);
  const half = 1 << (PRECISION_BITS - 1);
  // Destination walk: left to right, or right to left for a mirror (pixel by pixel, channels in order).
  const step = flip ? -3 : 3;
  for (let yy = 0; yy < height; yy++) {
    const n = bounds[yy * 2 + 1];
    const r0 = bounds[yy * 2] * rowLen;
    const kb = yy * ksize;
    let d = offset + yy * rowLen + (flip ? rowLen - 3 : 0);
    const w0 = weights[kb];
    if (n === 1) {
      for (let s = r0; s < r0 + rowLen; s += 3, d += step) {
        out[d] = lut[clip8((half + src[s] * w0) | 0)];
        out[d + 1] = lut[256 + clip8((half + src[s + 1] * w0) | 0)];
        out[d + 2] = lut[512 + clip8((half + src[s + 2] * w0) | 0)];
      }
    } else if (n === 2) {
      const w1 = weights[kb + 1];
      for (let s = r0; s < r0 + rowLen; s += 3, d += step) {
        const t = s + rowLen;
        out[d] = lut[clip8((half + src[s] * w0 + src[t] * w1) | 0)];
        out[d + 1] = lut[256 + clip8((half + src[s + 1] * w0 + src[t + 1] * w1) | 0)];
        out[d + 2] = lut[512 + clip8((half + src[s + 2] * w0 + src[t + 2] * w1) | 0)];
      }
    } else if (n === 3) {
      const w1 = weights[kb + 1];
      const w2 = weights[kb + 2];
      for (let s = r0; s < r0 + rowLen; s += 3, d += step) {
        const t = s + rowLen;
        const u = t + rowLen;
        out[d] = lut[clip8((half + src[s] * w0 + src[t] * w1 + src[u] * w2) | 0)];
        out[d + 1] = lut[256 + clip8((half + src[s + 1] * w0 + src[t + 1] * w1 + src[u + 1] * w2) | 0)];
        out[d + 2] = lut[512 + clip8((half + src[s + 2] * w0 + src[t + 2] * w1 + src[u + 2] * w2) | 0)];
      }
    } else {
      throw new Error(`writeResized: ${n} taps: a shrinking axis belongs to libvips`);
    }
  }
}

/** An image at its final size: only the (mirror and) table lookup. */
function writeTable(image: RgbImage, flip: boolean, lut: Float32Array, out: Float32Array, offset: number): void {
  const { data, width, height } = image;
  if (!flip) {
    for (let i = 0; i < data.length; i += 3) {
      out[offset + i] = lut[data[i]];
      out[offset + i + 1] = lut[256 + data[i + 1]];
      out[offset + i + 2] = lut[512 + data[i + 2]];
    }
    return;
  }
  for (let y = 0; y < height; y++) {
    const row = y * width * 3;
    for (let x = 0; x < width; x++) {
      const s = row + x * 3;
      const d = offset + row + (width - 1 - x) * 3;
      out[d] = lut[data[s]];
      out[d + 1] = lut[256 + data[s + 1]];
      out[d + 2] = lut[512 + data[s + 2]];
    }
  }
}

/** Mirror left-right. */
export function flipHorizontal(image: RgbImage): RgbImage {
  const { width, height, data } = image;
  const out = new Uint8Array(data.length);
  for (let y = 0; y < height; y++) {
    const row = y * width * 3;
    for (let x = 0; x < width; x++) {
      const s = row + x * 3;
      const d = row + (width - 1 - x) * 3;
      out[d] = data[s];
      out[d + 1] = data[s + 1];
      out[d + 2] = data[s + 2];
    }
  }
  return { data: out, width, height };
}
