/**
 * Checkers for notebooks/exercises/. Each takes the student's answers, works out the right ones from
 * the library itself (building the modules, summarising the model), and shows what is right, wrong or
 * not done yet (checks.report). They never throw on a wrong or missing answer.
 */
import * as tf from '../tf';
import { BasicConv2d } from '../model/basic_conv2d';
import { createGoogLeNet } from '../model/googlenet';
import { BatchNorm2d } from '../model/nn/batch_norm2d';
import { Initializer } from '../model/nn/init';
import { INCEPTION_SPECS, InceptionSpec } from '../model/specs';
import { summarize } from '../model/summary';
import { Rng } from '../util/rng';
import { Verdict, attempt, failed, isTodo, isVerdict, notDone, passed, report, verdictNumber } from './checks';

const init = (): Initializer => ({ scheme: 'pytorch-default', rng: new Rng(0) });

function countParams(build: () => BasicConv2d[]): number {
  const mods = build();
  const n = mods.reduce((s, m) => s + m.numParameters(), 0);
  mods.forEach((m) => m.dispose());
  return n;
}

/** Parameters of branch3 (1x1 reduce, then k x k) built by the library. */
function libraryBranch3Params(spec: InceptionSpec, kernel: number, batchNorm: boolean): number {
  const [inC, , , , red, out] = spec;
  const i = init();
  return countParams(() => [
    new BasicConv2d({ inChannels: inC, outChannels: red, kernelSize: 1, batchNorm }, i),
    new BasicConv2d({ inChannels: red, outChannels: out, kernelSize: kernel, padding: (kernel - 1) / 2, batchNorm }, i),
  ]);
}

// ---------------------------------------------------------------------------------------------------
// Exercise 1: branch3, 5x5 (paper, notes) vs 3x3 (torchvision)

export interface Branch3Answers {
  branch3Params: (spec: InceptionSpec, kernel: 3 | 5, batchNorm: boolean) => number;
  /** Parameters saved over all nine modules of the course model (no BN) by 3x3 instead of 5x5. */
  savedBy3x3: number;
}

export function branch3Verdicts(a: Branch3Answers): Verdict[] {
  const verdicts: Verdict[] = [];
  const names = Object.keys(INCEPTION_SPECS) as (keyof typeof INCEPTION_SPECS)[];
  let fnVerdict: Verdict | null = null;
  outer: for (const bn of [false, true]) {
    for (const k of [5, 3] as const) {
      for (const n of names) {
        const r = attempt('branch3Params', () => a.branch3Params(INCEPTION_SPECS[n], k, bn));
        if (isVerdict(r)) {
          fnVerdict = r;
          break outer;
        }
        const want = libraryBranch3Params(INCEPTION_SPECS[n], k, bn);
        if (r.value !== want) {
          fnVerdict = failed(`branch3Params(INCEPTION_SPECS['${n}'], ${k}, ${bn}) = ${r.value}, expected ${want} (count weights k*k*in*out, plus ${bn ? 'BatchNorm weight and bias, no conv bias' : 'a bias per output channel'})`);
          break outer;
        }
      }
    }
  }
  verdicts.push(fnVerdict ?? passed('branch3Params matches the library for all nine modules, 5x5 and 3x3, with and without BatchNorm'));
  const saved = names.reduce((s, n) => s + libraryBranch3Params(INCEPTION_SPECS[n], 5, false) - libraryBranch3Params(INCEPTION_SPECS[n], 3, false), 0);
  verdicts.push(verdictNumber('parameters saved by 3x3 over the nine modules', a.savedBy3x3, saved));
  return verdicts;
}

/** Check the answers and show the verdicts (never throws). */
export function checkBranch3(a: Branch3Answers): void {
  report('Exercise 1: branch3 kernel, 5x5 vs 3x3', branch3Verdicts(a));
}

// ---------------------------------------------------------------------------------------------------
// Exercise 2: BatchNorm

export type BatchNormFn = (x: tf.Tensor4D, mean: tf.Tensor1D, variance: tf.Tensor1D, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps: number) => tf.Tensor4D;

export interface BatchNormAnswers {
  batchNormEval: BatchNormFn;
  /** Trainable parameters of torchvision's conv1 (3 -> 64, 7x7, no bias, BatchNorm). */
  conv1ParamsWithBn: number;
}

