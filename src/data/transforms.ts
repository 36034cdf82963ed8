/**
 * The notes' transforms with torchvision's semantics, as small composable functions.
 *
 * Geometric transforms (crop, resize, flip) do not touch pixels: each turns an `ImagePlan` (what to
 * cut from the oriented source, the output size, whether to mirror) into the next, so that decode.ts
 * can run the whole chain in one libvips pass (crop before resize, shrink-on-load where it pays).
 * Pixel transforms (`toTensor`, `normalize`) work on the decoded RGB bytes, HWC, as our tensors are NHWC.
 *
 *   train: compose(randomResizedCrop({ size: 224 }), randomHorizontalFlip())   then toTensor, normalize
 *   val:   resize({ size: [224, 224] })                                          then toTensor, normalize
 */
import { Rng } from '../util/rng';

/** A rectangle in pixels of the oriented source image. */
export interface Box {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** What the geometric transforms decided for one image: crop, then resize, then mirror. */
export interface ImagePlan {
  /** Size of the source after EXIF orientation. */
  readonly sourceWidth: number;
  readonly sourceHeight: number;
  /** Region of the source to keep (the whole image unless a crop said otherwise). */
  readonly crop: Box;
  /** Output size; equal to the crop's size unless a resize said otherwise. */
  readonly width: number;
  readonly height: number;
  /** Mirror left-right at the end. */
  readonly flip: boolean;
}

/** A geometric transform. Random ones draw from `rng`; deterministic ones ignore it. */
export type Transform = (plan: ImagePlan, rng: Rng) => ImagePlan;

/** Output size as torchvision takes it: one number for a square, or [height, width]. */
export type Size = number | readonly [number, number];

/** The plan that leaves a `width` x `height` image as it is. */
export function identityPlan(width: number, height: number): ImagePlan {
  return { sourceWidth: width, sourceHeight: height, crop: { left: 0, top: 0, width, height }, width, height, flip: false };
}

/** Apply transforms left to right, as torchvision's `Compose`. */
export function compose(...transforms: Transform[]): Transform {
  return (plan, rng) => transforms.reduce((p, t) => t(p, rng), plan);
}

/** True when the plan will resample (its output size differs from its crop). */
export function isResized(plan: ImagePlan): boolean {
  return plan.width !== plan.crop.width || plan.height !== plan.crop.height;
}

/** Cut `box` (in the plan's current output coordinates) out of the plan. Crop before any resize. */
export function cropPlan(plan: ImagePlan, box: Box): ImagePlan {
  if (isResized(plan)) throw new Error('a crop after a resize is not supported: crop first, then resize');
  const { crop } = plan;
  if (box.left < 0 || box.top < 0 || box.width < 1 || box.height < 1 || box.left + box.width > crop.width || box.top + box.height > crop.height) {
    throw new Error(`crop ${JSON.stringify(box)} is outside the ${crop.width}x${crop.height} image`);
  }
  // Under a pending mirror, the box's left edge is measured from the source's right edge.
  const left = plan.flip ? crop.left + crop.width - box.left - box.width : crop.left + box.left;
  return { ...plan, crop: { left, top: crop.top + box.top, width: box.width, height: box.height }, width: box.width, height: box.height };
}

function sizeHW(size: Size): [number, number] {
  const [h, w] = typeof size === 'number' ? [size, size] : size;
  if (!(Number.isInteger(h) && Number.isInteger(w) && h > 0 && w > 0)) throw new Error(`size must be positive integers, got ${JSON.stringify(size)}`);
  return [h, w];
}

/** Python's round(): halves go to the even neighbour (round(2.5) == 2), as torchvision's int(round(x)). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export interface RandomResizedCropArgs {
  /** Output size. 224: the notes' input. */
  size: Size;
  /** Range of the crop's area as a fraction of the image's. [0.08, 1]: torchvision's default (the Inception paper's). */
  scale?: readonly [number, number];
  /** Range of the crop's aspect ratio w/h, sampled log-uniformly. [3/4, 4/3]: torchvision's default. */
  ratio?: readonly [number, number];
}

/**
 * torchvision's `RandomResizedCrop.get_params`, step for step: up to 10 tries of a random area and
 * log-uniform aspect ratio that fit, then a centre crop clamped to the ratio range.
 */
export function randomResizedCropBox(width: number, height: number, rng: Rng, scale: readonly [number, number] = [0.08, 1], ratio: readonly [number, number] = [3 / 4, 4 / 3]): Box {
  const area = height * width;
  const logRatio = [Math.log(ratio[0]), Math.log(ratio[1])];
  for (let attempt = 0; attempt < 10; attempt++) {
    const targetArea = area * rng.uniform(scale[0], scale[1]);
    const aspectRatio = Math.exp(rng.uniform(logRatio[0], logRatio[1]));
    const w = roundHalfEven(Math.sqrt(targetArea * aspectRatio));
    const h = roundHalfEven(Math.sqrt(targetArea / aspectRatio));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const top = rng.int(0, height - h);
      const left = rng.int(0, width - w);
      return { left, top, width: w, height: h };
    }
  }
  return centerFallbackBox(width, height, ratio);
}

/** The fallback of get_params: the whole image, or its centre cut to the nearest allowed ratio. */
export function centerFallbackBox(width: number, height: number, ratio: readonly [number, number] = [3 / 4, 4 / 3]): Box {
  const inRatio = width / height;
  let w = width;
  let h = height;
  if (inRatio < Math.min(...ratio)) {
    h = roundHalfEven(w / Math.min(...ratio));
  } else if (inRatio > Math.max(...ratio)) {
    w = roundHalfEven(h * Math.max(...ratio));
  }
  return { left: Math.floor((width - w) / 2), top: Math.floor((height - h) / 2), width: w, height: h };
}

