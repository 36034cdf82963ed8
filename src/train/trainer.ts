/**
 * The training loop of the notes' train.py: for each epoch, train with Adam on loss main + 0.3 aux1 +
 * 0.3 aux2, validate, append a metrics row, keep the best weights (RUN/) and the last state (RUN/last/,
 * with the optimizer, for --resume). Progress goes to callbacks; nothing is printed here.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '../tf';
import { createAdam } from './adam';
import { loadCheckpoint, NamedTensor, saveCheckpoint } from '../checkpoint/checkpoint';
import { CheckpointMetadata, Normalization } from '../checkpoint/metadata';
import { CheckpointError, otherCheckpoint } from '../checkpoint/verify';
import type { GoogLeNet } from '../model/googlenet';
import { applyBatchNormUpdates, BatchNormUpdate } from '../model/module';
import { Rng } from '../util/rng';
import { writeFileAtomic } from '../util/fs_atomic';
import type { BatchSource } from './batches';
import { learningRateAt, TrainConfig } from './config';
import { evaluate } from './evaluate';
import { googlenetLoss } from './loss';

export interface EpochMetrics {
  epoch: number;
  trainLoss: number;
  valLoss: number;
  valAccuracy: number;
  seconds: number;
  imagesPerSec: number;
  lr: number;
}

export interface TrainCallbacks {
  onEpochStart?(info: { epoch: number; epochs: number; steps: number }): void;
  onBatchEnd?(info: { epoch: number; step: number; steps: number; loss: number; imagesPerSec: number }): void;
  onValidation?(info: { epoch: number; done: number; total: number }): void;
  /** After validation and saving; return 'stop' to end training. */
  onEpochEnd?(metrics: EpochMetrics & { best: boolean }): void | 'stop';
  /** Polled between batches: true stops within one step, saving the last state (Ctrl-C). */
  shouldStop?(): boolean;
}

export interface TrainRun {
  model: GoogLeNet;
  train: BatchSource;
  val: BatchSource;
  config: TrainConfig;
  classNames: string[];
  normalization: Normalization;
  /** RUN folder: best weights in it, last state in RUN/last. */
  outDir: string;
  callbacks?: TrainCallbacks;
  /** First epoch to run (0-based), from --resume. */
  startEpoch?: number;
  bestValAccuracy?: number | null;
  /** Optimizer state from --resume, in Adam's getWeights order. */
  optimizerState?: NamedTensor[];
}

export interface TrainResult {
  epochsCompleted: number;
  bestValAccuracy: number | null;
  history: EpochMetrics[];
  stoppedBy: 'done' | 'interrupt' | 'early-stop' | 'callback';
}

export class NonFiniteLossError extends Error {}

/** Parameters the optimizer updates: all, or only the classifier heads when features are frozen. */
export function trainableParameters(model: GoogLeNet, freezeFeatures: boolean): [string, tf.Variable][] {
  const all = model.namedParameters();
  return freezeFeatures ? all.filter(([n]) => /^(fc|aux1|aux2)\./.test(n)) : all;
}

function metadataFor(run: TrainRun, epoch: number, best: number | null): CheckpointMetadata {
  const { model, config } = run;
  return {
    format: 'googlenet-ts',
    formatVersion: 1,
    variant: model.config.variant,
    numClasses: model.config.numClasses,
    imageSize: config.imageSize,
    classNames: run.classNames,
    normalization: run.normalization,
    auxLogits: model.config.auxLogits,
    transformInput: model.config.transformInput,
    epoch,
    bestValAccuracy: best,
    config: { ...config },
    createdAt: new Date().toISOString(),
  };
}

/** Rows of metrics.jsonl up to and including `epoch` (a resumed run rewrites the rest). */
function truncateMetrics(file: string, epoch: number): void {
  if (!fs.existsSync(file)) return;
  const rows = fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .filter((l) => {
      try {
        return (JSON.parse(l) as { epoch: number }).epoch <= epoch;
      } catch {
        return false;
      }
    });
  writeFileAtomic(file, rows.map((r) => r + '\n').join(''));
}

