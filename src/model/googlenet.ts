/**
 * GoogLeNet (Inception v1), NHWC. The forward pass of the course notes, stage by stage:
 *   x - conv1 - maxpool1 - conv2 - conv3 - maxpool2 - 3a - 3b - maxpool3 - 4a - 4b - 4c - 4d - 4e
 *     - maxpool4 - 5a - 5b - avgpool - flatten - dropout - fc          (aux1 after 4a, aux2 after 4d)
 */
import * as tf from '../tf';
import { Rng } from '../util/rng';
import { BasicConv2d } from './basic_conv2d';
import { Inception } from './inception';
import { InceptionAux } from './inception_aux';
import { ForwardContext, Module } from './module';
import { Initializer, InitScheme } from './nn/init';
import { Linear } from './nn/linear';
import { adaptiveAvgPool2d, maxPool2d } from './nn/pool';
import { dropout } from './nn/dropout';
import { INCEPTION_SPECS, InceptionName, VARIANTS, Variant, VariantSpec } from './specs';

export interface GoogLeNetConfig {
  /** 'course' (the notes' model) or 'torchvision' (loads torchvision's ImageNet weights). */
  variant: Variant;
  /** 5 flower classes in the notes; 1000 for ImageNet. */
  numClasses: number;
  /** Build the two auxiliary classifiers (the notes' `aux_logits=True`); used in training only. */
  auxLogits: boolean;
  /** torchvision's `transform_input`: re-normalise (x-0.5)/0.5 input to ImageNet statistics (pretrained weights). */
  transformInput: boolean;
  /** Initialisation; the variant's own by default (the notes call none: PyTorch defaults). */
  init?: InitScheme;
  /** Seed for the initial weights. */
  seed: number;
}

export const DEFAULT_CONFIG: GoogLeNetConfig = {
  variant: 'course',
  numClasses: 5,
  auxLogits: true,
  transformInput: false,
  seed: 0,
};

/** Training mode with aux heads: main logits and both aux logits (the notes return `y_pred, aux2, aux1`). */
export interface GoogLeNetOutputs {
  logits: tf.Tensor2D;
  aux2?: tf.Tensor2D;
  aux1?: tf.Tensor2D;
}

/** The stages in forward order, named as in the notes; `summary` and the lessons walk this list. */
export const STAGES = [
  'conv1', 'maxpool1', 'conv2', 'conv3', 'maxpool2', 'inception3a', 'inception3b', 'maxpool3',
  'inception4a', 'inception4b', 'inception4c', 'inception4d', 'inception4e', 'maxpool4',
  'inception5a', 'inception5b', 'avgpool', 'dropout', 'fc',
] as const;
export type StageName = (typeof STAGES)[number] | 'aux1' | 'aux2';

/** Called with each stage's output during a forward pass (feature maps for lessons, shape checks). */
export type StageHook = (name: StageName, y: tf.Tensor) => void;

export class GoogLeNet extends Module {
  readonly variant: VariantSpec;
  readonly conv1: BasicConv2d;
  readonly conv2: BasicConv2d;
  readonly conv3: BasicConv2d;
  readonly inception: Record<InceptionName, Inception>;
  readonly aux1: InceptionAux | null;
  readonly aux2: InceptionAux | null;
  readonly fc: Linear;

  constructor(readonly config: GoogLeNetConfig) {
    super();
    if (!Number.isInteger(config.numClasses) || config.numClasses < 1) {
      throw new Error(`numClasses must be a positive integer, got ${config.numClasses}`);
    }
    const v = (this.variant = VARIANTS[config.variant]);
    if (!v) throw new Error(`unknown variant '${config.variant}': use course or torchvision`);
    const init: Initializer = { scheme: config.init ?? v.init, rng: new Rng(config.seed) };
    const bn = v.batchNorm;
    this.conv1 = this.addModule('conv1', new BasicConv2d({ inChannels: 3, outChannels: 64, kernelSize: 7, stride: 2, padding: 3, batchNorm: bn }, init));
    this.conv2 = this.addModule('conv2', new BasicConv2d({ inChannels: 64, outChannels: 64, kernelSize: 1, batchNorm: bn }, init));
    this.conv3 = this.addModule('conv3', new BasicConv2d({ inChannels: 64, outChannels: 192, kernelSize: 3, padding: 1, batchNorm: bn }, init));
    const inc = {} as Record<InceptionName, Inception>;
    const build = (n: InceptionName) => (inc[n] = this.addModule(`inception${n}`, new Inception(INCEPTION_SPECS[n], v, init)));
    build('3a');
    build('3b');
    build('4a');
    // PyTorch registers aux1/aux2 after inception5b; only the order of names differs, not the weights.
    for (const n of ['4b', '4c', '4d', '4e', '5a', '5b'] as const) build(n);
    this.inception = inc;
    this.aux1 = config.auxLogits ? this.addModule('aux1', new InceptionAux(512, config.numClasses, v, init)) : null;
    this.aux2 = config.auxLogits ? this.addModule('aux2', new InceptionAux(528, config.numClasses, v, init)) : null;
    this.fc = this.addModule('fc', new Linear(1024, config.numClasses, init));
  }

