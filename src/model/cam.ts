/**
 * Class activation maps (Zhou et al., 2016, "Learning Deep Features for Discriminative Localization",
 * shown on GoogLeNet). GoogLeNet ends with a global average pool and one linear layer:
 *
 *   logit_c = b_c + Σ_k W[k, c] · mean_xy F[x, y, k]          F: inception5b's output [h, w, 1024]
 *           = b_c + mean_xy ( Σ_k W[k, c] · F[x, y, k] )       (the mean and the sum commute)
 *           = b_c + mean_xy CAM_c[x, y]
 *
 * so CAM_c = F · W[:, c] says how much each position of the 5b map adds to class c's score, and in
 * evaluation mode (dropout off) its spatial mean plus fc's bias is exactly the logit. The map is S/32 of
 * the input (7x7 at 224 px, 3x3 at 96 px); `upsampleMaps` brings it to the image for an overlay.
 */
import * as tf from '../tf';
import type { GoogLeNet } from './googlenet';
import type { Linear } from './nn/linear';

export interface CamForward {
  /** inception5b's output [N, h, w, 1024] (NCHW in the notes: N x 1024 x h x w). The caller disposes it. */
  features: tf.Tensor4D;
  /** The main head's logits [N, classes], evaluation mode. The caller disposes it. */
  logits: tf.Tensor2D;
}

/** One evaluation-mode pass that keeps inception5b's output beside the logits. images: [N, S, S, 3], normalised. */
export function camForward(model: GoogLeNet, images: tf.Tensor4D): CamForward {
  const kept: { features?: tf.Tensor4D } = {};
  const { logits } = model.forward(images, { training: false }, (name, y) => {
    if (name === 'inception5b') kept.features = tf.keep(y as tf.Tensor4D);
  });
  if (!kept.features) {
    logits.dispose();
    throw new Error('the forward pass did not reach inception5b');
  }
  return { features: kept.features, logits };
}

function checkClasses(fc: Linear, classIndices: readonly number[], n: number): void {
  if (classIndices.length !== n) throw new Error(`one class index per image: ${n} images, ${classIndices.length} class indices`);
  const bad = classIndices.find((c) => !Number.isInteger(c) || c < 0 || c >= fc.outFeatures);
  if (bad !== undefined) throw new Error(`class index ${bad} is not in 0..${fc.outFeatures - 1}`);
}

/**
 * Map n is features[n] · fc's weight column for classIndices[n]: [N, h, w, 1024] -> [N, h, w].
 * fc's bias is left out (it is the same at every position).
 */
export function camsFromFeatures(features: tf.Tensor4D, fc: Linear, classIndices: readonly number[]): tf.Tensor3D {
  const [n, h, w, k] = features.shape;
  if (k !== fc.inFeatures) throw new Error(`features have ${k} channels but fc takes ${fc.inFeatures}`);
  checkClasses(fc, classIndices, n);
  return tf.tidy(() => {
    const cols = tf.gather(fc.weight, tf.tensor1d(classIndices as number[], 'int32'), 1); // [1024, N]
    const perImage = cols.transpose().reshape([n, k, 1]); //                                 [N, 1024, 1]
    const maps = tf.matMul(features.reshape([n, h * w, k]), perImage); //                     [N, h*w, 1]
    return maps.reshape([n, h, w]) as tf.Tensor3D;
  });
}

/** Every class's map at once: features · W, a 1x1 convolution [N, h, w, 1024] -> [N, h, w, classes]. */
export function allClassMaps(features: tf.Tensor4D, fc: Linear): tf.Tensor4D {
  const [n, h, w, k] = features.shape;
  if (k !== fc.inFeatures) throw new Error(`features have ${k} channels but fc takes ${fc.inFeatures}`);
  return tf.tidy(() => tf.matMul(features.reshape([n * h * w, k]), fc.weight as tf.Tensor2D).reshape([n, h, w, fc.outFeatures]) as tf.Tensor4D);
}

/** The maps of `classIndices` (one per image) for a batch of images, evaluation mode: [N, h, w]. */
export function classActivationMaps(model: GoogLeNet, images: tf.Tensor4D, classIndices: readonly number[]): tf.Tensor3D {
  checkClasses(model.fc, classIndices, images.shape[0]);
  const { features, logits } = camForward(model, images);
  try {
    return camsFromFeatures(features, model.fc, classIndices);
  } finally {
    tf.dispose([features, logits]);
  }
}

/**
 * Bilinear upsampling to the image, as PyTorch's `F.interpolate(mode='bilinear', align_corners=False)`
 * (half-pixel centres): [N, h, w] -> [N, H, W].
 */
export function upsampleMaps(maps: tf.Tensor3D, size: [number, number]): tf.Tensor3D {
  return tf.tidy(() => tf.image.resizeBilinear(maps.expandDims(-1) as tf.Tensor4D, size, false, true).squeeze([3]) as tf.Tensor3D);
}

/** Each map scaled to its own min..max, into 0..1 (a constant map becomes 0): for colouring. [N, h, w]. */
export function normalizeMaps(maps: tf.Tensor3D): tf.Tensor3D {
  return tf.tidy(() => {
    const lo = maps.min([1, 2], true);
    const span = maps.max([1, 2], true).sub(lo);
    const safe = tf.where(span.greater(0), span, tf.onesLike(span));
    return maps.sub(lo).div(safe) as tf.Tensor3D;
  });
}