export function batchNormVerdicts(a: BatchNormAnswers): Verdict[] {
  const verdicts: Verdict[] = [];
  const c = 8;
  const bn = new BatchNorm2d(c, 1e-3);
  const x = tf.randomNormal([2, 5, 5, c], 3, 2, 'float32', 1) as tf.Tensor4D;
  const stats = {
    mean: tf.randomNormal([c], 3, 1, 'float32', 2) as tf.Tensor1D,
    variance: tf.randomUniform([c], 0.5, 4, 'float32', 3) as tf.Tensor1D,
    gamma: tf.randomUniform([c], 0.5, 1.5, 'float32', 4) as tf.Tensor1D,
    beta: tf.randomNormal([c], 0, 1, 'float32', 5) as tf.Tensor1D,
  };
  bn.runningMean.assign(stats.mean);
  bn.runningVar.assign(stats.variance);
  bn.weight.assign(stats.gamma);
  bn.bias.assign(stats.beta);
  const want = bn.apply(x, { training: false });
  const r = attempt('batchNormEval', () => a.batchNormEval(x, stats.mean, stats.variance, stats.gamma, stats.beta, 1e-3));
  if (isVerdict(r)) verdicts.push(r);
  else if (!(r.value instanceof tf.Tensor)) verdicts.push(failed(`batchNormEval should return a tensor, got ${typeof r.value}`));
  else if (r.value.shape.join() !== want.shape.join()) verdicts.push(failed(`batchNormEval returned shape [${r.value.shape}], expected [${want.shape}]`));
  else {
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(r.value, want))).dataSync()[0]);
    verdicts.push(
      diff < 1e-4
        ? passed(`batchNormEval matches BatchNorm2d in evaluation mode (max |diff| ${diff.toExponential(1)})`)
        : failed(`batchNormEval differs from BatchNorm2d by up to ${diff.toFixed(4)}: (x - mean) / sqrt(var + eps) * gamma + beta, per channel (the last axis in NHWC)`),
    );
    r.value.dispose();
  }
  tf.dispose([x, want, stats.mean, stats.variance, stats.gamma, stats.beta]);
  bn.dispose();
  const conv1 = countParams(() => [new BasicConv2d({ inChannels: 3, outChannels: 64, kernelSize: 7, stride: 2, padding: 3, batchNorm: true }, init())]);
  verdicts.push(verdictNumber("trainable parameters of torchvision's conv1 (conv without bias + BatchNorm)", a.conv1ParamsWithBn, conv1));
  return verdicts;
}

/** Check the answers and show the verdicts (never throws). */
export function checkBatchNorm(a: BatchNormAnswers): void {
  report('Exercise 2: BatchNorm', batchNormVerdicts(a));
}

// ---------------------------------------------------------------------------------------------------
// Exercise 3: without the aux heads

export interface NoAuxAnswers {
  /** Parameters of aux1 + aux2 in the course model with 5 classes. */
  auxParams: number;
  /** The keys of `forward(x, {training: true})`'s result when the model has no aux heads. */
  trainingOutputKeys: string[];
}

export function noAuxVerdicts(a: NoAuxAnswers): Verdict[] {
  const verdicts: Verdict[] = [];
  const withAux = createGoogLeNet({ variant: 'course', numClasses: 5, auxLogits: true });
  const noAux = createGoogLeNet({ variant: 'course', numClasses: 5, auxLogits: false });
  verdicts.push(verdictNumber('parameters of the two aux heads', a.auxParams, withAux.numParameters() - noAux.numParameters()));
  if (isTodo(a.trainingOutputKeys)) verdicts.push(notDone('the keys of the training-mode output'));
  else {
    const x = tf.zeros([1, 64, 64, 3]) as tf.Tensor4D;
    const out = noAux.forward(x, { training: true });
    const keys = Object.keys(out).sort();
    tf.dispose([x, ...Object.values(out)]);
    const given = Array.isArray(a.trainingOutputKeys) ? [...a.trainingOutputKeys].sort() : a.trainingOutputKeys;
    verdicts.push(
      JSON.stringify(given) === JSON.stringify(keys)
        ? passed(`training mode without aux heads returns {${keys.join(', ')}}`)
        : failed(`training-mode output keys: you have ${JSON.stringify(a.trainingOutputKeys)}, the model returns ${JSON.stringify(keys)}`),
    );
  }
  withAux.dispose();
  noAux.dispose();
  return verdicts;
}

/** Check the answers and show the verdicts (never throws). */
export function checkNoAux(a: NoAuxAnswers): void {
  report('Exercise 3: GoogLeNet without the aux heads', noAuxVerdicts(a));
}

// ---------------------------------------------------------------------------------------------------
// Exercise 4: minimum input size

export interface MinSizeAnswers {
  /** Side of inception4a's output map for a square input of `size` px (course model). */
  mapSizeAt4a: (size: number) => number;
  /** Smallest square input the course model accepts. */
  minCourseSize: number;
  /** Smallest input at which the notes' AvgPool2d(5, stride 3) gives the 4x4 that fc1 expects. */
  minNotesAuxSize: number;
}