export async function trainModel(run: TrainRun): Promise<TrainResult> {
  const { model, config, callbacks: cb = {} } = run;
  fs.mkdirSync(run.outDir, { recursive: true });
  const lastDir = path.join(run.outDir, 'last');
  const metricsFile = path.join(run.outDir, 'metrics.jsonl');
  const startEpoch = run.startEpoch ?? 0;
  truncateMetrics(metricsFile, startEpoch);
  if (startEpoch === 0 && fs.existsSync(metricsFile)) fs.rmSync(metricsFile);

  const params = trainableParameters(model, config.freezeFeatures);
  const varList = params.map(([, v]) => v);
  const optimizer = createAdam(learningRateAt(config, startEpoch));
  if (run.optimizerState?.length) await optimizer.setWeights(run.optimizerState);

  let best = run.bestValAccuracy ?? null;
  let sinceBest = 0;
  const history: EpochMetrics[] = [];
  let stoppedBy: TrainResult['stoppedBy'] = 'done';
  let trapped = false;

  const saveLast = async (epochsDone: number) => {
    const state = await optimizer.getWeights();
    await saveCheckpoint(lastDir, model, metadataFor(run, epochsDone, best), {
      tag: `e${epochsDone}-${Date.now().toString(36)}`,
      extraTensors: state.map((s, i) => ({ name: `optimizer/${i}`, tensor: s.tensor })),
      training: { epochsDone, optimizerTensors: state.length, bestValAccuracy: best, sinceBest },
    });
    // getWeights returns the optimizer's own moment variables, plus a fresh 'iter' scalar: free only that.
    state.filter((s) => s.name === 'iter').forEach((s) => s.tensor.dispose());
  };

  try {
    for (let epoch = startEpoch; epoch < config.epochs; epoch++) {
      const lr = learningRateAt(config, epoch);
      (optimizer as unknown as { learningRate: number }).learningRate = lr;
      const steps = run.train.batchesPerEpoch();
      cb.onEpochStart?.({ epoch: epoch + 1, epochs: config.epochs, steps });
      // Dropout masks: a seed per (run seed, epoch), so a resumed run repeats the same epoch exactly.
      const rng = new Rng((config.seed * 1000003 + epoch * 7919) >>> 0);
      const t0 = Date.now();
      let lossSum = 0;
      let images = 0;
      let step = 0;
      let interrupted = false;
      for await (const batch of run.train.epoch(epoch)) {
        const updates: BatchNormUpdate[] = [];
        const ctx = { training: true, nextSeed: () => rng.seed(), batchNormUpdates: updates, freezeBatchNormStats: config.freezeFeatures };
        const lossT = optimizer.minimize(() => googlenetLoss(model.forward(batch.x, ctx), batch.y, config.auxWeight).total, true, varList);
        applyBatchNormUpdates(updates);
        const n = batch.x.shape[0];
        tf.dispose([batch.x, batch.y]);
        const loss = (await lossT!.data())[0];
        lossT!.dispose();
        if (!Number.isFinite(loss)) {
          throw new NonFiniteLossError(
            `the loss became ${loss} at epoch ${epoch + 1}, step ${step + 1}: training stopped; the last good checkpoint is kept (try a lower --lr)`,
          );
        }
        lossSum += loss * n;
        images += n;
        step++;
        cb.onBatchEnd?.({ epoch: epoch + 1, step, steps, loss, imagesPerSec: images / ((Date.now() - t0) / 1000) });
        if (cb.shouldStop?.()) {
          interrupted = true;
          break;
        }
      }
      if (interrupted) {
        stoppedBy = 'interrupt';
        await saveLast(epoch); // the interrupted epoch is not counted: --resume runs it again
        break;
      }
      const trainSeconds = (Date.now() - t0) / 1000;
      const v = await evaluate(model, run.val, { onBatch: (done, total) => cb.onValidation?.({ epoch: epoch + 1, done, total }) });
      const isBest = best === null || v.accuracy > best;
      if (isBest) {
        best = v.accuracy;
        sinceBest = 0;
        await saveCheckpoint(run.outDir, model, metadataFor(run, epoch + 1, best), { tag: `e${epoch + 1}` });
      } else {
        sinceBest++;
      }
      const m: EpochMetrics = {
        epoch: epoch + 1,
        trainLoss: images ? lossSum / images : NaN,
        valLoss: v.loss,
        valAccuracy: v.accuracy,
        seconds: (Date.now() - t0) / 1000,
        imagesPerSec: images / trainSeconds,
        lr,
      };
      history.push(m);
      fs.appendFileSync(metricsFile, JSON.stringify(m) + '\n');
      await saveLast(epoch + 1);
      if (cb.onEpochEnd?.({ ...m, best: isBest }) === 'stop') {
        stoppedBy = 'callback';
        break;
      }
      if (config.earlyStopPatience !== null && sinceBest >= config.earlyStopPatience) {
        stoppedBy = 'early-stop';
        break;
      }
      if (cb.shouldStop?.()) {
        stoppedBy = 'interrupt';
        break;
      }
    }
  } catch (e) {
    // A trap in the wasm backend (WebAssembly.RuntimeError) can leave its allocator's lock held: freeing
    // the optimizer's tensors then spins in free() for ever and the error is never seen (a 30-epoch run
    // hung so in its second epoch, main thread at 100% in emmalloc's free under AdamOptimizer.dispose).
    // Rethrow it without touching the backend's memory: the process is not fit to go on after one.
    if (isWasmTrap(e)) trapped = true;
    throw e;
  } finally {
    if (!trapped) optimizer.dispose();
  }
  return { epochsCompleted: startEpoch + history.length, bestValAccuracy: best, history, stoppedBy };
}

