/**
 * Throughput of a training step (the notes' recipe: aux heads on, loss main + 0.3 aux, Adam) and of
 * inference, on random input of a given size, with tensor counts before and after to show leaks.
 */
import * as tf from '../tf';
import { createAdam } from './adam';
import { createGoogLeNet } from '../model/googlenet';
import { applyBatchNormUpdates, BatchNormUpdate } from '../model/module';
import type { Variant } from '../model/specs';
import { Rng } from '../util/rng';
import { googlenetLoss } from './loss';

export interface BenchArgs {
  variant: Variant;
  imageSize: number;
  batchSize: number;
  /** Timed steps (after one untimed warm-up step). */
  steps: number;
  numClasses?: number;
  seed?: number;
}

export interface BenchResult {
  trainImagesPerSec: number;
  evalImagesPerSec: number;
  /** Live tensors before building the model and after disposing it: equal when nothing leaks. */
  tensorsBefore: number;
  tensorsAfter: number;
  /** Live tensors after each timed training step: flat when a step leaks nothing. */
  tensorsPerStep: number[];
  trainStepSeconds: number[];
}

export async function benchModel(args: BenchArgs): Promise<BenchResult> {
  const tensorsBefore = tf.memory().numTensors;
  const numClasses = args.numClasses ?? 5;
  const model = createGoogLeNet({ variant: args.variant, numClasses, seed: args.seed ?? 0 });
  const optimizer = createAdam(3e-4);
  const vars = model.namedParameters().map(([, v]) => v);
  const rng = new Rng(args.seed ?? 0);
  const s = args.imageSize;
  const x = tf.randomUniform([args.batchSize, s, s, 3], -1, 1, 'float32', rng.seed()) as tf.Tensor4D;
  const y = tf.tensor1d(Array.from({ length: args.batchSize }, (_, i) => i % numClasses), 'int32');
  const step = async () => {
    const updates: BatchNormUpdate[] = [];
    const ctx = { training: true, nextSeed: () => rng.seed(), batchNormUpdates: updates };
    const loss = optimizer.minimize(() => googlenetLoss(model.forward(x, ctx), y).total, true, vars)!;
    applyBatchNormUpdates(updates);
    await loss.data();
    loss.dispose();
  };
  const infer = async () => {
    const logits = model.predictLogits(x);
    await logits.data();
    logits.dispose();
  };
  const tensorsPerStep: number[] = [];
  const trainStepSeconds: number[] = [];
  try {
    await step(); // warm-up: kernel set-up, weight caches
    for (let i = 0; i < args.steps; i++) {
      const t0 = process.hrtime.bigint();
      await step();
      trainStepSeconds.push(Number(process.hrtime.bigint() - t0) / 1e9);
      tensorsPerStep.push(tf.memory().numTensors);
    }
    await infer();
    const t1 = process.hrtime.bigint();
    for (let i = 0; i < args.steps; i++) await infer();
    const evalSeconds = Number(process.hrtime.bigint() - t1) / 1e9;
    const trainSeconds = trainStepSeconds.reduce((a, b) => a + b, 0);
    return {
      trainImagesPerSec: (args.batchSize * args.steps) / trainSeconds,
      evalImagesPerSec: (args.batchSize * args.steps) / evalSeconds,
      tensorsBefore,
      tensorsAfter: NaN,
      tensorsPerStep,
      trainStepSeconds,
    };
  } finally {
    tf.dispose([x, y]);
    optimizer.dispose();
    model.dispose();
  }
}

/** benchModel, then the tensor count once everything is disposed. */
export async function benchModelWithLeakCheck(args: BenchArgs): Promise<BenchResult> {
  const r = await benchModel(args);
  return { ...r, tensorsAfter: tf.memory().numTensors };
}
