/**
 * Class activation maps drawn over photos (lesson 11): a map scaled to 0..1 and upsampled to the photo
 * (src/model/cam.ts) is coloured with the jet colour map, as Zhou et al. draw theirs (blue = low,
 * red = high), and blended with the photo. The result is a `Pixels` that `showImages` shows.
 */
import type { Pixels } from './image';

/** The jet colour map: t in 0..1 -> RGB bytes (dark blue, blue, cyan, yellow, red, dark red). */
export function jet(t: number): [number, number, number] {
  const x = Math.max(0, Math.min(1, t));
  const ch = (c: number) => Math.round(255 * Math.max(0, Math.min(1, 1.5 - Math.abs(4 * x - c))));
  return [ch(3), ch(2), ch(1)];
}

export interface OverlayOptions {
  /** Weight of the colour over the photo, 0..1 (default 0.5). */
  alpha?: number;
}

/**
 * photo: RGB bytes [H, W, 3] (src/data's RgbImage fits); map: H*W values in 0..1, row by row (an
 * upsampled, normalised CAM). Each pixel is (1 - alpha) * photo + alpha * jet(map).
 */
export function overlayMap(photo: { data: Uint8Array; width: number; height: number }, map: ArrayLike<number>, opts: OverlayOptions = {}): Pixels {
  const { width: w, height: h } = photo;
  if (photo.data.length !== w * h * 3) throw new Error(`the photo is ${w}x${h} but holds ${photo.data.length} bytes, not ${w * h * 3} (RGB)`);
  if (map.length !== w * h) throw new Error(`the map has ${map.length} values but the photo ${w}x${h} has ${w * h} pixels: upsample it to the photo first`);
  const alpha = opts.alpha ?? 0.5;
  if (!(alpha >= 0 && alpha <= 1)) throw new Error(`alpha is a weight in 0..1, got ${alpha}`);
  const out = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) {
    const c = jet(map[i]);
    for (let k = 0; k < 3; k++) out[i * 3 + k] = Math.round((1 - alpha) * photo.data[i * 3 + k] + alpha * c[k]);
  }
  return { data: out, width: w, height: h, channels: 3 };
}
