/**
 * The notes' loss: loss = CE(main) + 0.3 * CE(aux1) + 0.3 * CE(aux2). The aux heads exist to push
 * gradient into the middle of the network; 0.3 is the paper's empirical weight.
 */
import * as tf from '../tf';
import type { GoogLeNetOutputs } from '../model/googlenet';

/** Weight of each auxiliary classifier's loss (GoogLeNet paper, the notes' `loss1 * 0.3`). */
export const AUX_LOSS_WEIGHT = 0.3;

/** nn.CrossEntropyLoss(): mean over the batch of -log softmax(logits)[label]. logits [N, C], labels [N] int32. */
export function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    const logp = tf.logSoftmax(logits);
    const picked = tf.sum(tf.mul(logp, tf.cast(tf.oneHot(labels, logits.shape[1]), 'float32')), 1);
    return tf.neg(tf.mean(picked)) as tf.Scalar;
  });
}

export interface LossParts {
  total: tf.Scalar;
  main: tf.Scalar;
  aux1?: tf.Scalar;
  aux2?: tf.Scalar;
}

/** Main loss plus the weighted aux losses when the outputs carry them (training mode). */
export function googlenetLoss(out: GoogLeNetOutputs, labels: tf.Tensor1D, auxWeight = AUX_LOSS_WEIGHT): LossParts {
  const main = crossEntropy(out.logits, labels);
  if (!out.aux1 || !out.aux2) return { total: main, main };
  const aux1 = crossEntropy(out.aux1, labels);
  const aux2 = crossEntropy(out.aux2, labels);
  const total = tf.tidy(() => main.add(aux1.add(aux2).mul(auxWeight)) as tf.Scalar);
  return { total, main, aux1, aux2 };
}
