/**
 * Decoding with sharp (libvips): any image to RGB bytes, with a transform plan (transforms.ts) run in
 * one libvips pass. What PIL's `Image.open(f).convert('RGB')` + torchvision would give, namely:
 * - EXIF orientation applied (`autoOrient`), so a phone photo is upright; PIL does not do this, and
 *   torchvision's ImageFolder would train on sideways photos.
 * - greyscale -> RGB by copying the channel; palette -> its colours; CMYK -> RGB through libvips's
 *   CMYK profile (PIL uses a plain formula, so colours differ slightly); alpha dropped as PIL's
 *   convert('RGB') does (RGB values kept as stored, not flattened, not premultiplied).
 * - embedded ICC profiles ignored, as PIL's convert('RGB') ignores them: the same bytes torchvision sees.
 * - resampling bilinear with antialiasing (PIL's filter): libvips reduces each shrinking axis,
 *   resample.ts enlarges each growing axis exactly as PIL; a crop is cut before any resampling, and
 *   an image already at the output size is not resampled at all.
 * - shrink-on-load for JPEG when the output is 4x or more smaller than the crop: libjpeg decodes at
 *   1/2, 1/4 or 1/8 and libvips resizes the rest (sharp's rule that keeps a 2x final reduce).
 * - BMP and Netpbm (.bmp/.ppm/.pgm, in torchvision's IMG_EXTENSIONS) through bitmap_formats.ts, which
 *   this libvips build cannot read.
 * Corrupt, truncated, empty, non-image or too large (image_error.ts) input rejects with an ImageError
 * of one line naming the cause.
 */
import { promises as fsp } from 'fs';
import sharp, { Sharp, SharpOptions } from 'sharp';
import { Rng } from '../util/rng';
import { decodeBitmap, sniffBitmap } from './bitmap_formats';
import { asImageError, ImageError, MAX_IMAGE_PIXELS } from './image_error';
import { readJpegHeader } from './jpeg_header';
import { flipHorizontal, resampleHeight, resampleWidth } from './resample';
import { identityPlan, ImagePlan, isResized, RgbImage, Transform } from './transforms';

/** A file path or the file's bytes. */
export type ImageSource = string | Buffer;

export interface ImageInfo {
  /** Size after EXIF orientation. */
  width: number;
  height: number;
  /** sharp's format name: jpeg, png, webp, tiff, gif... */
  format: string;
  /** EXIF orientation, 1 (none) to 8. */
  orientation: number;
  hasAlpha: boolean;
  /** Bands as stored: 1 grey, 2 grey + alpha, 3 RGB/YCbCr, 4 RGBA or CMYK. */
  channels: number;
}

/** libvips's own errors count (a truncated JPEG fails); libjpeg's warnings (extra bytes) do not, as in PIL. */
const OPEN_OPTIONS: SharpOptions = { failOn: 'error', ignoreIcc: true, limitInputPixels: MAX_IMAGE_PIXELS };

// libvips's operation cache can never hit here (every decode is a new buffer, usually with a new crop),
// and looking up and filling it cost about 0.1-0.2 ms of CPU per photo (measured on the flower photos)
// and held up to 50 MB of pixels. It is a process-wide sharp setting: decoding is this project's main use.
sharp.cache(false);

/** Shrink-on-load only where the output is this many times smaller than the crop on both axes. */
const SHRINK_ON_LOAD_MIN_FACTOR = 4;

async function bytesOf(source: ImageSource): Promise<Buffer> {
  const buf = typeof source === 'string' ? await fsp.readFile(source) : source;
  if (buf.length === 0) throw new ImageError('empty file');
  return buf;
}

/** Header facts needed to plan: the oriented size, the format, alpha (BMP and Netpbm are decoded to know). */
export async function imageInfo(source: ImageSource): Promise<ImageInfo> {
  const buf = await bytesOf(source);
  try {
    return (await probe(buf)).info;
  } catch (e) {
    throw asImageError(e);
  }
}

/** What the file is; BMP and Netpbm, which libvips here cannot read, come decoded already. */
async function probe(buf: Buffer): Promise<{ info: ImageInfo; decoded?: RgbImage }> {
  const bitmap = sniffBitmap(buf);
  if (bitmap) {
    const decoded = decodeBitmap(buf);
    return { info: { width: decoded.width, height: decoded.height, format: bitmap, orientation: 1, hasAlpha: false, channels: 3 }, decoded };
  }
  return { info: await infoOf(buf) };
}

async function infoOf(buf: Buffer): Promise<ImageInfo> {
  const jpeg = readJpegHeader(buf);
  if (jpeg) return oriented(jpeg.width, jpeg.height, { format: 'jpeg', orientation: jpeg.orientation, hasAlpha: false, channels: jpeg.components });
  const m = await sharp(buf, OPEN_OPTIONS).metadata();
  if (!m.width || !m.height || !m.format) throw new ImageError('not an image');
  return oriented(m.width, m.height, { format: m.format, orientation: m.orientation ?? 1, hasAlpha: !!m.hasAlpha, channels: m.channels ?? 3 });
}

function oriented(width: number, height: number, rest: Omit<ImageInfo, 'width' | 'height'>): ImageInfo {
  const swap = rest.orientation >= 5 && rest.orientation <= 8;
  return { width: swap ? height : width, height: swap ? width : height, ...rest };
}

