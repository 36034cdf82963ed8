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

/** One benchmark step and one inference on fixed random input, with what they hold. */
interface BenchRig {
  /** A training step: forward, loss, backward, Adam, BatchNorm running stats; resolves once the loss is read. */
  step(): Promise<void>;
  /** The same step without reading the loss back (synchronous, for tf.profile): the caller disposes the loss. */
  stepSync(): tf.Scalar;
  infer(): Promise<void>;
  dispose(): void;
}

function benchRig(args: BenchArgs): BenchRig {
  const numClasses = args.numClasses ?? 5;
  const model = createGoogLeNet({ variant: args.variant, numClasses, seed: args.seed ?? 0 });
  const optimizer = createAdam(3e-4);
  const vars = model.namedParameters().map(([, v]) => v);
  const rng = new Rng(args.seed ?? 0);
  const s = args.imageSize;
  const x = tf.randomUniform([args.batchSize, s, s, 3], -1, 1, 'float32', rng.seed()) as tf.Tensor4D;
  const y = tf.tensor1d(Array.from({ length: args.batchSize }, (_, i) => i % numClasses), 'int32');
  const stepSync = () => {
    const updates: BatchNormUpdate[] = [];
    const ctx = { training: true, nextSeed: () => rng.seed(), batchNormUpdates: updates };
    const loss = optimizer.minimize(() => googlenetLoss(model.forward(x, ctx), y).total, true, vars)!;
    applyBatchNormUpdates(updates);
    return loss;
  };
  return {
    stepSync,
    step: async () => {
      const loss = stepSync();
      await loss.data();
      loss.dispose();
    },
    infer: async () => {
      const logits = model.predictLogits(x);
      await logits.data();
      logits.dispose();
    },
    dispose: () => {
      tf.dispose([x, y]);
      optimizer.dispose();
      model.dispose();
    },
  };
}

export async function benchModel(args: BenchArgs): Promise<BenchResult> {
  const tensorsBefore = tf.memory().numTensors;
  const rig = benchRig(args);
  const tensorsPerStep: number[] = [];
  const trainStepSeconds: number[] = [];
  try {
    await rig.step(); // warm-up: kernel set-up, weight caches
    for (let i = 0; i < args.steps; i++) {
      const t0 = process.hrtime.bigint();
      await rig.step();
      trainStepSeconds.push(Number(process.hrtime.bigint() - t0) / 1e9);
      tensorsPerStep.push(tf.memory().numTensors);
    }
    await rig.infer();
    const t1 = process.hrtime.bigint();
    for (let i = 0; i < args.steps; i++) await rig.infer();
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
    rig.dispose();
  }
}

/** One kernel's (or one kernel-and-shapes') share of a profiled training step. */
export interface ProfileEntry {
  /** The tfjs kernel name ('Conv2DBackpropFilter'); in `top`, followed by its input shapes. */
  name: string;
  calls: number;
  ms: number;
  /** ms / the sum over all kernels. */
  share: number;
}

export interface StepProfile {
  /**
   * 'gpu-timestamps': each kernel's GPU time from timestamp queries around its compute pass (webgpu on
   * an adapter with 'timestamp-query'); 'backend-timer': the backend's own kernel timer (cpu, wasm,
   * tensorflow: synchronous wall-clock per kernel); 'none': the backend measured nothing (all zero).
   */
  timing: 'gpu-timestamps' | 'backend-timer' | 'none';
  /** Wall-clock of the profiled step (profiling adds a submit per kernel on webgpu: slower than a bench step). */
  stepMs: number;
  /** The sum of the kernels' times. */
  kernelMs: number;
  kernelCalls: number;
  /** Per kernel name, slowest first. */
  byKernel: ProfileEntry[];
  /** Per kernel name and input shapes (one layer's call, or the same shape repeated), slowest first. */
  top: ProfileEntry[];
}

function rank(map: Map<string, { calls: number; ms: number }>, total: number, limit: number): ProfileEntry[] {
  return [...map.entries()]
    .map(([name, v]) => ({ name, calls: v.calls, ms: v.ms, share: total > 0 ? v.ms / total : 0 }))
    .sort((a, b) => b.ms - a.ms || a.name.localeCompare(b.name))
    .slice(0, limit);
}

