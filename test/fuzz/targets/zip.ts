/**
 * Fuzz target: the zip reader alone (src/torch/zip.ts) on PyTorch's zip files and Python zipfile's
 * deflated and zip64 archives, plus archives whose headers lie (huge declared sizes, entry counts and
 * offsets). Every entry is CRC-checked, so an archive that still reads must give exactly the seed's
 * entries, byte for byte.
 */
import { PthError } from '../../../src/torch/pickle';
import { readZipArchive } from '../../../src/torch/zip';
import { Rng } from '../../../src/util/rng';
import { zipOf } from '../build';
import type { Target } from '../harness';
import { Mutant, mutate } from '../mutate';
import type { SeedSet } from '../seeds';

const HUGE = [0xffffffff, 0x7fffffff, 0x80000000, 0xfffffff0, 1 << 30];

function lyingZip(rng: Rng): Mutant {
  const data = new Uint8Array(rng.int(0, 2000)).map((_, i) => i * 7);
  const h = HUGE[rng.int(0, HUGE.length - 1)];
  const lies: [string, Parameters<typeof zipOf>][] = [
    ['a stored entry declaring a huge size', [[{ name: 'a/data/0', data, size: h, compressedSize: h }]]],
    ['a deflated entry declaring a huge size', [[{ name: 'a/data/0', data, size: h, method: 8 }]]],
    ['a deflated entry declaring 2^28 bytes', [[{ name: 'a/data/0', data: new Uint8Array(300_000), size: 2 ** 28, method: 8 }]]],
    ['a directory claiming 65535 entries', [[{ name: 'a/data/0', data }], { count: 0xffff }]],
    ['a directory at a huge offset', [[{ name: 'a/data/0', data }], { cdOffset: h }]],
    ['an entry with a wrong CRC', [[{ name: 'a/data/0', data, crc: rng.int(0, 2 ** 31) }]]],
    ['an unknown compression method', [[{ name: 'a/data/0', data, method: rng.int(1, 99) }]]],
    ['two entries of one name', [[{ name: 'a/data/0', data }, { name: 'a/data/0', data }]]],
  ];
  const [what, args] = lies[rng.int(0, lies.length - 1)];
  return { seed: 'crafted', bytes: zipOf(...args), what };
}

/**
 * The malicious seeds' pickles name a marker file in the seed set's own temporary folder
 * (fuzz-seeds-XXXXXX, made afresh by each run), so a fixture saved by one run holds another folder's
 * name than the seeds its replay compares against: that name, of the same length, is masked.
 */
function sameData(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  const mask = (x: Uint8Array) => Buffer.from(x).toString('latin1').replace(/fuzz-seeds-[A-Za-z0-9]{6}/g, 'fuzz-seeds-XXXXXX');
  return Buffer.from(a).equals(Buffer.from(b)) || mask(a) === mask(b);
}

export function zipTarget(seeds: SeedSet): Target<Mutant> {
  const pool = seeds.pick((n) => n.endsWith('.zip') || (n.endsWith('.pth') && seeds.all.get(n)!.bytes[0] === 0x50));
  const originals = new Map(pool.map((s) => [s.name, readZipArchive(s.bytes)]));
  return {
    name: 'zip',
    errorType: PthError,
    timeLimitMs: 5000,
    memoryBoundMb: 300,
    generate: (rng) => (rng.next() < 0.1 ? lyingZip(rng) : mutate(pool, rng)),
    run: (m) => readZipArchive(m.bytes),
    check: (m, result) => {
      const got = result as Map<string, Uint8Array>;
      if (m.seed === 'crafted') return `read despite ${m.what}`;
      const want = originals.get(m.seed)!;
      const [gotNames, wantNames] = [[...got.keys()], [...want.keys()]];
      const [gotData, wantData] = [[...got.values()], [...want.values()]];
      if (gotNames.length !== wantNames.length) return `entries [${gotNames.join(', ')}], the seed has [${wantNames.join(', ')}]`;
      for (let i = 0; i < gotData.length; i++) {
        if (!sameData(gotData[i], wantData[i])) return `entry ${gotNames[i]} differs from the seed's ${wantNames[i]} (a corrupted entry read as good)`;
      }
      // Same entries, same bytes, another name: the mutation changed a name's bytes in both its local
      // header and the directory alike. Names carry no checksum in zip (nor in miniz, PyTorch's reader),
      // so no reader can tell; the .pth loader then refuses the missing data.pkl or data/N by name.
      return undefined;
    },
    describe: (m) => `${m.seed}: ${m.what}`,
  };
}
