#!/usr/bin/env -S node --import tsx
/**
 * The long fuzz run: test/fuzz's harness on one reader for N minutes with fresh seeds, in a worker
 * thread watched for hangs. Each failing input is saved as a regression fixture (test/fuzz/fixtures/,
 * replayed by `node scripts/run-tests.js fuzz`); an input that stalls the worker past its time limit is
 * regenerated from its seed and index, saved, and the run goes on after it.
 *
 *   node --import tsx scripts/fuzz.ts --target pth --minutes 30 [--seed N] [--out DIR] [--stats FILE]
 *   (targets: pth, zip, checkpoint, image; run them as parallel processes, each under `nice -n 19`)
 *
 * Prints a summary line every minute and the final figures as JSON on stdout (and to --stats).
 */
import * as fs from 'fs';
import { isMainThread, parentPort, Worker, workerData } from 'worker_threads';
import { Failure, inputRng, newStats, runOne, Stats, summary } from '../test/fuzz/harness';
import { FIXTURES_DIR, saveFixture } from '../test/fuzz/fixtures';
import { seedSet } from '../test/fuzz/seeds';
import { makeTarget, TARGETS, TargetName } from '../test/fuzz/targets/index';

interface Job {
  target: TargetName;
  seed: number;
  from: number;
  deadline: number;
  heartbeat: SharedArrayBuffer;
  /** Where the main thread made the seed files (once for all workers). */
  seedDir?: string;
}

type FromWorker = { type: 'failure'; failure: Failure; input: Record<string, unknown> & { bytes: Uint8Array } } | { type: 'stats'; stats: Stats; done: boolean };

/** Failures of one kind and first words are saved up to this many times. */
const PER_SIGNATURE = 3;

async function workerMain(job: Job): Promise<void> {
  const beat = new Int32Array(job.heartbeat);
  const t = await makeTarget(job.target, job.seedDir);
  const stats = newStats(job.target);
  let i = job.from;
  let lastReport = Date.now();
  for (; Date.now() < job.deadline; i++) {
    Atomics.store(beat, 0, i);
    const input = t.generate(inputRng(job.seed, i));
    const failure = await runOne(t, input, stats, job.seed, i);
    if (failure) parentPort!.postMessage({ type: 'failure', failure, input } satisfies FromWorker);
    if (Date.now() - lastReport > 10_000) {
      parentPort!.postMessage({ type: 'stats', stats, done: false } satisfies FromWorker);
      lastReport = Date.now();
    }
  }
  stats.seconds = 0;
  parentPort!.postMessage({ type: 'stats', stats, done: true } satisfies FromWorker);
  t.dispose?.();
}