/**
 * Time per kernel of one training step (after `warmup` untimed steps, which compile the shaders), with
 * tfjs's profiler: on webgpu each kernel's compute pass is bracketed by timestamp queries where the
 * adapter has them. `top` keeps the `limit` slowest (kernel, shapes) pairs.
 */
export async function profileTrainingStep(args: Omit<BenchArgs, 'steps'> & { warmup?: number; limit?: number }): Promise<StepProfile> {
  const rig = benchRig({ ...args, steps: 1 });
  try {
    for (let i = 0; i < (args.warmup ?? 1); i++) await rig.step();
    const t0 = process.hrtime.bigint();
    const info = await tf.profile(() => rig.stepSync());
    const loss = info.result as tf.Scalar;
    await loss.data();
    loss.dispose();
    const stepMs = Number(process.hrtime.bigint() - t0) / 1e6;
    const byName = new Map<string, { calls: number; ms: number }>();
    const byShape = new Map<string, { calls: number; ms: number }>();
    let kernelMs = 0;
    for (const k of info.kernels) {
      const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
      kernelMs += ms;
      const shapes = `${k.name} ${k.inputShapes.map((sh) => `[${sh ? sh.join(',') : ''}]`).join(' ')}`;
      for (const [map, key] of [[byName, k.name], [byShape, shapes]] as const) {
        const e = map.get(key) ?? { calls: 0, ms: 0 };
        e.calls++;
        e.ms += ms;
        map.set(key, e);
      }
    }
    const gpu = tf.getBackend() === 'webgpu';
    const timing = kernelMs === 0 ? 'none' : gpu ? 'gpu-timestamps' : 'backend-timer';
    return {
      timing,
      stepMs,
      kernelMs,
      kernelCalls: info.kernels.length,
      byKernel: rank(byName, kernelMs, Infinity),
      top: rank(byShape, kernelMs, args.limit ?? 20),
    };
  } finally {
    rig.dispose();
  }
}

export interface StepMemory {
  /** The most bytes of live tensors during one training step (tf.profile's peakBytes). */
  peakBytes: number;
  /** The backend's buffer pool after the step, free buffers included (webgpu: numBytesAllocatedInGPU; else NaN). */
  poolBytes: number;
}

/** Memory of one training step, after `warmup` steps (which fill the buffer pool). */
export async function stepMemory(args: Omit<BenchArgs, 'steps'> & { warmup?: number }): Promise<StepMemory> {
  const rig = benchRig({ ...args, steps: 1 });
  try {
    for (let i = 0; i < (args.warmup ?? 1); i++) await rig.step();
    const info = await tf.profile(() => rig.stepSync());
    const loss = info.result as tf.Scalar;
    await loss.data();
    loss.dispose();
    const m = tf.memory() as tf.MemoryInfo & { numBytesAllocatedInGPU?: number };
    return { peakBytes: info.peakBytes, poolBytes: m.numBytesAllocatedInGPU ?? NaN };
  } finally {
    rig.dispose();
  }
}

/** The profile as a few lines of text: timing source, step and kernel totals, the slowest kernels. */
export function formatProfile(p: StepProfile, title: string, lines = 12): string {
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`.padStart(6);
  const row = (e: ProfileEntry) => `  ${pct(e.share)} ${e.ms.toFixed(1).padStart(9)} ms ${String(e.calls).padStart(5)}x  ${e.name}`;
  return [
    `step profile, ${title}: ${p.kernelCalls} kernel calls, ${p.kernelMs.toFixed(1)} ms in kernels (${p.timing}), step ${p.stepMs.toFixed(0)} ms wall-clock`,
    'by kernel:',
    ...p.byKernel.slice(0, lines).map(row),
    'slowest calls (kernel and input shapes):',
    ...p.top.slice(0, lines).map(row),
  ].join('\n');
}

/** benchModel, then the tensor count once everything is disposed. */
export async function benchModelWithLeakCheck(args: BenchArgs): Promise<BenchResult> {
  const r = await benchModel(args);
  return { ...r, tensorsAfter: tf.memory().numTensors };
}
