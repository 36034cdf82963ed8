/**
 * A photo that cannot be decoded: empty, truncated, corrupt, not an image, or larger than
 * MAX_IMAGE_PIXELS. The message is one line naming the cause (libvips's first line where it decoded).
 * The loader skips such a file and names it once; predict reports it.
 */
export class ImageError extends Error {
  override readonly name = 'ImageError';
}

/**
 * Largest image decoded, in pixels: PIL's decompression-bomb limit (Image.MAX_IMAGE_PIXELS x 2, where
 * PIL raises DecompressionBombError), so what torchvision refuses is refused here too.
 */
export const MAX_IMAGE_PIXELS = 2 * 89_478_485;

/** libvips's (and sharp's) errors as an ImageError of one line; anything else (a bug) passes through. */
export function asImageError(e: unknown): unknown {
  if (e instanceof Error && e.constructor === Error) {
    const line = e.message.split('\n').map((l) => l.trim()).find((l) => l) ?? 'cannot be decoded';
    return new ImageError(line);
  }
  return e;
}
