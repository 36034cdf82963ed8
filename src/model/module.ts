/**
 * A tiny nn.Module: a tree of named children that own tf.Variables, so that every parameter has the
 * dotted name PyTorch gives it (`inception4a.branch2.1.conv.weight`) and the state dict maps 1:1.
 */
import * as tf from '../tf';

/** What a forward pass needs besides the input. */
export interface ForwardContext {
  /** Training mode: dropout on, BatchNorm uses batch statistics (PyTorch's `model.train()`). */
  training: boolean;
  /** Seeds for dropout masks; a seeded source makes a training step reproducible. */
  nextSeed?: () => number;
  /**
   * BatchNorm batch statistics gathered in training mode, applied to the running averages after the
   * step by `applyBatchNormUpdates` (the update must not be part of the gradient tape).
   */
  batchNormUpdates?: BatchNormUpdate[];
  /**
   * BatchNorm normalises with its running statistics and leaves them alone even in training mode:
   * frozen features in transfer learning (Keras's behaviour for non-trainable BatchNorm).
   */
  freezeBatchNormStats?: boolean;
}

export interface BatchNormUpdate {
  runningMean: tf.Variable;
  runningVar: tf.Variable;
  /** Batch mean [C] and biased batch variance [C], kept out of the step's tidy. */
  mean: tf.Tensor1D;
  variance: tf.Tensor1D;
  /** Elements per channel in the batch (N*H*W), for PyTorch's unbiased running variance. */
  count: number;
  momentum: number;
}

export abstract class Module {
  private readonly childModules = new Map<string, Module>();
  private readonly ownParams = new Map<string, tf.Variable>();
  private readonly ownBuffers = new Map<string, tf.Variable>();

  protected addModule<M extends Module>(name: string, m: M): M {
    this.childModules.set(name, m);
    return m;
  }

  /** A trainable tensor (PyTorch `nn.Parameter`). */
  protected addParam(name: string, value: tf.Tensor): tf.Variable {
    const v = tf.variable(value, true);
    value.dispose();
    this.ownParams.set(name, v);
    return v;
  }

  /** A non-trainable tensor saved with the model (PyTorch `register_buffer`, e.g. BN running stats). */
  protected addBuffer(name: string, value: tf.Tensor): tf.Variable {
    const v = tf.variable(value, false);
    value.dispose();
    this.ownBuffers.set(name, v);
    return v;
  }

  children(): [string, Module][] {
    return [...this.childModules.entries()];
  }

  /** Trainable parameters with dotted names, in definition order. */
  namedParameters(prefix = ''): [string, tf.Variable][] {
    const out: [string, tf.Variable][] = [];
    for (const [n, p] of this.ownParams) out.push([prefix + n, p]);
    for (const [n, m] of this.childModules) out.push(...m.namedParameters(`${prefix}${n}.`));
    return out;
  }

  namedBuffers(prefix = ''): [string, tf.Variable][] {
    const out: [string, tf.Variable][] = [];
    for (const [n, b] of this.ownBuffers) out.push([prefix + n, b]);
    for (const [n, m] of this.childModules) out.push(...m.namedBuffers(`${prefix}${n}.`));
    return out;
  }

  /** Parameters and buffers, as PyTorch's `state_dict()` (minus `num_batches_tracked`). */
  stateDict(prefix = ''): Map<string, tf.Variable> {
    return new Map([...this.namedParameters(prefix), ...this.namedBuffers(prefix)]);
  }

  numParameters(): number {
    return this.namedParameters().reduce((s, [, p]) => s + p.size, 0);
  }

  dispose(): void {
    for (const [, p] of this.namedParameters()) p.dispose();
    for (const [, b] of this.namedBuffers()) b.dispose();
  }
}

/** Apply BatchNorm running-average updates gathered during a training forward pass, then free them. */
export function applyBatchNormUpdates(updates: BatchNormUpdate[]): void {
  for (const u of updates) {
    tf.tidy(() => {
      const m = u.momentum;
      const unbiased = u.count > 1 ? u.variance.mul(u.count / (u.count - 1)) : u.variance;
      u.runningMean.assign(u.runningMean.mul(1 - m).add(u.mean.mul(m)));
      u.runningVar.assign(u.runningVar.mul(1 - m).add(unbiased.mul(m)));
    });
    u.mean.dispose();
    u.variance.dispose();
  }
  updates.length = 0;
}
