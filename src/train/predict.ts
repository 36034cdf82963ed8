/**
 * Prediction as the notes' predict.py: Resize((S, S)) + ToTensor + Normalize, the model in eval mode,
 * softmax, the top-k classes. Class names and preprocessing come from the checkpoint.
 */
import * as fs from 'fs';
import * as tf from '../tf';
import type { CheckpointMetadata } from '../checkpoint/metadata';
import { loadImage } from '../data/decode';
import { evalTransform, writeNormalized } from '../data/transforms';
import type { GoogLeNet } from '../model/googlenet';

export interface ClassProbability {
  index: number;
  className: string;
  probability: number;
}

export interface ImagePrediction {
  image: string;
  /** Best first. */
  predictions: ClassProbability[];
}

export interface ImageFailure {
  image: string;
  error: string;
}

/** Why a path cannot be predicted, before decoding: missing, a folder, unreadable. */
export function checkImagePath(p: string): string | null {
  if (!fs.existsSync(p)) return `${p} does not exist`;
  const st = fs.statSync(p);
  if (st.isDirectory()) return `${p} is a directory, not an image (pass image files, e.g. ${p}/*.jpg)`;
  try {
    fs.accessSync(p, fs.constants.R_OK);
  } catch {
    return `${p} cannot be read (permission denied)`;
  }
  return null;
}

/** One image as the model's input [1, S, S, 3], preprocessed as the checkpoint says. */
export async function preprocessForEval(image: string | Buffer, meta: Pick<CheckpointMetadata, 'imageSize' | 'normalization'>): Promise<tf.Tensor4D> {
  const s = meta.imageSize;
  const { image: rgb } = await loadImage(image, { transform: evalTransform(s) });
  const buf = new Float32Array(s * s * 3);
  writeNormalized(rgb, meta.normalization, buf);
  return tf.tensor4d(buf, [1, s, s, 3]);
}

/** Softmax probabilities -> the top k classes, best first. */
export function topK(probs: ArrayLike<number>, classNames: string[], k: number): ClassProbability[] {
  return Array.from(probs, (p, i) => ({ index: i, className: classNames[i] ?? String(i), probability: p }))
    .sort((a, b) => b.probability - a.probability || a.index - b.index)
    .slice(0, Math.max(1, Math.min(k, probs.length)));
}

/**
 * Predict each image. An image that cannot be read or decoded is reported in `failures` and the
 * others are still predicted.
 */
export async function predictImages(
  model: GoogLeNet,
  meta: CheckpointMetadata,
  images: string[],
  k = 5,
): Promise<{ results: ImagePrediction[]; failures: ImageFailure[] }> {
  const results: ImagePrediction[] = [];
  const failures: ImageFailure[] = [];
  for (const image of images) {
    const problem = checkImagePath(image);
    if (problem) {
      failures.push({ image, error: problem });
      continue;
    }
    let x: tf.Tensor4D;
    try {
      x = await preprocessForEval(image, meta);
    } catch (e) {
      failures.push({ image, error: `${image} is not a readable image: ${(e as Error).message}` });
      continue;
    }
    const probs = tf.tidy(() => tf.softmax(model.predictLogits(x)));
    const p = await probs.data();
    tf.dispose([x, probs]);
    results.push({ image, predictions: topK(p, meta.classNames, k) });
  }
  return { results, failures };
}
