/**
 * The fuzz harness in CI: each reader on seeded mutations of real files (about a minute in all), the
 * hand-built bombs, and every regression fixture scripts/fuzz.ts saved. Each input must end in a
 * correct result or the reader's own error in one line: no other exception, no input over the time
 * limit or the memory bound, nothing executed, no tensor leaked (harness.ts).
 *
 * The long run: node --import tsx scripts/fuzz.ts --target pth|zip|checkpoint|image --minutes 30
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { PthError, readStateDict } from '../../src/torch/pth';
import { fuzz, newStats, runOne, summary, Target } from './harness';
import { loadFixtures } from './fixtures';
import { seedSet } from './seeds';
import { AnyTarget, makeTarget, TargetName, TARGETS } from './targets/index';
import { allBombs } from './targets/pth';

/** Per reader: a fixed seed, at most this many inputs, at most this many seconds (a slow CI machine does fewer). */
const BUDGET: Record<TargetName, { count: number; seconds: number; min: number }> = {
  pth: { count: 1500, seconds: 12, min: 30 },
  zip: { count: 3000, seconds: 8, min: 100 },
  image: { count: 1500, seconds: 14, min: 50 },
  checkpoint: { count: 60, seconds: 16, min: 3 },
};

const targets = new Map<TargetName, AnyTarget>();
const target = async (name: TargetName) => {
  if (!targets.has(name)) targets.set(name, await makeTarget(name));
  return targets.get(name)!;
};

before(() => {
  seedSet();
});

after(() => {
  for (const t of targets.values()) t.dispose?.();
});

function assertNoFailures(stats: ReturnType<typeof newStats>): void {
  const lines = stats.failures.slice(0, 10).map((f) => `  #${f.index} ${f.kind}: ${f.message} <- ${f.input}`);
  assert.equal(stats.failures.length, 0, `${summary(stats)}\n${lines.join('\n')}`);
}

describe('fuzz: every reader on mutated real files', () => {
  for (const name of TARGETS) {
    test(`${name}: seeded mutations end in a correct result or one clear ${name === 'checkpoint' ? 'CheckpointError' : name === 'image' ? 'ImageError' : 'PthError'}`, { timeout: 120_000 }, async (t) => {
      const b = BUDGET[name];
      const stats = await fuzz(await target(name), { seed: 20261201, count: b.count, seconds: b.seconds });
      t.diagnostic(summary(stats));
      assertNoFailures(stats);
      assert.ok(stats.inputs >= b.min, `only ${stats.inputs} inputs ran`);
      assert.ok(stats.refusals > 0, 'no input was refused: the mutations do not reach the reader');
    });
  }
});

describe('fuzz: bombs', () => {
  test('deep nesting, huge MARK stacks, huge declared lengths, a 10^12-element tensor, amplifying views: refused or bounded, in both formats', async () => {
    const t = (await target('pth')) as Target<ReturnType<typeof allBombs>[number]>;
    const stats = newStats('pth bombs');
    for (const [i, m] of allBombs(seedSet()).entries()) await runOne(t, m, stats, 0, i);
    assertNoFailures(stats);
    assert.ok(stats.refusals > stats.inputs / 2, summary(stats));
  });

  test('a tensor of 10^12 elements is refused before anything is allocated', async () => {
    const bomb = allBombs(seedSet(), 6).find((m) => m.what.includes('[1000000,1000000] stride [1000000,1]'))!;
    const rss = process.resourceUsage().maxRSS;
    assert.throws(() => readStateDict(bomb.bytes), (e: unknown) => e instanceof PthError && /has 1000000000000 elements .*too large to load/.test(e.message));
    assert.ok(process.resourceUsage().maxRSS - rss < 64 * 1024, 'peak RSS rose by more than 64 MB');
  });
});

describe('fuzz: files that know they are damaged', () => {
  test('a flipped bit in a weight of a zip-format .pth fails its CRC-32; the same flip in the legacy format loads (the format has no checksum)', () => {
    const seeds = seedSet();
    const zip = seeds.all.get('tv_zip.pth')!;
    const good = readStateDict(zip.bytes);
    const bad = zip.bytes.slice();
    bad[bad.length >> 1] ^= 0x10; // the middle of the file: conv weights
    assert.throws(() => readStateDict(bad), (e: unknown) => e instanceof PthError && /^damaged zip archive: entry '.+' fails its CRC-32 check/.test(e.message));
    assert.ok(good.size > 10);
  });
});

describe('fuzz: regression fixtures found by the long runs', () => {
  const fixtures = loadFixtures();
  test('there are fixtures to replay', () => {
    assert.ok(fixtures.length > 0, 'test/fuzz/fixtures/ is empty');
  });
  for (const f of fixtures) {
    test(`${f.file}: ${f.found.kind} (${f.found.message.slice(0, 80)}) no longer happens`, { timeout: 120_000 }, async () => {
      const t = await target(f.target as TargetName);
      const stats = newStats(f.target);
      const failure = await runOne(t, f.input, stats, f.found.seed, f.found.index);
      assert.equal(failure, undefined, failure && `${failure.kind}: ${failure.message}`);
    });
  }
});

test('nothing was executed: the marker file of the malicious seeds never appeared', () => {
  assert.ok(!fs.existsSync(seedSet().marker));
});
