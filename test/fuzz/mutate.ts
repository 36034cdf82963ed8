/**
 * Seeded mutations of real files: bit flips, byte writes, truncation at region boundaries, inserted and
 * deleted bytes, integer fields set to huge, negative and zero values, repeated chunks. Each mutation
 * is a pure function of (bytes, rng): the same seed gives the same mutated input, so a failure found in
 * a long run is regenerated from its seed and index.
 */
import { Rng } from '../../src/util/rng';

/** An integer field of a seed file: `width` bytes at `at`, little- or big-endian. */
export interface Field {
  at: number;
  width: 1 | 2 | 4 | 8;
  big?: boolean;
}

/** A real file to mutate, with where its structures start and end and where its integer fields are. */
export interface Seed {
  name: string;
  bytes: Uint8Array;
  /** Offsets where a structure starts or ends (headers, entries, pickles, opcodes, storages). */
  boundaries: number[];
  fields: Field[];
}

/** A mutated input and what was done to it (for messages and saved fixtures). */
export interface Mutant {
  seed: string;
  bytes: Uint8Array;
  what: string;
}

/** Values that break size and offset arithmetic, for a field of `width` bytes. */
function hostile(width: number, rng: Rng): bigint {
  const bits = BigInt(8 * width);
  const max = (1n << bits) - 1n;
  const picks = [0n, 1n, max, max >> 1n, (max >> 1n) + 1n, max - 1n, 0x7fffn, 0xffffn, 0x7fffffffn, 0x80000000n, 0xffffffffn, 1n << 53n, 10n ** 12n];
  return picks[rng.int(0, picks.length - 1)] & max;
}

function writeField(b: Uint8Array, f: Field, v: bigint): void {
  for (let i = 0; i < f.width && f.at + i < b.length; i++) {
    const byte = Number((v >> BigInt(8 * i)) & 0xffn);
    b[f.big ? f.at + f.width - 1 - i : f.at + i] = byte;
  }
}

function boundary(seed: Seed, rng: Rng): number {
  if (seed.boundaries.length === 0 || rng.next() < 0.2) return rng.int(0, seed.bytes.length);
  const b = seed.boundaries[rng.int(0, seed.boundaries.length - 1)] + rng.int(-1, 1);
  return Math.max(0, Math.min(seed.bytes.length, b));
}

function randomBytes(n: number, rng: Rng): Uint8Array {
  const interesting = [0x00, 0xff, 0x7f, 0x80, 0x28, 0x2e, 0x50, 0x4b];
  return Uint8Array.from({ length: n }, () => (rng.next() < 0.5 ? interesting[rng.int(0, interesting.length - 1)] : rng.int(0, 255)));
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

type Op = (seed: Seed, rng: Rng) => Mutant;

const OPS: Record<string, Op> = {
  flip: (seed, rng) => {
    const b = seed.bytes.slice();
    const n = rng.int(1, 4);
    const at: number[] = [];
    for (let k = 0; k < n && b.length; k++) {
      const i = rng.next() < 0.5 ? Math.min(b.length - 1, boundary(seed, rng)) : rng.int(0, b.length - 1);
      b[i] ^= 1 << rng.int(0, 7);
      at.push(i);
    }
    return { seed: seed.name, bytes: b, what: `bit flips at ${at.join(',')}` };
  },
  bytes: (seed, rng) => {
    const b = seed.bytes.slice();
    const at = Math.min(Math.max(0, b.length - 1), boundary(seed, rng));
    const r = randomBytes(rng.int(1, 8), rng);
    b.set(r.subarray(0, Math.max(0, b.length - at)), at);
    return { seed: seed.name, bytes: b, what: `${r.length} bytes written at ${at}` };
  },
  truncate: (seed, rng) => {
    const at = boundary(seed, rng);
    return { seed: seed.name, bytes: seed.bytes.slice(0, at), what: `truncated at ${at}` };
  },
  insert: (seed, rng) => {
    const at = boundary(seed, rng);
    const r = rng.next() < 0.5 ? randomBytes(rng.int(1, 64), rng) : seed.bytes.slice(boundary(seed, rng)).subarray(0, rng.int(1, 4096));
    return { seed: seed.name, bytes: concat(seed.bytes.subarray(0, at), r, seed.bytes.subarray(at)), what: `${r.length} bytes inserted at ${at}` };
  },
  delete: (seed, rng) => {
    const at = boundary(seed, rng);
    const n = rng.next() < 0.7 ? rng.int(1, 16) : rng.int(1, 4096);
    return { seed: seed.name, bytes: concat(seed.bytes.subarray(0, at), seed.bytes.subarray(at + n)), what: `${n} bytes deleted at ${at}` };
  },
  field: (seed, rng) => {
    if (seed.fields.length === 0) return OPS.bytes(seed, rng);
    const b = seed.bytes.slice();
    const parts: string[] = [];
    for (let k = rng.next() < 0.7 ? 1 : rng.int(2, 4); k > 0; k--) {
      const f = seed.fields[rng.int(0, seed.fields.length - 1)];
      const v = rng.next() < 0.8 ? hostile(f.width, rng) : BigInt(rng.int(0, 2 ** 31));
      writeField(b, f, v);
      parts.push(`${f.width}-byte field at ${f.at} = ${v}`);
    }
    return { seed: seed.name, bytes: b, what: parts.join(', ') };
  },
  repeat: (seed, rng) => {
    const at = boundary(seed, rng);
    const end = Math.min(seed.bytes.length, at + rng.int(1, 64));
    const chunk = seed.bytes.subarray(at, end);
    const times = rng.int(2, 2000);
    const parts = Array.from({ length: times }, () => chunk);
    return { seed: seed.name, bytes: concat(seed.bytes.subarray(0, at), ...parts, seed.bytes.subarray(end)), what: `bytes ${at}-${end} repeated ${times} times` };
  },
};

const WEIGHTS: [string, number][] = [['flip', 3], ['bytes', 2], ['truncate', 1], ['insert', 1], ['delete', 1], ['field', 3], ['repeat', 0.5]];

/** One mutated input from one of `seeds`; one to three mutations stacked. */
export function mutate(seeds: Seed[], rng: Rng): Mutant {
  const seed = seeds[rng.int(0, seeds.length - 1)];
  const total = WEIGHTS.reduce((s, [, w]) => s + w, 0);
  let m: Mutant = { seed: seed.name, bytes: seed.bytes, what: '' };
  const steps: string[] = [];
  for (let k = rng.next() < 0.8 ? 1 : rng.int(2, 3); k > 0; k--) {
    let r = rng.next() * total;
    const [name] = WEIGHTS.find(([, w]) => (r -= w) < 0) ?? WEIGHTS[0];
    m = OPS[name]({ ...seed, bytes: m.bytes }, rng);
    steps.push(m.what);
  }
  return { seed: seed.name, bytes: m.bytes, what: steps.join('; ') };
}
