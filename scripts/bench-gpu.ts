/**
 * GoogLeNet training throughput on this machine's GPUs; scripts/bench-gpu.sh runs it (usage there).
 *
 * The orchestrator runs one worker process per (backend, batch size), each under a time limit and all
 * within an overall budget, and prints one JSON line per measurement on stdout:
 *   {"backend":"webgpu","device":"NVIDIA H100 80GB HBM3","imageSize":224,"batchSize":32,"trainImagesPerSec":...,"steps":10,...}
 * or, for what cannot run, the same keys with "error" instead of the numbers. Workers' stderr (libtensorflow
 * and Dawn logs) is kept and used to say why a worker failed; --verbose forwards it.
 *
 * Backends: tensorflow-gpu (@tensorflow/tfjs-node-gpu, where it loads with a GPU), webgpu (Dawn on the
 * high-performance adapter; with the default `--backend all` only a hardware one, a software adapter only
 * when asked for by name), torch-cuda (scripts/bench-gpu-torch.py, where `import torch` works and
 * torch.cuda.is_available()).
 *
 * The measurement is what the trainer does: course variant, aux heads on, loss = CE(main) + 0.3 (CE(aux1)
 * + CE(aux2)), Adam 3e-4 through optimizer.minimize, random input, `--warmup` untimed steps (shader
 * compilation, cuDNN autotuning), then `--steps` timed steps reading the loss back after each.
 */
import { execFile, spawnSync } from 'child_process';
import * as path from 'path';
import * as tf from '../src/tf';
import { BackendName } from '../src/backend/names';
import { diagnoseNativeError } from '../src/backend/native';
import { initBackend, probeBackend, releaseBackends } from '../src/backend/select';
import { webGpuDeviceInfo } from '../src/backend/webgpu';
import { createGoogLeNet } from '../src/model/googlenet';
import { googlenetLoss } from '../src/train/loss';

const ROOT = path.resolve(__dirname, '..');
const BENCH_BACKENDS = ['tensorflow-gpu', 'webgpu', 'torch-cuda'] as const;
type BenchBackend = (typeof BENCH_BACKENDS)[number];
const CLASSES = 5;
const LEARNING_RATE = 3e-4; // the notes' Adam learning rate

interface Args {
  backends: BenchBackend[];
  /** Backends named explicitly (not `all`): webgpu may then run on a software adapter. */
  explicit: boolean;
  /** Worker: a software adapter is acceptable (the orchestrator passes --software-ok when explicit). */
  softwareOk: boolean;
  imageSize: number;
  batchSizes: number[];
  steps: number;
  warmup: number;
  /** Seconds for the whole run. */
  budget: number;
  /** Seconds for one measurement. */
  runTimeout: number;
  python: string[];
  verbose: boolean;
  worker: boolean;
}

const USAGE = `usage: scripts/bench-gpu.sh [--backend all|tensorflow-gpu,webgpu,torch-cuda] [--image-size 224]
       [--batch-size 32,64] [--steps 10] [--warmup 3] [--budget 390] [--run-timeout 150] [--python PY] [--verbose]`;

function parseArgs(argv: string[]): Args {
  const a: Args = {
    backends: [...BENCH_BACKENDS],
    explicit: false,
    softwareOk: false,
    imageSize: 224,
    batchSizes: [32, 64],
    steps: 10,
    warmup: 3,
    budget: 390,
    runTimeout: 150,
    python: ['python3', '/usr/bin/python3'],
    verbose: false,
    worker: false,
  };
  const ints = (k: string, s: string | undefined, min: number): number[] => {
    const xs = (s ?? '').split(',').map(Number);
    if (!s || xs.some((x) => !Number.isInteger(x) || x < min)) throw new Error(`${k} needs integers >= ${min}, got '${s ?? ''}'`);
    return xs;
  };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = () => argv[++i];
    switch (k) {
      case '--backend': {
        const s = v() ?? '';
        if (s === 'all') break;
        const names = s.split(',');
        const bad = names.filter((n) => !(BENCH_BACKENDS as readonly string[]).includes(n));
        if (bad.length || !s) throw new Error(`unknown backend '${bad.join(',') || s}': use all or ${BENCH_BACKENDS.join(',')}`);
        a.backends = names as BenchBackend[];
        a.explicit = true;
        break;
      }
      case '--image-size': a.imageSize = ints(k, v(), 32)[0]; break;
      case '--batch-size': a.batchSizes = ints(k, v(), 1); break;
      case '--steps': a.steps = ints(k, v(), 1)[0]; break;
      case '--warmup': a.warmup = ints(k, v(), 0)[0]; break;
      case '--budget': a.budget = ints(k, v(), 10)[0]; break;
      case '--run-timeout': a.runTimeout = ints(k, v(), 10)[0]; break;
      case '--python': a.python = [v() ?? 'python3']; break;
      case '--verbose': a.verbose = true; break;
      case '--worker': a.worker = true; break;
      case '--software-ok': a.softwareOk = true; break;
      case '-h':
      case '--help':
        process.stdout.write(`${USAGE}\n`);
        process.exit(0);
        break;
      default:
        throw new Error(`unknown option ${k}\n${USAGE}`);
    }
  }
  return a;
}

