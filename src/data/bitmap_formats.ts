/**
 * BMP and Netpbm (PPM/PGM/PBM) decoders, because torchvision's IMG_EXTENSIONS lists .bmp, .ppm and
 * .pgm and PIL opens them, but the libvips in sharp's prebuilt binaries reads neither. Small and
 * strict: what they cannot read (RLE-compressed BMP, PAM) throws and the file is skipped with a warning.
 * The output is RGB bytes, handed to libvips as raw pixels for the rest of the pipeline.
 */
import { ImageError, MAX_IMAGE_PIXELS } from './image_error';
import { RgbImage } from './transforms';

/** 'bmp', 'pnm', or undefined for anything else (left to libvips). */
export function sniffBitmap(buf: Uint8Array): 'bmp' | 'pnm' | undefined {
  if (buf.length >= 26 && buf[0] === 0x42 && buf[1] === 0x4d) return 'bmp';
  if (buf.length >= 3 && buf[0] === 0x50 && buf[1] >= 0x31 && buf[1] <= 0x36 && /\s/.test(String.fromCharCode(buf[2]))) return 'pnm';
  return undefined;
}

export function decodeBitmap(buf: Uint8Array): RgbImage {
  const kind = sniffBitmap(buf);
  if (kind === 'bmp') return decodeBmp(buf);
  if (kind === 'pnm') return decodePnm(buf);
  throw new ImageError('not a BMP or Netpbm file');
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new ImageError(`bad BMP/PNM file: ${what}`);
}

/** Windows BMP: 1/4/8-bit palette, 16/24/32-bit, uncompressed or with bit fields; bottom-up or top-down. Alpha dropped. */
export function decodeBmp(buf: Uint8Array): RgbImage {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  check(buf.length >= 26, 'truncated header');
  const pixelOffset = dv.getUint32(10, true);
  const headerSize = dv.getUint32(14, true);
  const core = headerSize === 12;
  check(core || (headerSize >= 40 && buf.length >= 14 + 40), `header of ${headerSize} bytes in a file of ${buf.length}`);
  const width = core ? dv.getUint16(18, true) : dv.getInt32(18, true);
  const rawHeight = core ? dv.getInt16(20, true) : dv.getInt32(22, true);
  const bpp = core ? dv.getUint16(24, true) : dv.getUint16(28, true);
  const compression = core ? 0 : dv.getUint32(30, true);
  const height = Math.abs(rawHeight);
  check(width > 0 && height > 0 && width * height <= MAX_IMAGE_PIXELS, `size ${width}x${height}`);
  check(compression === 0 || compression === 3 || compression === 6, `compression ${compression} (RLE is not supported: convert to PNG)`);
  check([1, 4, 8, 16, 24, 32].includes(bpp), `${bpp} bits per pixel`);
  const topDown = rawHeight < 0;
  let masks: [number, number, number] | undefined;
  if (compression === 3 || compression === 6) {
    check(buf.length >= 66, 'truncated bit fields');
    masks = [dv.getUint32(54, true), dv.getUint32(58, true), dv.getUint32(62, true)];
  }
  else if (bpp === 16) masks = [0x7c00, 0x03e0, 0x001f];
  else if (bpp === 32) masks = [0xff0000, 0xff00, 0xff];
  let palette: Uint8Array | undefined;
  if (bpp <= 8) {
    const entries = (!core && dv.getUint32(46, true)) || 1 << bpp;
    const start = 14 + headerSize;
    const size = core ? 3 : 4;
    palette = new Uint8Array(256 * 3);
    for (let i = 0; i < Math.min(entries, 256); i++) {
      const p = start + i * size;
      check(p + 3 <= buf.length, 'palette');
      palette.set([buf[p + 2], buf[p + 1], buf[p]], i * 3);
    }
  }
  const stride = Math.floor((width * bpp + 31) / 32) * 4;
  check(pixelOffset + stride * height <= buf.length, 'truncated pixel data');
  const out = new Uint8Array(width * height * 3);
  const channel = (v: number, mask: number) => {
    if (mask === 0) return 0;
    const shift = 31 - Math.clz32(mask & -mask); // the mask's lowest set bit
    const bits = 32 - Math.clz32(mask >>> shift);
    const max = 2 ** bits - 1;
    return Math.round((((v & mask) >>> shift) * 255) / max);
  };
  for (let y = 0; y < height; y++) {
    const row = pixelOffset + (topDown ? y : height - 1 - y) * stride;
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      if (palette) {
        const bit = x * bpp;
        const idx = (buf[row + (bit >> 3)] >> (8 - bpp - (bit & 7))) & ((1 << bpp) - 1);
        out[o] = palette[idx * 3];
        out[o + 1] = palette[idx * 3 + 1];
        out[o + 2] = palette[idx * 3 + 2];
      } else if (bpp === 24) {
        const p = row + x * 3;
        out[o] = buf[p + 2];
        out[o + 1] = buf[p + 1];
        out[o + 2] = buf[p];
      } else if (bpp === 16 || bpp === 32) {
        const v = bpp === 16 ? dv.getUint16(row + x * 2, true) : dv.getUint32(row + x * 4, true);
        out[o] = channel(v, masks![0]);
        out[o + 1] = channel(v, masks![1]);
        out[o + 2] = channel(v, masks![2]);
      } else {
        check(false, `${bpp} bits per pixel`);
      }
    }
  }
  return { data: out, width, height };
}