/** `transforms.RandomResizedCrop(size, scale, ratio)`: a random crop, resized (bilinear) to `size`. */
export function randomResizedCrop(args: RandomResizedCropArgs): Transform {
  const [h, w] = sizeHW(args.size);
  const scale = args.scale ?? [0.08, 1];
  const ratio = args.ratio ?? [3 / 4, 4 / 3];
  if (!(scale[0] <= scale[1] && ratio[0] <= ratio[1])) throw new Error('scale and ratio must be [min, max]');
  return (plan, rng) => resizePlan(cropPlan(plan, randomResizedCropBox(plan.width, plan.height, rng, scale, ratio)), w, h);
}

export interface RandomHorizontalFlipArgs {
  /** Probability of mirroring. 0.5: torchvision's default. */
  p?: number;
}

/** `transforms.RandomHorizontalFlip(p)`: one draw per image, mirrored when it is below p. */
export function randomHorizontalFlip(args: RandomHorizontalFlipArgs = {}): Transform {
  const p = args.p ?? 0.5;
  return (plan, rng) => (rng.next() < p ? { ...plan, flip: !plan.flip } : plan);
}

/** Set the output size: the resampling itself happens in decode.ts, bilinear as torchvision's PIL path. */
export function resizePlan(plan: ImagePlan, width: number, height: number): ImagePlan {
  return { ...plan, width, height };
}

export interface ResizeArgs {
  /** [height, width] to resize to exactly, as `Resize((224, 224))`; or one number for the shorter edge, as `Resize(256)`. */
  size: Size;
}

/** `transforms.Resize(size)` with bilinear interpolation and antialiasing (PIL's resize). */
export function resize(args: ResizeArgs): Transform {
  if (typeof args.size !== 'number') {
    const [h, w] = sizeHW(args.size);
    return (plan) => resizePlan(plan, w, h);
  }
  const short = sizeHW(args.size)[0];
  // torchvision's _compute_resized_output_size: the shorter edge becomes `size`, the longer one keeps the ratio.
  return (plan) => {
    const { width: w, height: h } = plan;
    const long = Math.floor((short * Math.max(w, h)) / Math.min(w, h));
    return w <= h ? resizePlan(plan, short, long) : resizePlan(plan, long, short);
  };
}

// ---- pixel transforms -------------------------------------------------------------------------

/** Decoded pixels: RGB bytes, row-major HWC. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

/** Per-channel mean and std, as `transforms.Normalize(mean, std)`. */
export interface Normalization {
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
}

/** The notes' `Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))`: pixels to [-1, 1]. */
export const NOTES_NORMALIZATION: Normalization = { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] };

/** `transforms.ToTensor()`: bytes to float32 in [0, 1] (x / 255), kept HWC. */
export function toTensor(image: RgbImage): Float32Array {
  const out = new Float32Array(image.data.length);
  for (let i = 0; i < out.length; i++) out[i] = image.data[i] / 255;
  return out;
}

/** `transforms.Normalize(mean, std)` in place on HWC floats: (x - mean[c]) / std[c], in float32 as torch. */
export function normalize(x: Float32Array, norm: Normalization): Float32Array {
  const mean = norm.mean.map(Math.fround);
  const std = norm.std.map(Math.fround);
  for (let i = 0; i < x.length; i++) {
    const c = i % 3;
    x[i] = Math.fround(x[i] - mean[c]) / std[c];
  }
  return x;
}

/**
 * `normalize(toTensor(image))` written straight into `out` at `offset` (a batch buffer), through a
 * 3 x 256 lookup table built with the same float32 steps, so the values are identical.
 */
export function writeNormalized(image: RgbImage, norm: Normalization, out: Float32Array, offset = 0): void {
  const lut = normalizationTable(norm);
  const { data } = image;
  for (let i = 0; i < data.length; i += 3) {
    out[offset + i] = lut[data[i]];
    out[offset + i + 1] = lut[256 + data[i + 1]];
    out[offset + i + 2] = lut[512 + data[i + 2]];
  }
}

const tables = new Map<string, Float32Array>();
/** ToTensor + Normalize as a table: entry c * 256 + v is channel c's value for byte v. */
export function normalizationTable(norm: Normalization): Float32Array {
  const key = `${norm.mean.join(',')}/${norm.std.join(',')}`;
  let lut = tables.get(key);
  if (!lut) {
    const ramp = new Uint8Array(256 * 3);
    for (let v = 0; v < 256; v++) ramp.fill(v, v * 3, v * 3 + 3);
    const x = normalize(toTensor({ data: ramp, width: 256, height: 1 }), norm);
    lut = new Float32Array(768);
    for (let v = 0; v < 256; v++) for (let c = 0; c < 3; c++) lut[c * 256 + v] = x[v * 3 + c];
    tables.set(key, lut);
  }
  return lut;
}

// ---- the notes' pipelines ----------------------------------------------------------------------

/** The notes' `data_transform["train"]` without the tensor steps: RandomResizedCrop(size) + RandomHorizontalFlip(). */
export function trainTransform(size = 224): Transform {
  return compose(randomResizedCrop({ size }), randomHorizontalFlip());
}

/** The notes' `data_transform["val"]` without the tensor steps: Resize((size, size)). */
export function evalTransform(size = 224): Transform {
  return resize({ size: [size, size] });
}
