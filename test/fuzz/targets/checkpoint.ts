/**
 * Fuzz target: checkpoint loading (src/checkpoint). A real run folder is written once by
 * saveCheckpoint (the course model, 2 classes, aux heads): RUN/model.json, RUN/weights-best.bin,
 * metadata.json, class_indices.json, and RUN/last/ with optimizer tensors. Each input damages one file
 * (bytes, truncation at a tensor boundary, a JSON value set to a huge, negative, zero or wrong-typed
 * value or removed, the file deleted) and loads RUN/ (predict, evaluate) or RUN/last/ with its
 * optimizer state (--resume). A load that succeeds must give the saved weights exactly; a damaged
 * weight file must be refused with a message naming it; no tensor may leak.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '../../../src/tf';
import { CheckpointError, loadCheckpoint, readCheckpointMetadata, saveCheckpoint } from '../../../src/checkpoint/checkpoint';
import type { CheckpointMetadata } from '../../../src/checkpoint/metadata';
import { createGoogLeNet } from '../../../src/model/googlenet';
import { Rng } from '../../../src/util/rng';
import { tmpDir } from '../../helpers';
import type { Target } from '../harness';
import { Mutant, mutate, Seed } from '../mutate';

export interface CheckpointInput extends Mutant {
  /** The damaged file, relative to RUN; bytes null: the file is deleted. */
  file: string;
  bytes: Uint8Array;
  removed?: boolean;
  /** The mutations cancelled out (a bit flipped twice): the file is as saved. */
  unchanged?: boolean;
}

const FILES = ['model.json', 'weights-best.bin', 'metadata.json', 'class_indices.json', 'last/model.json', 'last/weights-last.bin', 'last/extra-last.bin'];

/** Each tensor's bytes, by name: what a correct load gives back. */
function fingerprint(tensors: [string, tf.Tensor][]): Map<string, string> {
  return new Map(tensors.map(([n, t]) => [n, createHash('sha256').update(t.dataSync() as Float32Array).digest('hex')]));
}

export async function makeRun(dir: string): Promise<void> {
  const model = createGoogLeNet({ variant: 'course', numClasses: 2, auxLogits: true, seed: 0 });
  const meta: CheckpointMetadata = {
    format: 'googlenet-ts', formatVersion: 1, variant: 'course', numClasses: 2, imageSize: 64, classNames: ['daisy', 'roses'],
    normalization: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] }, auxLogits: true, transformInput: false, epoch: 1, bestValAccuracy: 0.5,
    config: { epochs: 1 }, createdAt: '2026-12-01T00:00:00.000Z',
  };
  const moments = [tf.fill([3, 5], 0.25), tf.range(0, 7)];
  try {
    await saveCheckpoint(dir, model, meta, { tag: 'best' });
    await saveCheckpoint(path.join(dir, 'last'), model, meta, {
      tag: 'last',
      extraTensors: moments.map((tensor, i) => ({ name: `optimizer/${i}`, tensor })),
      training: { epochsDone: 1, optimizerTensors: 2, bestValAccuracy: 0.5 },
    });
  } finally {
    model.dispose();
    tf.dispose(moments);
  }
}

/** A JSON value replaced somewhere in the document, or a key removed. */
function mutateJson(seed: Seed, rng: Rng): Mutant {
  const doc = JSON.parse(new TextDecoder().decode(seed.bytes)) as unknown;
  const spots: [Record<string, unknown> | unknown[], string | number][] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach((x, i) => (spots.push([v, i]), walk(x)));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) (spots.push([v as Record<string, unknown>, k]), walk(x));
  };
  walk(doc);
  const [holder, key] = spots[rng.int(0, spots.length - 1)];
  const hostile: unknown[] = [1e12, -1, 0, 2 ** 53, 1.5, null, 'x', [], {}, true, [1e9, 1e9], '../../../etc/passwd', 'weights-best.bin', -1e308];
  const value = hostile[rng.int(0, hostile.length - 1)];
  let what: string;
  if (rng.next() < 0.15 && !Array.isArray(holder)) {
    delete (holder as Record<string, unknown>)[key as string];
    what = `removed ${String(key)}`;
  } else {
    (holder as Record<string, unknown>)[key as string] = value;
    what = `${String(key)} = ${JSON.stringify(value)}`;
  }
  return { seed: seed.name, bytes: new TextEncoder().encode(JSON.stringify(doc)), what };
}