/** Netpbm P1-P6 (PBM, PGM, PPM; plain or raw; 8 or 16 bits, scaled to 8). */
export function decodePnm(buf: Uint8Array): RgbImage {
  const type = buf[1] - 0x30;
  let p = 2;
  const token = (): number => {
    for (;;) {
      while (p < buf.length && /\s/.test(String.fromCharCode(buf[p]))) p++;
      if (buf[p] === 0x23) while (p < buf.length && buf[p] !== 0x0a) p++;
      else break;
    }
    let s = '';
    while (p < buf.length && /[0-9]/.test(String.fromCharCode(buf[p]))) s += String.fromCharCode(buf[p++]);
    check(s.length > 0, 'header');
    return Number(s);
  };
  const width = token();
  const height = token();
  const maxval = type === 1 || type === 4 ? 1 : token();
  check(width > 0 && height > 0 && width * height <= MAX_IMAGE_PIXELS && maxval > 0 && maxval < 65536, 'header values');
  const channels = type === 3 || type === 6 ? 3 : 1;
  const n = width * height * channels;
  // Before allocating: every value takes at least one byte in the plain formats, its bytes in the raw ones.
  const needed = type <= 3 ? n : type === 4 ? Math.ceil(width / 8) * height : n * (maxval > 255 ? 2 : 1);
  check(buf.length - p >= needed, 'truncated');
  const values = new Uint16Array(n);
  if (type <= 3) {
    for (let i = 0; i < n; i++) {
      if (type === 1) {
        while (p < buf.length && !(buf[p] === 0x30 || buf[p] === 0x31)) p++;
        check(p < buf.length, 'truncated');
        values[i] = buf[p++] - 0x30;
      } else values[i] = token();
    }
  } else {
    p++; // the single whitespace after the header
    if (type === 4) {
      const rowBytes = Math.ceil(width / 8);
      check(p + rowBytes * height <= buf.length, 'truncated');
      for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) values[y * width + x] = (buf[p + y * rowBytes + (x >> 3)] >> (7 - (x & 7))) & 1;
    } else {
      const wide = maxval > 255;
      check(p + n * (wide ? 2 : 1) <= buf.length, 'truncated');
      for (let i = 0; i < n; i++) values[i] = wide ? (buf[p + 2 * i] << 8) | buf[p + 2 * i + 1] : buf[p + i];
    }
  }
  const out = new Uint8Array(width * height * 3);
  const bitmap = type === 1 || type === 4; // PBM: 1 is black
  for (let i = 0; i < width * height; i++) {
    for (let c = 0; c < 3; c++) {
      const v = values[i * channels + (channels === 3 ? c : 0)];
      out[i * 3 + c] = bitmap ? (v ? 0 : 255) : Math.round((Math.min(v, maxval) * 255) / maxval);
    }
  }
  return { data: out, width, height };
}
