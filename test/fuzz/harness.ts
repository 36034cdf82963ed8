/**
 * The fuzz harness: feeds a reader mutated inputs and holds it to its contract. Each input must end in
 * either a correct result (the target's own check) or the reader's own error type with one clear line;
 * no other exception, no input slower than the time limit, no input that raises the process's peak
 * memory (getrusage maxrss) by more than the memory bound, nothing executed (the target's afterEach).
 *
 * Inputs are a pure function of (seed, index), so a long run's failure is regenerated from those two
 * numbers; a failing input can also be saved as a fixture and replayed (fixtures.ts).
 */
import { Rng } from '../../src/util/rng';

export interface Target<I> {
  name: string;
  /** The reader's own error class: anything else thrown is a failure. */
  errorType: abstract new (...args: never[]) => Error;
  /** Input `index` of a run seeded with `rng` (already derived from seed and index). */
  generate(rng: Rng): I;
  /** Run the reader on the input; its result goes to check(). */
  run(input: I): unknown;
  /** undefined if `result` is a correct result for `input`, else what is wrong with it. */
  check(input: I, result: unknown): string | undefined;
  /** undefined if the reader's refusal says enough about `input` (e.g. names the damaged file). */
  checkError?(input: I, message: string): string | undefined;
  /** What the input is, for messages: its seed file and mutation. */
  describe(input: I): string;
  /** Checked after every input: a marker file that must never appear, tensors that must not leak. */
  afterEach?(): string | undefined;
  /** Bytes a refused input asked for, read from the reader's message (for the record). */
  refusedBytes?(message: string): number | undefined;
  /** Per-input limits. */
  timeLimitMs: number;
  memoryBoundMb: number;
}

export interface Failure {
  target: string;
  seed: number;
  index: number;
  kind: 'exception' | 'multi-line' | 'wrong result' | 'slow' | 'memory' | 'executed or leaked';
  message: string;
  input: string;
}

export interface Stats {
  target: string;
  inputs: number;
  results: number;
  refusals: number;
  failures: Failure[];
  slowest: { ms: number; input: string };
  largestRefused: { bytes: number; message: string };
  /** Largest rise of the process's peak RSS caused by one input, MB. */
  largestRssRise: { mb: number; input: string };
  seconds: number;
}

export function newStats(target: string): Stats {
  return { target, inputs: 0, results: 0, refusals: 0, failures: [], slowest: { ms: 0, input: '' }, largestRefused: { bytes: 0, message: '' }, largestRssRise: { mb: 0, input: '' }, seconds: 0 };
}

/** The rng of input `index` of a run seeded `seed`: independent of every other input. */
export function inputRng(seed: number, index: number): Rng {
  const r = new Rng((Math.imul(seed ^ 0x5bd1e995, 0x27d4eb2f) + Math.imul(index + 1, 0x165667b1)) >>> 0);
  r.next();
  return r;
}

function maxRssMb(): number {
  return process.resourceUsage().maxRSS / 1024;
}

/** Sizes written in refusal messages: "N elements" (float32 out), "N bytes", "a N-byte". */
export function bytesInMessage(message: string): number | undefined {
  let best: number | undefined;
  for (const m of message.matchAll(/(\d{4,})( elements|-byte| bytes| data bytes)/g)) {
    const n = Number(m[1]) * (m[2] === ' elements' ? 4 : 1);
    if (best === undefined || n > best) best = n;
  }
  return best;
}

/** Run one input and record it; returns the failure, if any. */
export async function runOne<I>(t: Target<I>, input: I, stats: Stats, seed: number, index: number): Promise<Failure | undefined> {
  const rss0 = maxRssMb();
  const start = performance.now();
  let result: unknown;
  let error: unknown;
  let threw = false;
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new HangError(`no result after ${t.timeLimitMs} ms`)), t.timeLimitMs);
    });
    result = await Promise.race([Promise.resolve().then(() => t.run(input)), timeout]);
  } catch (e) {
    threw = true;
    error = e;
  } finally {
    clearTimeout(timer);
  }
  const ms = performance.now() - start;
  const rise = maxRssMb() - rss0;
  stats.inputs++;
  const what = t.describe(input);
  if (ms > stats.slowest.ms) stats.slowest = { ms, input: what };
  if (rise > stats.largestRssRise.mb) stats.largestRssRise = { mb: rise, input: what };
  const fail = (kind: Failure['kind'], message: string): Failure => {
    const f: Failure = { target: t.name, seed, index, kind, message, input: what };
    stats.failures.push(f);
    return f;
  };
  if (error instanceof HangError || ms > t.timeLimitMs) return fail('slow', `${Math.round(ms)} ms, over the ${t.timeLimitMs} ms limit`);
  if (rise > t.memoryBoundMb) return fail('memory', `peak RSS rose by ${Math.round(rise)} MB, over the ${t.memoryBoundMb} MB bound`);
  const after = t.afterEach?.();
  if (after) return fail('executed or leaked', after);
  if (threw) {
    if (!(error instanceof t.errorType)) {
      const e = error as Error;
      return fail('exception', `${e?.constructor?.name ?? typeof e}: ${String(e?.message ?? e).split('\n')[0]} ${String(e?.stack ?? '').split('\n').slice(1, 4).map((s) => s.trim()).join(' < ')}`);
    }
    const message = (error as Error).message;
    if (!message || message.includes('\n') || message.length > 600) return fail('multi-line', JSON.stringify(message.slice(0, 300)));
    const unclear = t.checkError?.(input, message);
    if (unclear) return fail('wrong result', unclear);
    stats.refusals++;
    const bytes = (t.refusedBytes ?? bytesInMessage)(message);
    if (bytes !== undefined && bytes > stats.largestRefused.bytes) stats.largestRefused = { bytes, message };
    return undefined;
  }
  const wrong = t.check(input, result);
  if (wrong) return fail('wrong result', wrong);
  stats.results++;
  return undefined;
}

class HangError extends Error {}

export interface FuzzOptions {
  seed: number;
  /** Stop after this many inputs... */
  count?: number;
  /** ...or after this long. */
  seconds?: number;
  /** First index (a long run resumes after a killed input). */
  from?: number;
  /** Told before each input (a long run's heartbeat). */
  onInput?: (index: number) => void;
}

/** Fuzz one target; returns what it saw. */
export async function fuzz<I>(t: Target<I>, opts: FuzzOptions, stats = newStats(t.name)): Promise<Stats> {
  const start = performance.now();
  const deadline = opts.seconds === undefined ? Infinity : start + opts.seconds * 1000;
  for (let i = opts.from ?? 0; (opts.count === undefined || i < (opts.from ?? 0) + opts.count) && performance.now() < deadline; i++) {
    opts.onInput?.(i);
    await runOne(t, t.generate(inputRng(opts.seed, i)), stats, opts.seed, i);
  }
  stats.seconds += (performance.now() - start) / 1000;
  return stats;
}

/** A one-paragraph summary of a run, for test output and the long run's log. */
export function summary(s: Stats): string {
  return `${s.target}: ${s.inputs} inputs in ${s.seconds.toFixed(1)} s (${s.results} results, ${s.refusals} refused), ${s.failures.length} failures; slowest ${s.slowest.ms.toFixed(1)} ms (${s.slowest.input}); largest refused ${s.largestRefused.bytes} bytes; largest peak-RSS rise ${s.largestRssRise.mb.toFixed(1)} MB (${s.largestRssRise.input})`;
}