function arg(name: string, fallback?: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

function merge(total: Stats, part: Stats): void {
  total.inputs += part.inputs;
  total.results += part.results;
  total.refusals += part.refusals;
  if (part.slowest.ms > total.slowest.ms) total.slowest = part.slowest;
  if (part.largestRefused.bytes > total.largestRefused.bytes) total.largestRefused = part.largestRefused;
  if (part.largestRssRise.mb > total.largestRssRise.mb) total.largestRssRise = part.largestRssRise;
}

async function main(): Promise<void> {
  const target = arg('target') as TargetName;
  if (!TARGETS.includes(target)) throw new Error(`--target must be one of ${TARGETS.join(', ')}`);
  const minutes = Number(arg('minutes', '1'));
  const seed = Number(arg('seed', String(Date.now() % 2 ** 31)));
  const out = arg('out', FIXTURES_DIR)!;
  // --seeds DIR: seed files an earlier seedSet() made (several runs share one PyTorch start-up)
  const seedDir = target === 'checkpoint' ? undefined : seedSet(arg('seeds')).dir;
  const start = Date.now();
  const deadline = start + minutes * 60_000;
  const total = newStats(target);
  const failures: Failure[] = [];
  const saved: string[] = [];
  const signatures = new Map<string, number>();
  let from = 0;
  let restarts = 0;
  let lastLine = Date.now();
  const onFailure = (failure: Failure, input: { bytes: Uint8Array }) => {
    failures.push(failure);
    const sig = `${failure.kind} ${failure.message.replace(/\d+/g, 'N').slice(0, 80)}`;
    const n = signatures.get(sig) ?? 0;
    signatures.set(sig, n + 1);
    if (n < PER_SIGNATURE) saved.push(saveFixture(out, failure, input));
  };
  while (Date.now() < deadline) {
    const heartbeat = new SharedArrayBuffer(4);
    const beat = new Int32Array(heartbeat);
    Atomics.store(beat, 0, -1); // -1 while the worker sets its target up: not watched
    // The worker loads this file through tsx's CommonJS hook (a worker does not inherit --import tsx's loader).
    const boot = `require('tsx/cjs'); require(${JSON.stringify(__filename)});`;
    const worker = new Worker(boot, { eval: true, workerData: { target, seed, from, deadline, heartbeat, seedDir } satisfies Job });
    let part = newStats(target);
    const finished = new Promise<'done' | 'exit'>((resolve) => {
      worker.on('message', (m: FromWorker) => {
        if (m.type === 'failure') onFailure(m.failure, m.input);
        else {
          part = m.stats;
          if (m.done) resolve('done');
        }
      });
      worker.on('error', (e) => {
        console.error(`worker error: ${e.message}`);
        resolve('exit');
      });
      worker.on('exit', () => resolve('exit'));
    });
    // Watch the heartbeat: an input that holds the worker longer than the stall limit is a hang.
    const stallMs = STALL_MS[target];
    let last = Atomics.load(beat, 0);
    let since = Date.now();
    let outcome: 'done' | 'exit' | 'stall' = 'exit';
    for (;;) {
      const r = await Promise.race([finished, new Promise<null>((res) => setTimeout(() => res(null), 1000))]);
      if (r) {
        outcome = r;
        break;
      }
      const now = Atomics.load(beat, 0);
      if (now !== last || now < 0) {
        last = now;
        since = Date.now();
      } else if (Date.now() - since > stallMs) {
        outcome = 'stall';
        break;
      }
      if (Date.now() - lastLine > 60_000) {
        const view = { ...total };
        merge(view, part);
        console.log(`[${((Date.now() - start) / 60000).toFixed(1)} min] ${summary({ ...view, failures, seconds: (Date.now() - start) / 1000 })}`);
        lastLine = Date.now();
      }
    }
    merge(total, part);
    if (outcome === 'done') break;
    await worker.terminate();
    const index = Math.max(from, Atomics.load(beat, 0));
    restarts++;
    // Regenerate the input that stalled (or crashed the worker) and save it.
    const target2 = await makeTarget(target, seedDir);
    const input = target2.generate(inputRng(seed, index));
    const failure: Failure = { target, seed, index, kind: 'slow', message: outcome === 'stall' ? `stalled the worker for over ${stallMs} ms` : 'the worker died', input: target2.describe(input) };
    target2.dispose?.();
    total.inputs++;
    onFailure(failure, input);
    from = index + 1;
  }
  total.seconds = (Date.now() - start) / 1000;
  total.failures = failures;
  const result = { ...total, seed, restarts, saved, signatures: Object.fromEntries(signatures), failures: failures.slice(0, 50) };
  console.log(summary(total));
  const stats = arg('stats');
  if (stats) fs.writeFileSync(stats, JSON.stringify(result, null, 2) + '\n');
  console.log(JSON.stringify({ ...result, failures: undefined }));
}

/** How long one input may hold the worker before it counts as a hang (well over each target's time limit). */
const STALL_MS: Record<TargetName, number> = { pth: 30_000, zip: 30_000, image: 60_000, checkpoint: 180_000 };

if (isMainThread) {
  main().catch((e) => {
    console.error(`fuzz: ${(e as Error).stack ?? e}`);
    process.exit(1);
  });
} else {
  workerMain(workerData as Job).catch((e) => {
    console.error(`fuzz worker: ${(e as Error).stack ?? e}`);
    process.exit(1);
  });
}