/** The whole image as RGB bytes, upright. */
export async function decodeImage(source: ImageSource): Promise<RgbImage> {
  return (await loadImage(source)).image;
}

export interface LoadOptions {
  /** Geometric transforms to run (a crop, a resize, a flip); none: the whole image. */
  transform?: Transform;
  /** Random source for random transforms; a fixed seed gives fixed pixels. */
  rng?: Rng;
}

/**
 * Pixels from libvips with the last steps still to run in JS: enlarging the axes that grow (PIL's
 * bilinear, resample.ts) and the mirror when it could not be left to libvips. `finish` does them;
 * the loader does them while writing the batch (resample.writeResized), with no extra copy.
 */
export interface PendingImage {
  pixels: RgbImage;
  /** Final size. */
  width: number;
  height: number;
  /** Mirror still to apply. */
  flip: boolean;
}

/** Decode `source` and run `transform` on it: the RGB result and the plan that made it. */
export async function loadImage(source: ImageSource, opts: LoadOptions = {}): Promise<{ image: RgbImage; plan: ImagePlan }> {
  const { pending, plan } = await loadPending(source, opts);
  return { image: finish(pending), plan };
}

/** As loadImage, with the JS steps left to the caller (see PendingImage). */
export async function loadPending(source: ImageSource, opts: LoadOptions = {}): Promise<{ pending: PendingImage; plan: ImagePlan }> {
  const buf = await bytesOf(source);
  try {
    const { info, decoded } = await probe(buf);
    const start = identityPlan(info.width, info.height);
    const plan = opts.transform ? opts.transform(start, opts.rng ?? new Rng(0)) : start;
    return { pending: await render(buf, info, plan, decoded), plan };
  } catch (e) {
    throw asImageError(e);
  }
}

/** Run the JS steps of a PendingImage: the final RGB bytes. */
export function finish(p: PendingImage): RgbImage {
  let image = p.pixels;
  if (image.width !== p.width || image.height !== p.height) image = resampleHeight(resampleWidth(image, p.width), p.height);
  return p.flip ? flipHorizontal(image) : image;
}

/** Run a plan on an image: one libvips pass (crop, shrinking axes, colour), the rest left pending. */
export async function render(buf: Buffer, info: ImageInfo, plan: ImagePlan, decoded?: RgbImage): Promise<PendingImage> {
  const { crop, width, height } = plan;
  let pipeline: Sharp;
  if (decoded) {
    pipeline = sharp(decoded.data, { raw: { width: decoded.width, height: decoded.height, channels: 3 } });
  } else if (info.hasAlpha) {
    // PIL's convert('RGB') drops alpha before anything else; sharp would resize premultiplied.
    const straight = await sharp(buf, OPEN_OPTIONS).autoOrient().removeAlpha().raw().toBuffer({ resolveWithObject: true });
    pipeline = sharp(straight.data, { raw: { width: straight.info.width, height: straight.info.height, channels: straight.info.channels } });
  } else {
    pipeline = sharp(buf, OPEN_OPTIONS);
    if (info.orientation !== 1) pipeline = pipeline.autoOrient();
  }
  // A 3-band JPEG decodes to sRGB bytes already; anything else is converted (grey, CMYK, 16-bit).
  const plainRgb = info.format === 'jpeg' && info.channels === 3;
  // libvips takes every axis that shrinks; resample.ts every axis that grows.
  const vipsWidth = Math.min(width, crop.width);
  const vipsHeight = Math.min(height, crop.height);
  const whole = crop.left === 0 && crop.top === 0 && crop.width === info.width && crop.height === info.height;
  const factor = Math.min(crop.width / width, crop.height / height);
  if (!whole && info.format === 'jpeg' && !info.hasAlpha && info.orientation === 1 && factor >= SHRINK_ON_LOAD_MIN_FACTOR) {
    // Resize the whole image to the crop's scale (JPEG shrink-on-load applies), then cut the crop out.
    const sx = width / crop.width;
    const sy = height / crop.height;
    const fullW = Math.max(width, Math.round(info.width * sx));
    const fullH = Math.max(height, Math.round(info.height * sy));
    pipeline = pipeline
      .resize(fullW, fullH, { fit: 'fill', kernel: 'linear', fastShrinkOnLoad: false })
      .extract({ left: Math.min(Math.round(crop.left * sx), fullW - width), top: Math.min(Math.round(crop.top * sy), fullH - height), width, height });
  } else {
    if (!whole) pipeline = pipeline.extract(crop);
    if (vipsWidth !== crop.width || vipsHeight !== crop.height) {
      pipeline = pipeline.resize(vipsWidth, vipsHeight, { fit: 'fill', kernel: 'linear', fastShrinkOnLoad: false });
    }
  }
  const grows = vipsWidth < width || vipsHeight < height;
  if (plan.flip && !grows) pipeline = pipeline.flop();
  if (!plainRgb) pipeline = pipeline.removeAlpha().toColourspace('srgb');
  const { data, info: out } = await pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  if (out.channels !== 3) throw new ImageError(`decoded to ${out.channels} channels, expected RGB`);
  if (out.width !== vipsWidth || out.height !== vipsHeight) {
    throw new ImageError(`decoded ${out.width}x${out.height}, planned ${vipsWidth}x${vipsHeight}${isResized(plan) ? '' : ' (no resize)'}`);
  }
  return { pixels: { data, width: out.width, height: out.height }, width, height, flip: plan.flip && grows };
}
