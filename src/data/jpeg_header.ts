/**
 * The few facts of a JPEG header that planning needs (size, channels, EXIF orientation), read in JS so
 * that a photo costs one libvips call instead of two (sharp's metadata() is a full call through its
 * thread pool). Returns undefined for anything unusual; the caller then asks sharp.
 */
export interface JpegHeader {
  /** Stored size, before EXIF orientation. */
  width: number;
  height: number;
  /** 1 grey, 3 YCbCr/RGB, 4 CMYK/YCCK. */
  components: number;
  /** EXIF orientation 1-8; 1 when absent. */
  orientation: number;
}

/** Start-of-frame markers (baseline, extended, progressive, lossless; Huffman and arithmetic). */
function isSof(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
}

export function readJpegHeader(buf: Uint8Array): JpegHeader | undefined {
  if (buf.length < 4 || buf[0] !== 0xff || buf[1] !== 0xd8) return undefined;
  let orientation: number | undefined;
  let p = 2;
  while (p + 4 <= buf.length) {
    if (buf[p] !== 0xff) return undefined;
    const marker = buf[p + 1];
    if (marker === 0xff) {
      p++; // fill byte
      continue;
    }
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      p += 2;
      continue;
    }
    const len = (buf[p + 2] << 8) | buf[p + 3];
    if (len < 2 || p + 2 + len > buf.length) return undefined;
    const body = p + 4;
    if (marker === 0xe1 && orientation === undefined) orientation = exifOrientation(buf, body, p + 2 + len);
    if (isSof(marker)) {
      if (len < 8) return undefined;
      const height = (buf[body + 1] << 8) | buf[body + 2];
      const width = (buf[body + 3] << 8) | buf[body + 4];
      const components = buf[body + 5];
      if (width === 0 || height === 0) return undefined; // height in a DNL marker: let libvips handle it
      return { width, height, components, orientation: orientation ?? 1 };
    }
    if (marker === 0xda || marker === 0xd9) return undefined; // scan before a frame header: malformed
    p += 2 + len;
  }
  return undefined;
}

/** Orientation tag (0x0112) of IFD0 in an APP1 "Exif\0\0" segment spanning [start, end). */
function exifOrientation(buf: Uint8Array, start: number, end: number): number | undefined {
  if (end - start < 14 || buf[start] !== 0x45 || buf[start + 1] !== 0x78 || buf[start + 2] !== 0x69 || buf[start + 3] !== 0x66) return undefined;
  const tiff = start + 6;
  const little = buf[tiff] === 0x49 && buf[tiff + 1] === 0x49;
  if (!little && !(buf[tiff] === 0x4d && buf[tiff + 1] === 0x4d)) return undefined;
  const u16 = (o: number) => (little ? buf[o] | (buf[o + 1] << 8) : (buf[o] << 8) | buf[o + 1]);
  const u32 = (o: number) => (little ? (buf[o] | (buf[o + 1] << 8) | (buf[o + 2] << 16)) + buf[o + 3] * 2 ** 24 : buf[o] * 2 ** 24 + ((buf[o + 1] << 16) | (buf[o + 2] << 8) | buf[o + 3]));
  const ifd = tiff + u32(tiff + 4);
  if (ifd + 2 > end) return undefined;
  const count = u16(ifd);
  for (let i = 0; i < count; i++) {
    const e = ifd + 2 + i * 12;
    if (e + 12 > end) return undefined;
    if (u16(e) === 0x0112) {
      const v = u16(e + 8);
      return v >= 1 && v <= 8 ? v : undefined;
    }
  }
  return undefined;
}
