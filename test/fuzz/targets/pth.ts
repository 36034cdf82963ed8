/**
 * Fuzz target: readStateDict on both .pth formats. Seeds: PyTorch's files (torchvision-layout state
 * dicts, every dtype and stride, a training checkpoint, the malicious payloads), plus hand-built bombs.
 * A zip-format file that still loads must give exactly the seed's tensors (every entry is CRC-checked);
 * a legacy file (no checksum in the format) must give well-formed tensors. The malicious seeds' marker
 * file must never appear.
 */
import * as fs from 'fs';
import { PthError, readStateDict, TorchTensor } from '../../../src/torch/pth';
import { Rng } from '../../../src/util/rng';
import { concat, op, repeat, stateDictPickle, tensorPickle, torchZip, tupleOf } from '../build';
import type { Target } from '../harness';
import { Mutant, mutate, Seed } from '../mutate';
import type { SeedSet } from '../seeds';

const DTYPES = new Set(['float32', 'float64', 'float16', 'bfloat16', 'int64', 'int32', 'int16', 'int8', 'uint8', 'bool']);

function sameTensors(a: Map<string, TorchTensor>, b: Map<string, TorchTensor>): string | undefined {
  if ([...a.keys()].join('\n') !== [...b.keys()].join('\n')) return `keys differ from the seed's: ${[...a.keys()].slice(0, 4).join(', ')}...`;
  for (const [k, t] of a) {
    const u = b.get(k)!;
    if (t.dtype !== u.dtype || t.shape.join(',') !== u.shape.join(',')) return `${k}: ${t.dtype} [${t.shape}], the seed has ${u.dtype} [${u.shape}]`;
    if (!Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).equals(Buffer.from(u.data.buffer, u.data.byteOffset, u.data.byteLength))) {
      return `${k}: values differ from the seed's (loaded as wrong weights)`;
    }
  }
  return undefined;
}

/** The legacy header (magic, version, system info) of a real legacy file: the first three pickles. */
function legacyHead(seed: Seed): Uint8Array {
  // regions list the opcode boundaries; the third STOP ends the header
  let stops = 0;
  for (let i = 0; i < seed.bytes.length; i++) {
    if (seed.boundaries.includes(i) && seed.bytes[i] === 0x2e && ++stops === 3) return seed.bytes.subarray(0, i + 1);
  }
  throw new Error(`no legacy header in ${seed.name}`);
}

type Bomb = (rng: Rng) => { what: string; pickle: Uint8Array; storages?: [string, Uint8Array][] };

const size = (rng: Rng) => [1000, 100_000, 1_000_000][rng.int(0, 2)];

/** Hand-built bombs; each becomes a zip-format or a legacy-format file. */
const BOMBS: Bomb[] = [
    (rng) => {
      const k = size(rng);
      return { what: `lists nested ${k} deep`, pickle: concat(op.proto(), repeat(op.emptyList, k), repeat(op.append, k - 1), op.stop) };
    },
    (rng) => {
      const k = size(rng);
      return { what: `tuples nested ${k} deep`, pickle: concat(op.proto(), repeat(op.mark, k), op.int(1), repeat(op.tuple, k), op.stop) };
    },
    (rng) => {
      const k = size(rng);
      return { what: `${k} MARKs`, pickle: concat(op.proto(), repeat(op.mark, k), op.emptyDict, op.stop) };
    },
    (rng) => {
      const k = size(rng);
      return { what: `one bytes object DUPed ${k} times into a list`, pickle: concat(op.proto(), op.emptyList, op.mark, [0x42, 0, 0, 1, 0], new Uint8Array(65536), repeat(op.dup, k), [0x65], op.stop) };
    },
    (rng) => {
      const lens = [[0x58, 0xff, 0xff, 0xff, 0xff], [0x8d, ...Array(7).fill(0xff), 0x7f], [0x8e, 0, 0, 0, 0, 0, 0, 0, 0x40], [0x8b, 0xff, 0xff, 0xff, 0x7f], [0x95, ...Array(8).fill(0xff)], [0x54, 0xff, 0xff, 0xff, 0x7f]];
      const l = lens[rng.int(0, lens.length - 1)];
      return { what: `opcode 0x${l[0].toString(16)} declaring a huge length`, pickle: concat(op.proto(), l, new Uint8Array(16), op.stop) };
    },
    (rng) => {
      const shapes: [number | bigint, (number | bigint)[], (number | bigint)[]][] = [
        [4, [1_000_000, 1_000_000], [1_000_000, 1]],
        [4, [1_000_000, 1_000_000], [0, 0]],
        [4, [2048, 2048], [0, 0]],
        [4, [4096, 4096], [0, 0]],
        [2n ** 62n, [2 ** 31 - 1], [1]],
        [4, [2 ** 31 - 1, 2 ** 31 - 1, 2 ** 31 - 1], [0, 0, 0]],
        [4, [0, 2n ** 60n], [1, 1]],
      ];
      const [numel, shape, stride] = shapes[rng.int(0, shapes.length - 1)];
      const key = '0';
      return {
        what: `a tensor of shape [${shape}] stride [${stride}] on a storage of ${numel}`,
        pickle: stateDictPickle([['w', tensorPickle(key, numel, shape, stride)]]),
        storages: [[key, new Uint8Array(16)]],
      };
    },
    (rng) => {
      const k = rng.int(2, 64);
      return {
        what: `${k} expanded 2048x2048 tensors on one 4-element storage`,
        pickle: stateDictPickle(Array.from({ length: k }, (_, i) => [`w${i}`, tensorPickle('0', 4, [2048, 2048], [0, 0])] as [string, Uint8Array])),
        storages: [['0', new Uint8Array(16)]],
      };
    },
    (rng) => {
      const k = rng.int(100, 3000);
      return {
        what: `${k} tensors viewing one 1 MB storage`,
        pickle: stateDictPickle(Array.from({ length: k }, (_, i) => [`w${i}`, tensorPickle('0', 262144, [512, 512], [512, 1])] as [string, Uint8Array])),
        storages: [['0', new Uint8Array(1 << 20)]],
      };
    },
    () => ({ what: 'a storage type used as a callable on a tuple', pickle: concat(op.proto(), op.global('torch', 'FloatStorage'), tupleOf(op.int(1)), op.reduce, op.stop) }),
    () => ({ what: 'os.system behind an allowed OrderedDict', pickle: concat(op.proto(), op.global('collections', 'OrderedDict'), op.emptyTuple, op.reduce, op.mark, op.str('a'), op.global('os', 'system'), tupleOf(op.str('touch /tmp/fuzz-never')), op.reduce, op.setitems, op.stop) }),
];

