/**
 * The zip reader of the `.pth` zip format (what torch.save writes since 1.6, through miniz): the
 * central directory, each entry's local header, stored or deflated data, zip64 where sizes or
 * offsets need it. Every entry's CRC-32 is checked against the directory, as PyTorch's own reader
 * (caffe2's PyTorchStreamReader on miniz) does, so a flipped bit in a weight is refused instead of
 * loaded as a wrong weight.
 *
 * Every size and offset is checked against the file before it is used, and nothing is allocated
 * that the file's own bytes do not justify: stored entries are views into the file; a deflated
 * entry's declared size must fit deflate's largest ratio (1032:1) and the archive's inflated bytes
 * together stay under MAX_INFLATED_BYTES.
 */
import { inflateSync } from 'fflate';
import { crc32 } from './crc32';
import { printable, PthError } from './pickle';

const EOCD = 0x06054b50;
const EOCD64 = 0x06064b50;
const EOCD64_LOCATOR = 0x07064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
/** Deflate's best compression: 258 bytes from 2 bits, about 1032:1. */
const DEFLATE_MAX_RATIO = 1032;
/** All deflated entries of one archive together (torch stores its entries uncompressed). */
export const MAX_INFLATED_BYTES = 2 ** 28;

function bad(msg: string): never {
  throw new PthError(`damaged zip archive: ${msg}`);
}

interface Entry {
  name: string;
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  localOffset: number;
}

/** The end-of-central-directory record (zip64's when the classic one says so). */
function findDirectory(bytes: Uint8Array, v: DataView): { count: number; offset: number; size: number; end: number } {
  let e = -1;
  for (let p = bytes.length - 22; p >= 0 && bytes.length - p <= 22 + 0xffff; p--) {
    if (v.getUint32(p, true) === EOCD) {
      e = p;
      break;
    }
  }
  if (e < 0) throw new PthError(`truncated (file ends at byte ${bytes.length} while reading the zip archive: its central directory is missing)`);
  // The record and its comment end the file (miniz writes nothing after them): bytes inserted into
  // the record, or after it, would otherwise leave a record of zeros that reads as an empty archive.
  const commentEnd = e + 22 + v.getUint16(e + 20, true);
  if (commentEnd !== bytes.length) bad(`the end record at byte ${e} and its comment end at byte ${commentEnd}, but the file ends at byte ${bytes.length}`);
  let count = v.getUint16(e + 10, true);
  if (v.getUint16(e + 8, true) !== count) bad(`the end record counts ${v.getUint16(e + 8, true)} entries on this disk and ${count} in all`);
  let size = v.getUint32(e + 12, true);
  let offset = v.getUint32(e + 16, true);
  let end = e;
  if (count === 0xffff || size === 0xffffffff || offset === 0xffffffff) {
    const loc = e - 20;
    if (loc < 0 || v.getUint32(loc, true) !== EOCD64_LOCATOR) bad('a zip64 archive without its zip64 locator');
    const r = u64(v, loc + 8, 'the zip64 record offset');
    if (r + 56 > loc || v.getUint32(r, true) !== EOCD64) bad(`the zip64 record at byte ${r} is missing`);
    count = u64(v, r + 32, 'the entry count');
    size = u64(v, r + 40, 'the central directory size');
    offset = u64(v, r + 48, 'the central directory offset');
    end = r;
  }
  if (offset + size > end) bad(`the central directory (${size} bytes at byte ${offset}) runs past its end record at byte ${end}`);
  if (offset + size < end && !zip64Tail(v, offset + size, e)) {
    bad(`the central directory (${size} bytes at byte ${offset}) ends ${end - offset - size} bytes before its end record at byte ${end}`);
  }
  if (count * 46 > size) bad(`the central directory claims ${count} entries in ${size} bytes`);
  return { count, offset, size, end };
}

/** Whether zip64's end record and locator, and only they, fill bytes `from` to the classic end record at `e` (miniz writes them always). */
function zip64Tail(v: DataView, from: number, e: number): boolean {
  const loc = e - 20;
  if (loc < from + 56 || v.getUint32(loc, true) !== EOCD64_LOCATOR || v.getUint32(from, true) !== EOCD64) return false;
  return v.getBigUint64(loc + 8, true) === BigInt(from) && v.getBigUint64(from + 4, true) === BigInt(loc - from - 12);
}

function u64(v: DataView, at: number, what: string): number {
  const x = v.getBigUint64(at, true);
  if (x > BigInt(Number.MAX_SAFE_INTEGER)) bad(`${what} is ${x}`);
  return Number(x);
}

