/**
 * Checkpoints on disk, in TensorFlow.js's weights format:
 *
 *   RUN/model.json          topology + metadata + weightsManifest (with each file's sha256)  <- the commit point (atomic rename)
 *   RUN/weights-<tag>.bin   float32 weights, named as PyTorch's state_dict
 *   RUN/metadata.json       the same metadata, for people and tools
 *   RUN/class_indices.json  {"0": "daisy", ...} as in the notes
 *
 * Weights are written first under a new name, then model.json is renamed over the old one, then stale
 * weight files are removed: a crash at any point leaves a loadable checkpoint.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '../tf';
import { createGoogLeNet, GoogLeNet } from '../model/googlenet';
import { removeStaleTemps, writeFileAtomic } from '../util/fs_atomic';
import { CheckpointMetadata, classIndices } from './metadata';
import { CheckpointError, checkManifest, checkMetadata, checkShard, ManifestGroup, manifestDigest, otherCheckpoint, sha256 } from './verify';
import { formatDims } from '../util/dims';

export { CheckpointError } from './verify';

/** A tensor with its name, as tf.io.encodeWeights takes them. */
export interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

interface ModelJson {
  format: 'googlenet-ts';
  formatVersion: 1;
  modelTopology: { class: 'GoogLeNet'; variant: string; numClasses: number; auxLogits: boolean; transformInput: boolean };
  metadata: CheckpointMetadata;
  weightsManifest: ManifestGroup[];
  /** Extra tensors stored beside the weights (optimizer state for --resume). */
  extra?: ManifestGroup[];
  training?: Record<string, unknown>;
  /** manifestDigest of the two manifests: a changed name or shape in model.json is refused (absent in older checkpoints). */
  manifestSha256?: string;
}

export interface SaveOptions {
  /** A unique tag for the weight files of this save (e.g. the epoch). */
  tag?: string;
  /** Named tensors saved beside the weights (optimizer moments). */
  extraTensors?: NamedTensor[];
  /** Small JSON state saved in model.json (epoch, RNG state...). */
  training?: Record<string, unknown>;
}

/** The tensors as one float32 file and its manifest group (with the file's sha256). */
async function encode(tensors: NamedTensor[], file: string): Promise<{ data: Uint8Array; group: ManifestGroup }> {
  const { data, specs } = await tf.io.encodeWeights(tensors);
  const bytes = new Uint8Array(data);
  return { data: bytes, group: { paths: [file], weights: specs as ManifestGroup['weights'], sha256: [sha256(bytes)] } };
}

export async function saveCheckpoint(dir: string, model: GoogLeNet, metadata: CheckpointMetadata, opts: SaveOptions = {}): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  removeStaleTemps(dir);
  const tag = opts.tag ?? Date.now().toString(36);
  const weightsFile = `weights-${tag}.bin`;
  const weights = await encode([...model.stateDict()].map(([name, tensor]) => ({ name, tensor })), weightsFile);
  writeFileAtomic(path.join(dir, weightsFile), weights.data);
  const json: ModelJson = {
    format: 'googlenet-ts',
    formatVersion: 1,
    modelTopology: {
      class: 'GoogLeNet',
      variant: metadata.variant,
      numClasses: metadata.numClasses,
      auxLogits: metadata.auxLogits,
      transformInput: metadata.transformInput,
    },
    metadata,
    weightsManifest: [weights.group],
  };
  if (opts.extraTensors?.length) {
    const extraFile = `extra-${tag}.bin`;
    const extra = await encode(opts.extraTensors, extraFile);
    writeFileAtomic(path.join(dir, extraFile), extra.data);
    json.extra = [extra.group];
  }
  if (opts.training) json.training = opts.training;
  json.manifestSha256 = manifestDigest(json.weightsManifest, json.extra);
  writeFileAtomic(path.join(dir, 'model.json'), JSON.stringify(json));
  // model.json now points at the new files; the rest is for people and may lag behind after a crash.
  writeFileAtomic(path.join(dir, 'metadata.json'), JSON.stringify(metadata, null, 2) + '\n');
  writeFileAtomic(path.join(dir, 'class_indices.json'), JSON.stringify(classIndices(metadata.classNames), null, 4) + '\n');
  const keep = new Set([weightsFile, ...(json.extra?.[0].paths ?? [])]);
  for (const f of fs.readdirSync(dir)) {
    if (/^(weights|extra)-.*\.bin$/.test(f) && !keep.has(f)) fs.rmSync(path.join(dir, f), { force: true });
  }
}

export interface LoadedCheckpoint {
  model: GoogLeNet;
  metadata: CheckpointMetadata;
  /** Optimizer state and the like, if saved. The caller disposes them. */
  extraTensors: tf.NamedTensorMap;
  training: Record<string, unknown>;
}