const LEGACY_KEYS = (keys: string[]) => concat(op.proto(), op.mark, ...keys.map((k) => op.str(k)), [0x6c], op.stop);

/** Bomb `index` (random if absent) as a whole .pth file, zip or legacy. */
function bombFile(head: Uint8Array, rng: Rng, index = rng.int(0, BOMBS.length - 1), zip = rng.next() < 0.5): Mutant {
  const b = BOMBS[index](rng);
  if (zip) return { seed: 'crafted', bytes: torchZip(b.pickle, b.storages), what: `zip: ${b.what}` };
  // legacy storages: an int64 element count (the bombs' storages are float32), then the bytes
  const storages = (b.storages ?? []).flatMap(([, d]) => [new Uint8Array(new BigUint64Array([BigInt(d.length / 4)]).buffer), d]);
  return { seed: 'crafted', bytes: concat(head, b.pickle, LEGACY_KEYS((b.storages ?? []).map(([k]) => k)), ...storages), what: `legacy: ${b.what}` };
}

/** Every bomb in both formats, each with `variants` draws of its sizes. */
export function allBombs(seeds: SeedSet, variants = 3): Mutant[] {
  const head = legacyHead(seeds.all.get('tv_legacy.pth')!);
  const rng = new Rng(42);
  return BOMBS.flatMap((_, i) => Array.from({ length: variants }, () => [bombFile(head, rng, i, true), bombFile(head, rng, i, false)]).flat());
}

export function pthTarget(seeds: SeedSet): Target<Mutant> {
  const pool = seeds.pick((n) => n.endsWith('.pth'));
  const head = legacyHead(seeds.all.get('tv_legacy.pth')!);
  const originals = new Map<string, Map<string, TorchTensor> | null>();
  const original = (name: string) => {
    if (!originals.has(name)) {
      try {
        originals.set(name, readStateDict(seeds.all.get(name)!.bytes));
      } catch {
        originals.set(name, null); // the malicious and not-a-state-dict seeds
      }
    }
    return originals.get(name)!;
  };
  return {
    name: 'pth',
    errorType: PthError,
    timeLimitMs: 5000,
    memoryBoundMb: 256,
    generate: (rng) => (rng.next() < 0.1 ? bombFile(head, rng) : mutate(pool, rng)),
    run: (m) => readStateDict(m.bytes),
    check: (m, result) => {
      const sd = result as Map<string, TorchTensor>;
      for (const [k, t] of sd) {
        if (!DTYPES.has(t.dtype) || !(t.data instanceof Float32Array) || t.data.length !== t.shape.reduce((a, b) => a * b, 1)) return `${k}: malformed tensor ${t.dtype} [${t.shape}] with ${t.data.length} values`;
      }
      // Within the reader's bounds, by design: views of one real 1 MB storage up to the file's budget, one expanded 2^24-element tensor.
      const bounded = m.what.includes('viewing one') || m.what.includes('a tensor of shape [2048,2048] stride [0,0]');
      if (m.seed === 'crafted') return bounded ? undefined : `a bomb loaded: ${m.what}`;
      const isZip = m.bytes[0] === 0x50;
      const o = original(m.seed);
      if (isZip && o) return sameTensors(sd, o);
      if (isZip && !o) return `${m.seed} is refused, but its mutant loads`;
      return undefined;
    },
    describe: (m) => `${m.seed}: ${m.what}`,
    afterEach: () => (fs.existsSync(seeds.marker) || fs.existsSync('/tmp/fuzz-never') ? 'the marker file appeared: something was executed' : undefined),
  };
}