/**
 * What --resume needs from RUN/last: the model with aux heads, the epoch, best accuracy, optimizer state.
 * A run stopped between its first best save and its first RUN/last save has only RUN/model.json: it
 * resumes from there with a fresh optimizer (`fromBest` says so).
 */
export async function loadResumeState(outDir: string) {
  const lastDir = path.join(outDir, 'last');
  if (!fs.existsSync(path.join(lastDir, 'model.json')) && fs.existsSync(path.join(outDir, 'model.json'))) {
    const best = await loadCheckpoint(outDir);
    return {
      model: best.model,
      metadata: best.metadata,
      startEpoch: best.metadata.epoch,
      bestValAccuracy: best.metadata.bestValAccuracy,
      optimizerState: [] as NamedTensor[],
      fromBest: true,
    };
  }
  const ck = await loadCheckpoint(lastDir, { withExtra: true });
  const n = Number(ck.training.optimizerTensors ?? 0);
  const optimizerState: NamedTensor[] = [];
  for (let i = 0; i < n; i++) {
    const t = ck.extraTensors[`optimizer/${i}`];
    if (!t) throw new CheckpointError(`checkpoint ${lastDir} is damaged: its model.json lists no optimizer/${i} of the ${n} optimizer tensors it counts${otherCheckpoint(lastDir)}`);
    optimizerState.push({ name: `optimizer/${i}`, tensor: t });
  }
  return {
    model: ck.model,
    metadata: ck.metadata,
    startEpoch: Number(ck.training.epochsDone ?? ck.metadata.epoch),
    bestValAccuracy: (ck.training.bestValAccuracy as number | null | undefined) ?? ck.metadata.bestValAccuracy,
    optimizerState,
    fromBest: false,
  };
}

/**
 * A WebAssembly trap (out-of-bounds access, unreachable, ...) or a stack overflow (RangeError), either of
 * which can happen inside the backend's malloc. WebAssembly is typed structurally (tslab has no such lib).
 */
function isWasmTrap(e: unknown): boolean {
  const wasm = (globalThis as unknown as { WebAssembly?: { RuntimeError: new () => Error } }).WebAssembly;
  return (!!wasm && e instanceof wasm.RuntimeError) || e instanceof RangeError;
}