type Line = Record<string, unknown>;
const KEY_ORDER = ['backend', 'device', 'imageSize', 'batchSize', 'trainImagesPerSec', 'steps'];

function emit(line: Line): void {
  const out: Line = {};
  for (const k of KEY_ORDER) if (k in line) out[k] = line[k];
  for (const [k, v] of Object.entries(line)) if (!(k in out)) out[k] = v;
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

// ---------------------------------------------------------------------------------------------------
// Worker: one measurement in this process.

/** conv1's output, the largest tensor of a GoogLeNet step: N x ceil(S/2) x ceil(S/2) x 64 floats. */
function largestBufferBytes(batch: number, size: number): number {
  return batch * Math.ceil(size / 2) ** 2 * 64 * 4;
}

async function worker(a: Args): Promise<void> {
  const backend = a.backends[0] as 'tensorflow-gpu' | 'webgpu';
  const batch = a.batchSizes[0];
  const base: Line = { backend, imageSize: a.imageSize, batchSize: batch };
  if (backend === 'webgpu' && !a.softwareOk) {
    const r = await probeBackend('webgpu');
    if (r.available && r.software) {
      return emit({ ...base, device: r.device, unavailable: true, error: `only a software Vulkan adapter here (${r.device}): no GPU to measure (ask for it with --backend webgpu)` });
    }
  }
  let device: string | undefined;
  let software: boolean | undefined;
  try {
    const choice = await initBackend(backend as BackendName);
    device = choice.report.device;
    software = choice.report.software;
  } catch (e) {
    return emit({ ...base, unavailable: true, error: (e as Error).message });
  }
  if (backend === 'webgpu') {
    const limit = webGpuDeviceInfo()?.limits.maxStorageBufferBindingSize ?? Infinity;
    const need = largestBufferBytes(batch, a.imageSize);
    if (need > limit) {
      releaseBackends();
      return emit({ ...base, device, error: `batch ${batch} at ${a.imageSize} px needs a ${(need / 2 ** 20).toFixed(0)} MiB buffer; this adapter binds at most ${(limit / 2 ** 20).toFixed(0)} MiB` });
    }
  }
  const model = createGoogLeNet({ variant: 'course', numClasses: CLASSES, auxLogits: true, seed: 1 });
  const vars = model.namedParameters().map(([, p]) => p);
  const x = tf.randomNormal([batch, a.imageSize, a.imageSize, 3], 0, 1, 'float32', 7) as tf.Tensor4D;
  const y = tf.tensor1d(Array.from({ length: batch }, (_, i) => i % CLASSES), 'int32');
  const optimizer = tf.train.adam(LEARNING_RATE);
  let seed = 1;
  const step = async (): Promise<number> => {
    const loss = optimizer.minimize(() => googlenetLoss(model.forward(x, { training: true, nextSeed: () => seed++ }), y).total, true, vars)!;
    const value = (await loss.data())[0];
    loss.dispose();
    return value;
  };
  let firstStepSeconds: number | undefined;
  let loss = NaN;
  for (let i = 0; i < a.warmup; i++) {
    const t = performance.now();
    loss = await step();
    if (i === 0) firstStepSeconds = (performance.now() - t) / 1000;
  }
  const t0 = performance.now();
  for (let i = 0; i < a.steps; i++) loss = await step();
  const seconds = (performance.now() - t0) / 1000;
  emit({
    ...base,
    device,
    trainImagesPerSec: (batch * a.steps) / seconds,
    steps: a.steps,
    warmupSteps: a.warmup,
    seconds,
    firstStepSeconds,
    loss,
    ...(software ? { software: true } : {}),
    variant: 'course',
    aux: true,
    optimizer: `adam ${LEARNING_RATE}`,
  });
  tf.dispose([x, y]);
  optimizer.dispose();
  model.dispose();
  releaseBackends();
}

// ---------------------------------------------------------------------------------------------------
// Orchestrator.

interface RunResult {
  lines: Line[];
  stderr: string;
  timedOut: boolean;
  code: number | string | null;
}

function run(cmd: string, args: string[], timeoutS: number): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: ROOT, encoding: 'utf8', timeout: timeoutS * 1000, killSignal: 'SIGKILL', maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const lines: Line[] = [];
      for (const l of stdout.split('\n')) {
        try {
          if (l.trim().startsWith('{')) lines.push(JSON.parse(l) as Line);
        } catch {
          // not a JSON line
        }
      }
      const e = err as (Error & { killed?: boolean; code?: number | string; signal?: string }) | null;
      resolve({ lines, stderr, timedOut: Boolean(e?.killed), code: e ? (e.code ?? e.signal ?? 1) : 0 });
    });
  });
}