  /** Parameters of the two aux heads (dropped at inference). */
  auxParameterCount(): number {
    return (this.aux1?.numParameters() ?? 0) + (this.aux2?.numParameters() ?? 0);
  }

  /** torchvision's transform_input: per channel x * (std/0.5) + (mean-0.5)/0.5. */
  private transformInput(x: tf.Tensor4D): tf.Tensor4D {
    const { mean, std } = VARIANTS.torchvision.normalization;
    const scale = tf.tensor1d(std.map((s) => s / 0.5));
    const shift = tf.tensor1d(mean.map((m) => (m - 0.5) / 0.5));
    return x.mul(scale).add(shift);
  }

  /**
   * [N, H, W, 3] normalised images -> logits [N, classes]; in training mode with aux heads also aux2 and
   * aux1. The caller owns the returned tensors.
   */
  forward(x: tf.Tensor4D, ctx: ForwardContext, hook?: StageHook): GoogLeNetOutputs {
    const withAux = ctx.training && this.aux1 !== null && this.aux2 !== null;
    const out = tf.tidy(() => {
      const stage = <T extends tf.Tensor>(name: StageName, y: T): T => {
        hook?.(name, y);
        return y;
      };
      const pool = (y: tf.Tensor4D, k: number) => maxPool2d(y, { kernelSize: k, stride: 2, ceilMode: true });
      const inc = this.inception;
      if (this.config.transformInput) x = this.transformInput(x);
      let y = stage('conv1', this.conv1.apply(x, ctx)); //          [N, 112, 112, 64]    (N x 64 x 112 x 112)
      y = stage('maxpool1', pool(y, 3)); //                          [N, 56, 56, 64]
      y = stage('conv2', this.conv2.apply(y, ctx)); //               [N, 56, 56, 64]
      y = stage('conv3', this.conv3.apply(y, ctx)); //               [N, 56, 56, 192]
      y = stage('maxpool2', pool(y, 3)); //                          [N, 28, 28, 192]
      y = stage('inception3a', inc['3a'].apply(y, ctx)); //          [N, 28, 28, 256]
      y = stage('inception3b', inc['3b'].apply(y, ctx)); //          [N, 28, 28, 480]
      y = stage('maxpool3', pool(y, 3)); //                          [N, 14, 14, 480]
      y = stage('inception4a', inc['4a'].apply(y, ctx)); //          [N, 14, 14, 512]
      const aux1 = withAux ? stage('aux1', this.aux1!.apply(y, ctx)) : undefined; // [N, classes]
      y = stage('inception4b', inc['4b'].apply(y, ctx)); //          [N, 14, 14, 512]
      y = stage('inception4c', inc['4c'].apply(y, ctx)); //          [N, 14, 14, 512]
      y = stage('inception4d', inc['4d'].apply(y, ctx)); //          [N, 14, 14, 528]
      const aux2 = withAux ? stage('aux2', this.aux2!.apply(y, ctx)) : undefined; // [N, classes]
      y = stage('inception4e', inc['4e'].apply(y, ctx)); //          [N, 14, 14, 832]
      y = stage('maxpool4', pool(y, this.variant.maxpool4Kernel)); // [N, 7, 7, 832]
      y = stage('inception5a', inc['5a'].apply(y, ctx)); //          [N, 7, 7, 832]
      y = stage('inception5b', inc['5b'].apply(y, ctx)); //          [N, 7, 7, 1024]
      y = stage('avgpool', adaptiveAvgPool2d(y, 1, 1)); //           [N, 1, 1, 1024]
      let f = y.reshape([y.shape[0], 1024]) as tf.Tensor2D; //       [N, 1024]
      f = stage('dropout', dropout(f, this.variant.mainDropout, ctx));
      const logits = stage('fc', this.fc.apply(f)); //               [N, classes]
      return withAux ? { logits, aux2: aux2!, aux1: aux1! } : { logits };
    });
    return out;
  }

  /** Evaluation mode: main logits only (aux heads off, dropout off, BN running statistics). */
  predictLogits(x: tf.Tensor4D): tf.Tensor2D {
    return this.forward(x, { training: false }).logits;
  }
}

/**
 * The notes' `GoogLeNet(num_classes=5, aux_logits=True, init_weights=...)`: the whole network, built
 * from `config` over DEFAULT_CONFIG (course variant, 5 classes, aux heads on). Input N x H x W x 3 (NHWC);
 * `forward` returns the logits and, in training with auxLogits, aux1's and aux2's.
 */
export function createGoogLeNet(config: Partial<GoogLeNetConfig> = {}): GoogLeNet {
  return new GoogLeNet({ ...DEFAULT_CONFIG, ...config });
}
