/** Evaluation: accuracy, per-class accuracy and the confusion matrix, in eval mode (no aux, no dropout). */
import * as tf from '../tf';
import type { GoogLeNet } from '../model/googlenet';
import type { BatchSource } from './batches';
import { crossEntropy } from './loss';

export interface EvalResult {
  accuracy: number;
  count: number;
  /** Mean cross-entropy of the main head. */
  loss: number;
  /** confusion[true][predicted] */
  confusion: number[][];
  /** Accuracy of each true class (recall); null for a class with no images. */
  perClass: (number | null)[];
}

export interface EvalCallbacks {
  onBatch?(done: number, total: number): void;
}

export async function evaluate(model: GoogLeNet, data: BatchSource, cb: EvalCallbacks = {}): Promise<EvalResult> {
  const k = model.config.numClasses;
  const confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  let count = 0;
  let lossSum = 0;
  let done = 0;
  const total = data.batchesPerEpoch();
  for await (const batch of data.epoch(0)) {
    const [pred, loss] = tf.tidy(() => {
      const logits = model.predictLogits(batch.x);
      return [tf.argMax(logits, 1), crossEntropy(logits, batch.y)];
    });
    const [p, t, l] = await Promise.all([pred.data(), batch.y.data(), loss.data()]);
    tf.dispose([pred, loss, batch.x, batch.y]);
    for (let i = 0; i < p.length; i++) confusion[t[i]][p[i]]++;
    lossSum += l[0] * p.length;
    count += p.length;
    cb.onBatch?.(++done, total);
  }
  const correct = confusion.reduce((s, row, i) => s + row[i], 0);
  return {
    accuracy: count ? correct / count : 0,
    count,
    loss: count ? lossSum / count : 0,
    confusion,
    perClass: confusion.map((row, i) => {
      const n = row.reduce((a, b) => a + b, 0);
      return n ? row[i] / n : null;
    }),
  };
}
