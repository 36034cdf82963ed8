/**
 * What a checkpoint's model.json must hold before anything is read or allocated from it, and the
 * checksum of each weight file. A file that fails is named in a CheckpointError, with the other
 * checkpoint of the run that is still there (RUN/ holds the best weights, RUN/last/ the last epoch's).
 *
 * Each manifest group may carry `sha256`, one hex digest per path (written since checkpoints record
 * them); a group without it (an older checkpoint) is checked by size only.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { isVariant } from '../model/specs';
import type { CheckpointMetadata } from './metadata';

export class CheckpointError extends Error {
  override readonly name = 'CheckpointError';
}

/** One group of tfjs's weights manifest, with this project's checksums. */
export interface ManifestGroup {
  paths: string[];
  weights: { name: string; shape: number[]; dtype: 'float32' }[];
  /** sha256 of each file in `paths` (hex); absent in checkpoints written before checksums. */
  sha256?: string[];
}

/** Most classes a checkpoint may declare (ImageNet-21k has 21,843). */
const MAX_CLASSES = 100_000;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isCount(v: unknown, min = 0, max = Number.MAX_SAFE_INTEGER): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max;
}

/** The other checkpoint of the same run, if it is there: said after a damaged file. */
export function otherCheckpoint(dir: string): string {
  const parent = path.dirname(path.resolve(dir));
  if (path.basename(path.resolve(dir)) === 'last' && fs.existsSync(path.join(parent, 'model.json'))) {
    return `; the run's best checkpoint ${path.dirname(dir)} is still there`;
  }
  if (fs.existsSync(path.join(dir, 'last', 'model.json'))) return `; the last epoch's state ${path.join(dir, 'last')} is still there`;
  return '';
}

/** Refuses a manifest group that is not what saveCheckpoint writes: shapes, dtypes, plain file names. */
export function checkManifest(groups: unknown, file: string, what: string): ManifestGroup[] {
  const fail = (msg: string): never => {
    throw new CheckpointError(`${file} is damaged: its ${what} ${msg}`);
  };
  if (!Array.isArray(groups)) return fail('is not a list');
  const seen = new Set<string>();
  return groups.map((g, i) => {
    if (!isObject(g) || !Array.isArray(g.paths) || !Array.isArray(g.weights)) return fail(`group ${i} lacks paths or weights`);
    for (const p of g.paths) {
      if (typeof p !== 'string' || !/^[A-Za-z0-9._-]+$/.test(p) || p.startsWith('.')) fail(`names the file ${JSON.stringify(p)}, not a file of the checkpoint`);
    }
    for (const w of g.weights) {
      if (!isObject(w) || typeof w.name !== 'string') return fail(`group ${i} has an entry without a name`);
      if (seen.has(w.name)) fail(`lists ${w.name} twice`);
      seen.add(w.name);
      if (!Array.isArray(w.shape) || !w.shape.every((s) => isCount(s, 0, 2 ** 31))) fail(`gives ${w.name} the shape ${JSON.stringify(w.shape)}`);
      // float32 weights; the optimizer state (RUN/last) also holds an int32 (Adam's step count).
      if ((w.dtype !== 'float32' && w.dtype !== 'int32') || w.quantization !== undefined) {
        fail(`gives ${w.name} the dtype ${JSON.stringify(w.dtype)}${w.quantization ? ' (quantized)' : ''}, not float32 or int32`);
      }
    }
    if (g.sha256 !== undefined) {
      const ok = Array.isArray(g.sha256) && g.sha256.length === g.paths.length && g.sha256.every((h) => typeof h === 'string' && /^[0-9a-f]{64}$/.test(h));
      if (!ok) fail(`group ${i} has a malformed sha256 list`);
    }
    return g as unknown as ManifestGroup;
  });
}

/** Refuses metadata that would build a model the weights cannot fill (or a huge one). */
export function checkMetadata(meta: unknown, file: string): CheckpointMetadata {
  const fail = (msg: string): never => {
    throw new CheckpointError(`${file} is damaged: its metadata ${msg}`);
  };
  if (!isObject(meta)) return fail('is missing');
  if (typeof meta.variant !== 'string' || !isVariant(meta.variant)) fail(`names the unknown variant ${JSON.stringify(meta.variant)}`);
  if (!isCount(meta.numClasses, 1, MAX_CLASSES)) fail(`gives ${JSON.stringify(meta.numClasses)} classes`);
  const names = meta.classNames;
  if (!Array.isArray(names) || names.length !== meta.numClasses || !names.every((c) => typeof c === 'string')) {
    fail(`lists ${Array.isArray(names) ? names.length : 'no'} class names for ${meta.numClasses} classes`);
  }
  if (!isCount(meta.imageSize, 1, 65536)) fail(`gives the image size ${JSON.stringify(meta.imageSize)}`);
  for (const k of ['auxLogits', 'transformInput'] as const) if (typeof meta[k] !== 'boolean') fail(`has ${k} ${JSON.stringify(meta[k])}, not true or false`);
  const n = meta.normalization;
  const triple = (v: unknown, positive: boolean) => Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number' && Number.isFinite(x) && (!positive || x > 0));
  if (!isObject(n) || !triple(n.mean, false) || !triple(n.std, true)) fail('has no usable normalization (mean and std of 3 channels)');
  return meta as unknown as CheckpointMetadata;
}

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * The checksum of what decides which saved values land in which tensor: the weight and
 * optimizer-state manifests (names, shapes, dtypes, files and their checksums), as model.json holds them.
 */
export function manifestDigest(weightsManifest: unknown, extra: unknown): string {
  return createHash('sha256').update(JSON.stringify([weightsManifest, extra ?? null])).digest('hex');
}

/** Refuses a weight file whose bytes differ from the checksum recorded when it was written. */
export function checkShard(dir: string, file: string, data: Uint8Array, expected: string | undefined): void {
  if (expected === undefined) return;
  const got = sha256(data);
  if (got !== expected) {
    throw new CheckpointError(
      `checkpoint ${dir} is damaged: ${path.join(dir, file)} fails its checksum (sha256 ${got.slice(0, 12)}..., model.json recorded ${expected.slice(0, 12)}...; ${data.length} bytes): truncated or altered since it was written${otherCheckpoint(dir)}`,
    );
  }
}