export function minSizeVerdicts(a: MinSizeAnswers): Verdict[] {
  const verdicts: Verdict[] = [];
  const model = createGoogLeNet({ variant: 'course', numClasses: 5, auxLogits: true });
  const summaryAt = (s: number) => {
    try {
      return summarize(model, s);
    } catch {
      return null;
    }
  };
  let minCourse = 1;
  while (!summaryAt(minCourse)) minCourse++;
  let minNotes = minCourse;
  while (summaryAt(minNotes)!.auxPooling !== 'avg5s3') minNotes++;
  let fn: Verdict | null = null;
  for (const s of [minCourse, 64, 96, 112, 160, 224, 299, 320, 512]) {
    const want = summaryAt(s)!.layers.find((l) => l.name === 'inception4a')!.outputShape[0];
    const r = attempt('mapSizeAt4a', () => a.mapSizeAt4a(s));
    if (isVerdict(r)) {
      fn = r;
      break;
    }
    if (r.value !== want) {
      fn = failed(`mapSizeAt4a(${s}) = ${r.value}, expected ${want} (conv1: floor((s + 6 - 7) / 2) + 1, then three 3x3/2 max-pools with ceil_mode)`);
      break;
    }
  }
  verdicts.push(fn ?? passed(`mapSizeAt4a matches the model from ${minCourse} to 512 px`));
  verdicts.push(verdictNumber('smallest input the course model accepts (px)', a.minCourseSize, minCourse));
  verdicts.push(verdictNumber("smallest input where the notes' AvgPool(5, 3) gives 4x4 (px)", a.minNotesAuxSize, minNotes));
  model.dispose();
  return verdicts;
}

/** Check the answers and show the verdicts (never throws). */
export function checkMinSize(a: MinSizeAnswers): void {
  report('Exercise 4: minimum input size', minSizeVerdicts(a));
}

// ---------------------------------------------------------------------------------------------------
// Exercise 5: VGG vs GoogLeNet

/** VGG configurations (Simonyan & Zisserman, Table 1): conv widths, 'M' = 2x2 max-pool. */
export const VGG_CONFIGS: Record<'vgg11' | 'vgg13' | 'vgg16' | 'vgg19', (number | 'M')[]> = {
  vgg11: [64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'],
  vgg13: [64, 64, 'M', 128, 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'],
  vgg16: [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M'],
  vgg19: [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 256, 'M', 512, 512, 512, 512, 'M', 512, 512, 512, 512, 'M'],
};

/** Parameters of a VGG: 3x3 convs with bias, then fc 512*7*7 -> 4096 -> 4096 -> classes. */
function vggParamsReference(cfg: (number | 'M')[], numClasses: number): number {
  let c = 3;
  let n = 0;
  for (const v of cfg) {
    if (v === 'M') continue;
    n += 3 * 3 * c * v + v;
    c = v;
  }
  return n + (512 * 7 * 7 * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * numClasses + numClasses);
}

export interface VggAnswers {
  vggParams: (cfg: (number | 'M')[], numClasses: number) => number;
  /** torchvision GoogLeNet (1000 classes, no aux) with VGG's three FC layers on the flat 7x7x1024 map instead of GAP + fc. */
  googlenetWithVggHead: number;
}

export function vggVerdicts(a: VggAnswers): Verdict[] {
  const verdicts: Verdict[] = [];
  let fn: Verdict | null = null;
  for (const [name, cfg] of Object.entries(VGG_CONFIGS)) {
    const want = vggParamsReference(cfg, 1000);
    const r = attempt('vggParams', () => a.vggParams(cfg, 1000));
    if (isVerdict(r)) {
      fn = r;
      break;
    }
    if (r.value !== want) {
      fn = failed(`vggParams(${name}) = ${r.value}, expected ${want.toLocaleString('en-US')}`);
      break;
    }
  }
  verdicts.push(fn ?? passed('vggParams gives VGG-11, 13, 16 and 19 (VGG-16: 138,357,544)'));
  const g = createGoogLeNet({ variant: 'torchvision', numClasses: 1000, auxLogits: false });
  const fc = g.fc.numParameters();
  const vggHead = 7 * 7 * 1024 * 4096 + 4096 + (4096 * 4096 + 4096) + (4096 * 1000 + 1000);
  verdicts.push(verdictNumber('GoogLeNet with a VGG-style head', a.googlenetWithVggHead, g.numParameters() - fc + vggHead));
  g.dispose();
  return verdicts;
}

/** Check the answers and show the verdicts (never throws). */
export function checkVgg(a: VggAnswers): void {
  report('Exercise 5: VGG vs GoogLeNet', vggVerdicts(a));
}