/** Why a worker produced no JSON line, from its stderr (libtensorflow's and Dawn's lines included). */
function whyFailed(backend: BenchBackend, r: RunResult, timeoutS: number): string {
  if (r.timedOut) return `did not finish within ${timeoutS} s (--run-timeout)`;
  if (backend === 'tensorflow-gpu' && /cannot open shared object file|cuInit|tfjs_binding/.test(r.stderr)) return diagnoseNativeError('tensorflow-gpu', r.stderr);
  const last = r.stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/artificially reduced from/.test(l) && !/^\s*at /.test(l))
    .pop();
  return `worker exited with ${r.code}${last ? `: ${last}` : ''}`;
}

/** The first Python that imports torch, and whether it sees CUDA. */
function findTorch(pythons: string[]): { python: string; cuda: boolean; version: string } | { error: string } {
  for (const py of pythons) {
    const r = spawnSync(py, ['-c', 'import torch; print(torch.__version__, torch.cuda.is_available())'], { encoding: 'utf8', timeout: 60_000 });
    if (r.status !== 0) continue;
    const [version, cuda] = r.stdout.trim().split(/\s+/);
    return { python: py, cuda: cuda === 'True', version };
  }
  return { error: `no Python with PyTorch (tried ${pythons.join(', ')})` };
}

async function orchestrate(a: Args): Promise<void> {
  const deadline = Date.now() + a.budget * 1000;
  const torch = a.backends.includes('torch-cuda') ? findTorch(a.python) : null;
  for (const backend of a.backends) {
    let unavailable: Line | null = null;
    for (const batch of a.batchSizes) {
      const base: Line = { backend, imageSize: a.imageSize, batchSize: batch };
      if (unavailable) {
        emit({ ...base, ...unavailable });
        continue;
      }
      if (backend === 'torch-cuda' && torch) {
        if ('error' in torch) {
          unavailable = { error: torch.error };
        } else if (!torch.cuda) {
          unavailable = { error: `torch ${torch.version} (${torch.python}) sees no CUDA device: torch.cuda.is_available() is False` };
        }
        if (unavailable) {
          emit({ ...base, ...unavailable });
          continue;
        }
      }
      const left = (deadline - Date.now()) / 1000 - 5;
      if (left < 20) {
        emit({ ...base, error: `skipped: the time budget (--budget ${a.budget} s) is spent` });
        continue;
      }
      const timeoutS = Math.floor(Math.min(a.runTimeout, left));
      const common = ['--image-size', String(a.imageSize), '--batch-size', String(batch), '--steps', String(a.steps), '--warmup', String(a.warmup)];
      const r =
        backend === 'torch-cuda'
          ? await run((torch as { python: string }).python, [path.join(ROOT, 'scripts', 'bench-gpu-torch.py'), ...common], timeoutS)
          : await run(process.execPath, ['--import', 'tsx', __filename, '--worker', '--backend', backend, ...(a.explicit ? ['--software-ok'] : []), ...common], timeoutS);
      if (a.verbose && r.stderr) process.stderr.write(r.stderr);
      const line = r.lines.pop();
      if (!line) {
        emit({ ...base, error: whyFailed(backend, r, timeoutS) });
        continue;
      }
      if (line.unavailable) {
        const { unavailable: _u, backend: _b, imageSize: _i, batchSize: _n, ...rest } = line;
        unavailable = rest;
        emit({ ...base, ...rest });
        continue;
      }
      emit(line);
    }
  }
}

async function main(): Promise<void> {
  let a: Args;
  try {
    a = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`bench-gpu: ${(e as Error).message}\n`);
    process.exit(2);
  }
  if (a.worker) {
    try {
      await worker(a);
    } catch (e) {
      emit({ backend: a.backends[0], imageSize: a.imageSize, batchSize: a.batchSizes[0], error: (e as Error).message.split('\n')[0] });
    }
  } else {
    await orchestrate(a);
  }
  // Exit even if a GPU runtime keeps handles open, once stdout has been written out.
  process.stdout.write('', () => process.exit(0));
}

void main();
