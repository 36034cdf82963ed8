/**
 * Loads a PyTorch state dict (from `readStateDict`) into our GoogLeNet. Our parameter names are
 * PyTorch's; only layouts differ: conv weights OIHW -> HWIO ([kh, kw, in, out]), Linear weights
 * [out, in] -> [in, out], 1-D tensors as they are. BatchNorm's `num_batches_tracked` is ignored, and a
 * `module.` prefix on every key (a model saved inside DataParallel) is stripped.
 *
 * strict (default): a missing key, an unexpected key or a shape mismatch is a PthError naming the keys
 * and shapes (in PyTorch's layout), with hints when the file is for the other variant, other classes
 * or other aux heads. Not strict: missing and unexpected keys are reported in the result, but a shape
 * mismatch is still an error (as in PyTorch). Nothing is assigned unless every check passes.
 */
import * as tf from '../tf';
import type { GoogLeNet } from '../model/googlenet';
import { PthError, TorchTensor } from './pth';

export interface LoadStateDictOptions {
  /** Missing or unexpected keys are errors (default true). */
  strict?: boolean;
  /** Names (after prefix stripping) to leave alone, on both sides: e.g. `(n) => n.startsWith('fc.')` to fine-tune. */
  skip?: (name: string) => boolean;
}

export interface LoadStateDictResult {
  /** Model tensors that were assigned. */
  loaded: string[];
  /** Model tensors the checkpoint lacks (kept as they were; only when not strict). */
  missing: string[];
  /** Checkpoint tensors the model has no place for (only when not strict). */
  unexpected: string[];
  /** Names the `skip` option excluded. */
  skipped: string[];
}

/** Our variable's shape in PyTorch's layout. */
function torchShape(shape: number[]): number[] {
  if (shape.length === 4) return [shape[3], shape[2], shape[0], shape[1]]; // HWIO -> OIHW
  if (shape.length === 2) return [shape[1], shape[0]]; // [in, out] -> [out, in]
  return shape;
}

/** PyTorch's values in our layout. */
function toOurLayout(t: TorchTensor): Float32Array {
  const src = t.data;
  if (t.shape.length === 4) {
    const [O, I, H, W] = t.shape;
    const dst = new Float32Array(src.length);
    for (let o = 0; o < O; o++)
      for (let i = 0; i < I; i++)
        for (let h = 0; h < H; h++)
          for (let w = 0; w < W; w++) dst[((h * W + w) * I + i) * O + o] = src[((o * I + i) * H + h) * W + w];
    return dst;
  }
  if (t.shape.length === 2) {
    const [O, I] = t.shape;
    const dst = new Float32Array(src.length);
    for (let o = 0; o < O; o++) for (let i = 0; i < I; i++) dst[i * O + o] = src[o * I + i];
    return dst;
  }
  return src;
}

const fmt = (s: number[]) => `[${s.join(', ')}]`;
const isClassifier = (name: string) => /^(fc|aux[12]\.fc2)\.(weight|bias)$/.test(name);

function list(label: string, names: string[]): string {
  const shown = names.slice(0, 8).join(', ');
  return `  ${label} (${names.length}): ${shown}${names.length > 8 ? `, ... (${names.length - 8} more)` : ''}`;
}