function readEntries(bytes: Uint8Array, v: DataView): { entries: Entry[]; dirOffset: number } {
  const dir = findDirectory(bytes, v);
  const entries: Entry[] = [];
  let p = dir.offset;
  const stop = dir.offset + dir.size;
  const names = new Set<string>();
  for (let i = 0; i < dir.count; i++) {
    if (p + 46 > stop || v.getUint32(p, true) !== CENTRAL) bad(`central directory entry ${i} at byte ${p} is missing`);
    const flags = v.getUint16(p + 8, true);
    const method = v.getUint16(p + 10, true);
    const nameLen = v.getUint16(p + 28, true);
    const extraLen = v.getUint16(p + 30, true);
    const commentLen = v.getUint16(p + 32, true);
    if (p + 46 + nameLen + extraLen + commentLen > stop) bad(`central directory entry ${i} runs past the directory`);
    const name = new TextDecoder('latin1').decode(bytes.subarray(p + 46, p + 46 + nameLen));
    const shown = printable(name);
    if (flags & 1) bad(`entry '${shown}' is encrypted`);
    if (method !== 0 && method !== 8) bad(`entry '${shown}' uses compression method ${method}`);
    if (names.has(name)) bad(`entry '${shown}' appears twice`);
    names.add(name);
    let compressedSize = v.getUint32(p + 20, true);
    let size = v.getUint32(p + 24, true);
    let localOffset = v.getUint32(p + 42, true);
    if (compressedSize === 0xffffffff || size === 0xffffffff || localOffset === 0xffffffff) {
      // zip64 extra field (id 1): the 8-byte values of the fields set to 0xffffffff, in this order.
      let x = p + 46 + nameLen;
      const xEnd = x + extraLen;
      let found = false;
      while (x + 4 <= xEnd) {
        const id = v.getUint16(x, true);
        const len = v.getUint16(x + 2, true);
        if (x + 4 + len > xEnd) break;
        if (id === 1) {
          let q = x + 4;
          const next = (what: string): number => {
            if (q + 8 > x + 4 + len) bad(`entry '${shown}' has a short zip64 field`);
            const val = u64(v, q, `entry '${shown}' ${what}`);
            q += 8;
            return val;
          };
          if (size === 0xffffffff) size = next('size');
          if (compressedSize === 0xffffffff) compressedSize = next('compressed size');
          if (localOffset === 0xffffffff) localOffset = next('offset');
          found = true;
          break;
        }
        x += 4 + len;
      }
      if (!found) bad(`entry '${shown}' needs a zip64 field and has none`);
    }
    entries.push({ name, method, crc: v.getUint32(p + 16, true), compressedSize, size, localOffset });
    p += 46 + nameLen + extraLen + commentLen;
  }
  if (p !== stop) bad(`the central directory's ${dir.count} entries end at byte ${p}, but the directory runs to byte ${stop}`);
  return { entries, dirOffset: dir.offset };
}

/** The bytes of one entry, checked: local header, sizes, inflation, CRC-32. */
function entryData(bytes: Uint8Array, v: DataView, e: Entry, dirOffset: number, budget: { inflated: number }): Uint8Array {
  const p = e.localOffset;
  if (p + 30 > dirOffset || v.getUint32(p, true) !== LOCAL) bad(`the local header of '${printable(e.name)}' (byte ${p}) is missing`);
  const nameLen = v.getUint16(p + 26, true);
  const start = p + 30 + nameLen + v.getUint16(p + 28, true);
  if (new TextDecoder('latin1').decode(bytes.subarray(p + 30, Math.min(p + 30 + nameLen, dirOffset))) !== e.name) {
    bad(`the local header at byte ${p} does not name '${printable(e.name)}' as the directory does`);
  }
  const end = start + e.compressedSize;
  if (end > dirOffset) bad(`entry '${printable(e.name)}' (${e.compressedSize} bytes at byte ${start}) runs into the central directory at byte ${dirOffset}`);
  const raw = bytes.subarray(start, end);
  let data: Uint8Array;
  if (e.method === 0) {
    if (e.size !== e.compressedSize) bad(`stored entry '${printable(e.name)}' declares ${e.size} bytes but holds ${e.compressedSize}`);
    data = raw;
  } else {
    if (e.size > e.compressedSize * DEFLATE_MAX_RATIO + 1024) bad(`entry '${printable(e.name)}' declares ${e.size} bytes from ${e.compressedSize} deflated: impossible`);
    budget.inflated += e.size;
    if (budget.inflated > MAX_INFLATED_BYTES) {
      throw new PthError(`refuses to inflate ${budget.inflated} bytes (more than ${MAX_INFLATED_BYTES}): zip entry '${printable(e.name)}' is too large`);
    }
    const out = new Uint8Array(e.size);
    let n: number;
    try {
      n = inflateSync(raw, { out }).length;
    } catch (err) {
      bad(`entry '${printable(e.name)}' does not inflate (${(err as Error).message})`);
    }
    if (n !== e.size) bad(`entry '${printable(e.name)}' inflates to ${n} bytes, not the ${e.size} its header declares`);
    data = out;
  }
  const crc = crc32(data);
  if (crc !== e.crc) {
    bad(`entry '${printable(e.name)}' fails its CRC-32 check (${hex(crc)}, the archive says ${hex(e.crc)}): the file was altered or corrupted after it was written`);
  }
  return data;
}

function hex(n: number): string {
  return n.toString(16).padStart(8, '0');
}

/** Every entry of a zip archive by name, each checked against its CRC-32. Throws PthError. */
export function readZipArchive(bytes: Uint8Array): Map<string, Uint8Array> {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const { entries, dirOffset } = readEntries(bytes, v);
  const budget = { inflated: 0 };
  const out = new Map<string, Uint8Array>();
  for (const e of entries) out.set(e.name, entryData(bytes, v, e, dirOffset, budget));
  return out;
}
