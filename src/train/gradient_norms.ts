/**
 * How much gradient reaches each layer in one training step: the L2 norm of d loss / d θ per parameter
 * and per stage (conv1, conv2, conv3, inception3a, ..., fc, aux1, aux2), for the loss
 * main + auxWeight · (aux1 + aux2). With auxWeight 0 the aux heads are computed but their loss is left
 * out, so the same model, batch and dropout masks give the gradient without them: the notes' claim that
 * the aux heads push gradient into the early layers (提供额外的梯度反向传播路径) becomes a measurement.
 *
 * A measurement only: nothing is updated (BatchNorm's batch statistics are dropped, not applied).
 */
import * as tf from '../tf';
import { STAGES, type GoogLeNet } from '../model/googlenet';
import type { BatchNormUpdate } from '../model/module';
import { Rng } from '../util/rng';
import { googlenetLoss } from './loss';

export interface GradientNormOptions {
  /** Weight of each aux loss: 0.3 as in the notes; 0 leaves the aux heads' loss out. */
  auxWeight: number;
  /** Seed of the dropout masks: two calls with one seed see the same masks, so they differ only in the loss. */
  seed: number;
}

export interface GradientNorms {
  /** The loss differentiated: main + auxWeight · (aux1 + aux2). */
  loss: number;
  /** The main head's cross-entropy alone. */
  mainLoss: number;
  /** ‖d loss / d θ‖ for each parameter, by its state-dict name, in definition order. */
  parameters: Record<string, number>;
  /** The same over each stage's parameters together, in forward order (aux1 and aux2 last). */
  stages: Record<string, number>;
}

/** The stage a parameter belongs to: the first part of its name (`inception4a.branch2.1.conv.weight` -> inception4a). */
export function stageOf(parameterName: string): string {
  return parameterName.split('.')[0];
}

/** √(Σ norm²) over the named entries of a norm table: the norm of those gradients taken together. */
export function combinedNorm(norms: Record<string, number>, names: readonly string[]): number {
  return Math.sqrt(names.reduce((s, n) => s + (norms[n] ?? 0) ** 2, 0));
}

/** Stages in forward order, then the aux heads; only those that have parameters in `present`. */
function stageOrder(present: Set<string>): string[] {
  const order = [...STAGES, 'aux1', 'aux2'].filter((s) => present.has(s));
  return [...order, ...[...present].filter((s) => !order.includes(s as (typeof order)[number]))];
}

/**
 * One training-mode forward and backward pass on (x [N, S, S, 3], y [N] int32), and the gradient norms.
 * The model's weights and BatchNorm statistics are left as they were.
 */
export function gradientNorms(model: GoogLeNet, x: tf.Tensor4D, y: tf.Tensor1D, opts: GradientNormOptions): GradientNorms {
  const named = model.namedParameters();
  const rng = new Rng(opts.seed);
  const updates: BatchNormUpdate[] = [];
  const kept: { main?: tf.Scalar } = {};
  const { value, grads } = tf.variableGrads(() => {
    const parts = googlenetLoss(model.forward(x, { training: true, nextSeed: () => rng.seed(), batchNormUpdates: updates }), y, opts.auxWeight);
    kept.main = tf.keep(parts.main);
    return parts.total;
  }, named.map(([, v]) => v));
  tf.dispose(updates.flatMap((u) => [u.mean, u.variance]));
  // Σ g² in double precision (a float32 tf.sum over 10^5 values is off by ~1e-5). A parameter the loss
  // does not reach has no gradient: its norm is 0.
  const sq = named.map(([, v]) => {
    const g = grads[v.name]?.dataSync();
    let s = 0;
    if (g) for (let i = 0; i < g.length; i++) s += g[i] * g[i];
    return s;
  });
  const loss = value.dataSync()[0];
  const mainLoss = kept.main!.dataSync()[0];
  tf.dispose([value, kept.main!, ...Object.values(grads)]);

  const parameters: Record<string, number> = {};
  const stageSq = new Map<string, number>();
  named.forEach(([name], i) => {
    parameters[name] = Math.sqrt(sq[i]);
    stageSq.set(stageOf(name), (stageSq.get(stageOf(name)) ?? 0) + sq[i]);
  });
  const stages: Record<string, number> = {};
  for (const s of stageOrder(new Set(stageSq.keys()))) stages[s] = Math.sqrt(stageSq.get(s)!);
  return { loss, mainLoss, parameters, stages };
}