/** What the checkpoint looks like compared to the model: which flag would make them fit. */
function hints(model: GoogLeNet, sd: Map<string, TorchTensor>): string[] {
  const keys = [...sd.keys()];
  const out: string[] = [];
  const ckptBn = keys.some((k) => k.endsWith('.bn.running_var'));
  const ckptConvBias = keys.some((k) => k.endsWith('.conv.bias'));
  if (ckptBn && !model.variant.batchNorm) {
    out.push("the checkpoint has BatchNorm layers (torchvision's googlenet): build the model with --variant torchvision");
  } else if (!ckptBn && ckptConvBias && model.variant.batchNorm) {
    out.push("the checkpoint has conv biases and no BatchNorm (the course notes' model): build the model with --variant course");
  }
  const b3 = sd.get('inception3a.branch3.1.conv.weight');
  const k = model.variant.branch3Kernel;
  if (b3 && b3.shape.length === 4 && b3.shape[2] !== k) {
    const ck = b3.shape[2];
    out.push(
      `branch3's second conv is ${ck}x${ck} in the checkpoint and ${k}x${k} in the model (course: 5x5 as in the paper; ` +
        `torchvision: 3x3, its issue 906): ${ck === 5 ? '--variant course' : ck === 3 ? '--variant torchvision' : 'another model'}`,
    );
  }
  const ckptAux = keys.some((n) => n.startsWith('aux1.') || n.startsWith('aux2.'));
  if (model.aux1 && !ckptAux) out.push('the checkpoint has no aux heads: build the model with --no-aux, or load with strict: false');
  if (!model.aux1 && ckptAux) {
    out.push("the checkpoint has aux heads (aux1, aux2) and the model none: build it with them, or skip them (skip: (n) => n.startsWith('aux'))");
  }
  return out;
}

/**
 * Assign the checkpoint's tensors to the model's variables (all or nothing). Throws PthError on a
 * shape mismatch, and in strict mode on missing or unexpected keys.
 */
export function loadTorchStateDict(model: GoogLeNet, stateDict: Map<string, TorchTensor>, opts: LoadStateDictOptions = {}): LoadStateDictResult {
  const strict = opts.strict ?? true;
  const skip = opts.skip ?? (() => false);
  const dataParallel = stateDict.size > 0 && [...stateDict.keys()].every((k) => k.startsWith('module.'));
  const sd = new Map<string, TorchTensor>();
  for (const [k, t] of stateDict) {
    const name = dataParallel ? k.slice('module.'.length) : k;
    if (!name.endsWith('num_batches_tracked')) sd.set(name, t);
  }
  const params = model.stateDict();
  const result: LoadStateDictResult = { loaded: [], missing: [], unexpected: [], skipped: [] };
  const mismatches: string[] = [];
  const plan: [string, tf.Variable, TorchTensor][] = [];
  for (const [name, v] of params) {
    if (skip(name)) {
      result.skipped.push(name);
      continue;
    }
    const t = sd.get(name);
    if (!t) {
      result.missing.push(name);
      continue;
    }
    const expect = torchShape(v.shape);
    if (fmt(expect) !== fmt(t.shape)) {
      const hint = isClassifier(name) && t.shape.length === expect.length ? ` (--num-classes ${t.shape[0]}?)` : '';
      mismatches.push(`${name}: checkpoint has ${fmt(t.shape)}, model expects ${fmt(expect)}${hint}`);
      continue;
    }
    plan.push([name, v, t]);
  }
  for (const name of sd.keys()) {
    if (params.has(name)) continue;
    if (skip(name)) result.skipped.push(name);
    else result.unexpected.push(name);
  }
  const problems = mismatches.slice(0, 12).map((m) => `  ${m}`);
  if (mismatches.length > 12) problems.push(`  ... and ${mismatches.length - 12} more shape mismatches`);
  if (strict && result.missing.length) problems.push(list('missing from the checkpoint', result.missing));
  if (strict && result.unexpected.length) problems.push(list('unexpected in the checkpoint', result.unexpected));
  if (problems.length) {
    const lines = [`cannot load the state dict into the ${model.config.variant} GoogLeNet (${model.config.numClasses} classes):`, ...problems];
    for (const h of hints(model, sd)) lines.push(`hint: ${h}`);
    throw new PthError(lines.join('\n'));
  }
  for (const [name, v, t] of plan) {
    tf.tidy(() => v.assign(tf.tensor(toOurLayout(t), v.shape, 'float32')));
    result.loaded.push(name);
  }
  return result;
}
