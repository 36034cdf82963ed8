/**
 * Hand-built hostile files: pickles (opcode by opcode) and zip archives (stored entries with their
 * CRC-32), for the bombs no mutation of a real file reaches: deep nesting, huge MARK stacks, huge
 * declared lengths, a tensor of 10^12 elements, zip entries with huge declared sizes.
 */
import { crc32 } from '../../src/torch/crc32';

const enc = new TextEncoder();

export function concat(...parts: (Uint8Array | number[])[]): Uint8Array {
  const arrays = parts.map((p) => (p instanceof Uint8Array ? p : Uint8Array.from(p)));
  const out = new Uint8Array(arrays.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of arrays) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** `part` repeated `k` times. */
export function repeat(part: Uint8Array | number[], k: number): Uint8Array {
  const p = part instanceof Uint8Array ? part : Uint8Array.from(part);
  const out = new Uint8Array(p.length * k);
  for (let i = 0; i < k; i++) out.set(p, i * p.length);
  return out;
}

function le(n: number | bigint, width: number): number[] {
  let v = BigInt(n);
  return Array.from({ length: width }, () => {
    const b = Number(v & 0xffn);
    v >>= 8n;
    return b;
  });
}

/** Pickle opcodes as bytes. */
export const op = {
  proto: (p = 2) => [0x80, p],
  stop: [0x2e],
  mark: [0x28],
  str: (s: string) => {
    const b = enc.encode(s);
    return concat([0x58, ...le(b.length, 4)], b);
  },
  int: (n: number) => [0x4a, ...le(n, 4)],
  long: (n: bigint) => [0x8a, 8, ...le(n, 8)],
  global: (module: string, name: string) => concat([0x63], enc.encode(`${module}\n${name}\n`)),
  tuple: [0x74],
  emptyTuple: [0x29],
  emptyList: [0x5d],
  emptyDict: [0x7d],
  append: [0x61],
  setitems: [0x75],
  reduce: [0x52],
  persid: [0x51],
  newfalse: [0x89],
  dup: [0x32],
};

export function tupleOf(...items: (Uint8Array | number[])[]): Uint8Array {
  return concat(op.mark, ...items, op.tuple);
}

/** torch's pickle of one tensor: _rebuild_tensor_v2(storage, offset, shape, stride, False, OrderedDict()). */
export function tensorPickle(key: string, storageNumel: number | bigint, shape: (number | bigint)[], stride: (number | bigint)[], storage = 'FloatStorage'): Uint8Array {
  const ints = (xs: (number | bigint)[]) => tupleOf(...xs.map((x) => (typeof x === 'bigint' || x > 2 ** 31 - 1 ? op.long(BigInt(x)) : op.int(x))));
  const pid = tupleOf(op.str('storage'), op.global('torch', storage), op.str(key), op.str('cpu'), typeof storageNumel === 'bigint' ? op.long(storageNumel) : op.int(storageNumel));
  return concat(
    op.global('torch._utils', '_rebuild_tensor_v2'),
    tupleOf(pid, op.persid, op.int(0), ints(shape), ints(stride), op.newfalse, op.global('collections', 'OrderedDict'), op.emptyTuple, op.reduce),
    op.reduce,
  );
}

/** An OrderedDict pickle of name -> tensor pickle. */
export function stateDictPickle(entries: [string, Uint8Array][]): Uint8Array {
  return concat(op.proto(2), op.global('collections', 'OrderedDict'), op.emptyTuple, op.reduce, op.mark, ...entries.flatMap(([k, v]) => [op.str(k), v]), op.setitems, op.stop);
}

export interface ZipEntry {
  name: string;
  data: Uint8Array;
  /** Override what the headers declare. */
  size?: number;
  compressedSize?: number;
  crc?: number;
  method?: number;
}

/** A zip archive of stored entries, as torch writes them, with optional lies in its headers. */
export function zipOf(entries: ZipEntry[], opts: { count?: number; cdOffset?: number } = {}): Uint8Array {
  const locals: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = enc.encode(e.name);
    const crc = e.crc ?? crc32(e.data);
    const csize = e.compressedSize ?? e.data.length;
    const size = e.size ?? e.data.length;
    const method = e.method ?? 0;
    const local = concat(le(0x04034b50, 4), le(20, 2), le(0, 2), le(method, 2), le(0, 4), le(crc, 4), le(csize, 4), le(size, 4), le(name.length, 2), le(0, 2), name, e.data);
    central.push(concat(le(0x02014b50, 4), le(20, 2), le(20, 2), le(0, 2), le(method, 2), le(0, 4), le(crc, 4), le(csize, 4), le(size, 4), le(name.length, 2), le(0, 2), le(0, 2), le(0, 2), le(0, 2), le(0, 4), le(offset, 4), name));
    locals.push(local);
    offset += local.length;
  }
  const cd = concat(...central);
  const count = opts.count ?? entries.length;
  const eocd = concat(le(0x06054b50, 4), le(0, 2), le(0, 2), le(count, 2), le(count, 2), le(cd.length, 4), le(opts.cdOffset ?? offset, 4), le(0, 2));
  return concat(...locals, cd, eocd);
}

/** A zip-format .pth holding `pickle` as archive/data.pkl and the given storages. */
export function torchZip(pickle: Uint8Array, storages: [string, Uint8Array][] = []): Uint8Array {
  return zipOf([{ name: 'archive/data.pkl', data: pickle }, ...storages.map(([k, d]) => ({ name: `archive/data/${k}`, data: d })), { name: 'archive/version', data: enc.encode('3\n') }]);
}