/** Offsets where tensors start in a weight file, from its model.json manifest. */
function tensorBoundaries(run: string, file: string): number[] {
  const json = JSON.parse(fs.readFileSync(path.join(run, path.dirname(file), 'model.json'), 'utf8'));
  const group = [...json.weightsManifest, ...(json.extra ?? [])].find((g: { paths: string[] }) => g.paths.includes(path.basename(file)));
  const out = [0];
  for (const w of group.weights as { shape: number[] }[]) out.push(out[out.length - 1] + w.shape.reduce((a, b) => a * b, 1) * 4);
  return out;
}

export async function checkpointTarget(): Promise<Target<CheckpointInput> & { dispose(): void }> {
  const base = tmpDir('fuzz-checkpoint-');
  const orig = path.join(base, 'orig');
  const run = path.join(base, 'run');
  await makeRun(orig);
  const seeds = new Map<string, Seed>();
  for (const f of FILES) {
    const bytes = new Uint8Array(fs.readFileSync(path.join(orig, f)));
    seeds.set(f, { name: f, bytes, boundaries: f.endsWith('.bin') ? tensorBoundaries(orig, f) : [], fields: [] });
  }
  const restore = () => {
    fs.rmSync(run, { recursive: true, force: true });
    fs.mkdirSync(path.join(run, 'last'), { recursive: true });
    for (const f of FILES) fs.linkSync(path.join(orig, f), path.join(run, f));
  };
  restore();
  const want = async (dir: string, withExtra: boolean) => {
    const ck = await loadCheckpoint(dir, { withExtra });
    const fp = fingerprint([...ck.model.stateDict(), ...Object.entries(ck.extraTensors)]);
    ck.model.dispose();
    tf.dispose(Object.values(ck.extraTensors));
    return fp;
  };
  const expected = { best: await want(run, false), last: await want(path.join(run, 'last'), true) };
  const tensorsBefore = tf.memory().numTensors;
  return {
    name: 'checkpoint',
    errorType: CheckpointError,
    timeLimitMs: 60_000,
    memoryBoundMb: 600,
    generate: (rng) => {
      const file = FILES[rng.int(0, FILES.length - 1)];
      const seed = seeds.get(file)!;
      if (rng.next() < 0.05) return { seed: file, file, bytes: new Uint8Array(0), removed: true, what: 'file removed' };
      const m = file.endsWith('.json') && rng.next() < 0.6 ? mutateJson(seed, rng) : mutate([seed], rng);
      return { ...m, file, unchanged: Buffer.from(m.bytes).equals(Buffer.from(seed.bytes)) };
    },
    run: async (m) => {
      restore();
      const target = path.join(run, m.file);
      fs.rmSync(target);
      if (!m.removed) fs.writeFileSync(target, m.bytes);
      const last = m.file.startsWith('last/');
      const dir = last ? path.join(run, 'last') : run;
      readCheckpointMetadata(dir);
      const ck = await loadCheckpoint(dir, { withExtra: last });
      const got = fingerprint([...ck.model.stateDict(), ...Object.entries(ck.extraTensors)]);
      ck.model.dispose();
      tf.dispose(Object.values(ck.extraTensors));
      return { got, last };
    },
    check: (m, result) => {
      const { got, last } = result as { got: Map<string, string>; last: boolean };
      const ref = last ? expected.last : expected.best;
      for (const [name, h] of got) if (ref.get(name) !== h) return `${name} loaded with values other than the saved ones`;
      if (m.file.endsWith('.bin') && !m.unchanged) return `a damaged ${m.file} loaded`;
      return undefined;
    },
    checkError: (m, message) => {
      const shard = m.file.endsWith('.bin') && !m.removed && !m.unchanged;
      if (shard && !message.includes(path.join(run, m.file))) return `the message does not name ${m.file}: ${message}`;
      if (shard && !/still there/.test(message)) return `the message does not say which checkpoint is still there: ${message}`;
      return undefined;
    },
    describe: (m) => `${m.file}: ${m.what}`,
    afterEach: () => {
      const n = tf.memory().numTensors;
      return n !== tensorsBefore ? `${n - tensorsBefore} tensors leaked` : undefined;
    },
    dispose: () => fs.rmSync(base, { recursive: true, force: true }),
  };
}