function readModelJson(dir: string): ModelJson {
  const file = path.join(dir, 'model.json');
  if (!fs.existsSync(dir)) throw new CheckpointError(`checkpoint folder ${dir} does not exist`);
  if (!fs.statSync(dir).isDirectory()) throw new CheckpointError(`${dir} is not a checkpoint folder (expected a folder holding model.json)`);
  if (!fs.existsSync(file)) throw new CheckpointError(`no model.json in ${dir}: not a checkpoint (train one with bin/googlenet train, or import one with import-torch)`);
  let json: ModelJson;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8')) as ModelJson;
  } catch (e) {
    throw new CheckpointError(`${file} is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || json.format !== 'googlenet-ts' || !json.metadata || !json.weightsManifest) {
    throw new CheckpointError(`${file} is not a googlenet-ts checkpoint`);
  }
  checkMetadata(json.metadata, file);
  if (json.manifestSha256 !== undefined && json.manifestSha256 !== manifestDigest(json.weightsManifest, json.extra)) {
    throw new CheckpointError(`checkpoint ${dir} is damaged: the weight names, shapes or files in ${file} do not match the checksum it was written with${otherCheckpoint(dir)}`);
  }
  checkManifest(json.weightsManifest, file, 'weights manifest');
  if (json.extra !== undefined) checkManifest(json.extra, file, 'optimizer-state manifest');
  if (json.training !== undefined && (typeof json.training !== 'object' || json.training === null)) {
    throw new CheckpointError(`${file} is damaged: its training state is ${JSON.stringify(json.training)}`);
  }
  return json;
}

function readWeights(dir: string, manifest: ManifestGroup[]): tf.NamedTensorMap {
  const out: tf.NamedTensorMap = {};
  for (const group of manifest) {
    const buffers = group.paths.map((p, i) => {
      const f = path.join(dir, p);
      if (!fs.existsSync(f)) throw new CheckpointError(`checkpoint ${dir} is incomplete: ${p} is missing${otherCheckpoint(dir)}`);
      const b = fs.readFileSync(f);
      checkShard(dir, p, b, group.sha256?.[i]);
      return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
    });
    const total = buffers.reduce((s, b) => s + b.byteLength, 0);
    const expected = group.weights.reduce((s, w) => s + w.shape.reduce((a, b) => a * b, 1) * 4, 0);
    if (total !== expected) {
      const files = group.paths.map((p) => path.join(dir, p)).join(', ');
      throw new CheckpointError(`checkpoint ${dir} is damaged: ${files} hold${group.paths.length === 1 ? 's' : ''} ${total} bytes, model.json's manifest expects ${expected}${otherCheckpoint(dir)}`);
    }
    Object.assign(out, tf.io.decodeWeights(tf.io.concatenateArrayBuffers(buffers), group.weights));
  }
  return out;
}

/** Expectations a caller may check a checkpoint against (train --resume, evaluate on a dataset). */
export interface CheckpointExpectations {
  variant?: string;
  numClasses?: number;
  classNames?: string[];
  imageSize?: number;
}

export function checkCompatible(meta: CheckpointMetadata, want: CheckpointExpectations, dir: string): void {
  if (want.variant !== undefined && want.variant !== meta.variant) {
    throw new CheckpointError(`checkpoint ${dir} is the ${meta.variant} variant, but ${want.variant} was asked for`);
  }
  if (want.classNames !== undefined && want.classNames.join('\n') !== meta.classNames.join('\n')) {
    throw new CheckpointError(
      `checkpoint ${dir} was trained on classes [${meta.classNames.join(', ')}] but the data has [${want.classNames.join(', ')}]`,
    );
  }
  if (want.numClasses !== undefined && want.numClasses !== meta.numClasses) {
    throw new CheckpointError(`checkpoint ${dir} has ${meta.numClasses} classes, but ${want.numClasses} were asked for`);
  }
  if (want.imageSize !== undefined && want.imageSize !== meta.imageSize) {
    throw new CheckpointError(`checkpoint ${dir} was trained at ${meta.imageSize} px, but --image-size ${want.imageSize} was asked for`);
  }
}

export interface LoadOptions {
  /** Build the aux heads (training/resume). Default: as saved. Without them their weights are ignored. */
  auxLogits?: boolean;
  /** Also read the extra tensors (optimizer state). */
  withExtra?: boolean;
}

export async function loadCheckpoint(dir: string, opts: LoadOptions = {}): Promise<LoadedCheckpoint> {
  const json = readModelJson(dir);
  const meta = json.metadata;
  const auxLogits = opts.auxLogits ?? meta.auxLogits;
  if (auxLogits && !meta.auxLogits) throw new CheckpointError(`checkpoint ${dir} was saved without aux heads; it cannot be trained with them`);
  const weights = readWeights(dir, json.weightsManifest);
  // The classifier's size comes from the weights actually on disk, so a damaged numClasses cannot build a huge model.
  const fcBias = weights['fc.bias'];
  if (!fcBias || fcBias.shape.join(',') !== String(meta.numClasses)) {
    tf.dispose(Object.values(weights));
    throw new CheckpointError(`checkpoint ${dir}: its metadata says ${meta.numClasses} classes, its weights ${fcBias ? `have ${fcBias.shape[0]}` : 'lack fc.bias'}`);
  }
  const model = createGoogLeNet({ variant: meta.variant, numClasses: meta.numClasses, auxLogits, transformInput: meta.transformInput });
  try {
    const state = model.stateDict();
    for (const [name, v] of state) {
      const t = weights[name];
      if (!t) throw new CheckpointError(`checkpoint ${dir} lacks weight ${name}`);
      if (t.shape.join(',') !== v.shape.join(',')) {
        throw new CheckpointError(`checkpoint ${dir}: ${name} has shape ${formatDims(t.shape)}, the model expects ${formatDims(v.shape)}`);
      }
      v.assign(t);
    }
  } catch (e) {
    model.dispose();
    throw e;
  } finally {
    tf.dispose(Object.values(weights));
  }
  let extraTensors: tf.NamedTensorMap = {};
  try {
    if (opts.withExtra && json.extra) extraTensors = readWeights(dir, json.extra);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return { model, metadata: meta, extraTensors, training: json.training ?? {} };
}

/** Read only the metadata (fast; no tensors). */
export function readCheckpointMetadata(dir: string): CheckpointMetadata {
  return readModelJson(dir).metadata;
}
