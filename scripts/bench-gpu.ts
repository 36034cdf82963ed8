/**
 * GoogLeNet on this machine's GPU, every figure of a GPU run in one go; scripts/bench-gpu.sh runs it
 * (usage there). One JSON line per figure on stdout, each with a "figure" key naming it:
 *
 *   adapter       the WebGPU adapter and driver (name, vendor, architecture, driver description, Dawn's
 *                 backend, software or not, timestamp queries, buffer limits)
 *   stepProfile   time per kernel of one training step on webgpu with the project's kernels: the top
 *                 kernels, their calls, milliseconds and share (GPU timestamp queries where the adapter
 *                 has them)
 *   train         training and evaluation img/s, per backend, batch size and kernel set: webgpu with the
 *                 project's kernels ("kernels":"project") and with tfjs's ("stock"); tensorflow-gpu
 *                 (tfjs-node-gpu, where it loads); PyTorch on CUDA ("backend":"torch-cuda", fp32, and
 *                 "precision":"amp" as a reference)
 *   memory        peak live bytes and buffer-pool bytes of a webgpu training step at batch 1 and 2, the
 *                 bytes per image and fixed bytes that follow, and from them batch 64 at 224 px against 16 GB
 *   loader        the data loader's img/s (the training transform over data_set/flower_data) on all cores
 *   kernels       (--kernels) each project kernel beside tfjs's on GoogLeNet's layer shapes (bench-gpu-kernels.ts)
 *
 * A figure that cannot be measured is a line with "error" (not installed, no GPU, out of memory, timed
 * out). The orchestrator runs one worker process per measurement, each under --run-timeout, all within
 * --budget seconds, and exits 0 unless the options are wrong.
 *
 * The training measurement is what the trainer does: course variant, aux heads on, loss = CE(main) +
 * 0.3 (CE(aux1) + CE(aux2)), Adam 3e-4 (the project's FusedAdam), random input, `--warmup` untimed steps
 * (shader compilation, cuDNN autotuning), then `--steps` timed steps reading the loss back after each;
 * then `--steps` evaluation passes reading the logits back.
 */
import { execFile, spawnSync } from 'child_process';
import * as os from 'os';
import * as path from 'path';
import * as tf from '../src/tf';
import { BackendName } from '../src/backend/names';
import { diagnoseNativeError } from '../src/backend/native';
import { initBackend, probeBackend, releaseBackends } from '../src/backend/select';
import { probeWebGpuIsolated, webGpuDeviceInfo } from '../src/backend/webgpu';
import { benchLoader } from '../src/data/bench_loader';
import { benchModel, profileTrainingStep, stepMemory } from '../src/train/bench';

const ROOT = path.resolve(__dirname, '..');
const BENCH_BACKENDS = ['webgpu', 'tensorflow-gpu', 'torch-cuda'] as const;
type BenchBackend = (typeof BENCH_BACKENDS)[number];
const CLASSES = 5;
const GB16 = 16 * 2 ** 30;

interface Args {
  backends: BenchBackend[];
  /** Backends named explicitly (not `all`), or --small: webgpu may then run on a software adapter. */
  softwareOk: boolean;
  imageSize: number;
  batchSizes: number[];
  steps: number;
  warmup: number;
  budget: number;
  runTimeout: number;
  python: string[];
  /** Also time each project kernel against tfjs's. */
  kernels: boolean;
  /** Lavapipe-sized run: 32 px, batch 1, one warm-up and one timed step, PyTorch on cpu, longer limits. */
  small: boolean;
  verbose: boolean;
  /** Worker: which measurement this process makes. */
  worker: '' | 'adapter' | 'profile' | 'train' | 'memory' | 'loader';
  stock: boolean;
}

const USAGE = `usage: scripts/bench-gpu.sh [--small] [--backend all|webgpu,tensorflow-gpu,torch-cuda] [--image-size 224]
       [--batch-size 32,64] [--steps 10] [--warmup 3] [--kernels] [--budget 450] [--run-timeout 120] [--python PY] [--verbose]`;

function parseArgs(argv: string[]): Args {
  const a: Args = {
    backends: [...BENCH_BACKENDS],
    softwareOk: false,
    imageSize: 224,
    batchSizes: [32, 64],
    steps: 10,
    warmup: 3,
    budget: 450,
    runTimeout: 120,
    python: ['python3', '/usr/bin/python3'],
    kernels: false,
    small: false,
    verbose: false,
    worker: '',
    stock: false,
  };
  const set = new Set<string>();
  const ints = (k: string, s: string | undefined, min: number): number[] => {
    const xs = (s ?? '').split(',').map(Number);
    if (!s || xs.some((x) => !Number.isInteger(x) || x < min)) throw new Error(`${k} needs integers >= ${min}, got '${s ?? ''}'`);
    set.add(k);
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
        a.softwareOk = true;
        break;
      }
      case '--image-size': a.imageSize = ints(k, v(), 32)[0]; break;
      case '--batch-size': a.batchSizes = ints(k, v(), 1); break;
      case '--steps': a.steps = ints(k, v(), 1)[0]; break;
      case '--warmup': a.warmup = ints(k, v(), 0)[0]; break;
      case '--budget': a.budget = ints(k, v(), 10)[0]; break;
      case '--run-timeout': a.runTimeout = ints(k, v(), 10)[0]; break;
      case '--python': a.python = [v() ?? 'python3']; break;
      case '--kernels': a.kernels = true; break;
      case '--small': a.small = true; break;
      case '--verbose': a.verbose = true; break;
      case '--worker': a.worker = (v() ?? '') as Args['worker']; break;
      case '--software-ok': a.softwareOk = true; break;
      case '--stock': a.stock = true; break;
      case '-h':
      case '--help':
        process.stdout.write(`${USAGE}\n`);
        process.exit(0);
        break;
      default:
        throw new Error(`unknown option ${k}\n${USAGE}`);
    }
  }
  if (a.small) {
    // A CPU-emulated adapter shared with other work: a step of the smallest model takes tens of seconds.
    a.softwareOk = true;
    if (!set.has('--image-size')) a.imageSize = 32;
    if (!set.has('--batch-size')) a.batchSizes = [1];
    if (!set.has('--steps')) a.steps = 1;
    if (!set.has('--warmup')) a.warmup = 1;
    if (!set.has('--budget')) a.budget = 1800;
    if (!set.has('--run-timeout')) a.runTimeout = 420;
  }
  return a;
}

type Line = Record<string, unknown>;
const KEY_ORDER = ['figure', 'backend', 'kernels', 'precision', 'device', 'imageSize', 'batchSize', 'trainImagesPerSec', 'evalImagesPerSec', 'steps'];

function emit(line: Line): void {
  const out: Line = {};
  for (const k of KEY_ORDER) if (k in line) out[k] = line[k];
  for (const [k, v] of Object.entries(line)) if (!(k in out)) out[k] = v;
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

// ---------------------------------------------------------------------------------------------------
// Workers: one measurement in this process.

/** conv1's output, the largest tensor of a GoogLeNet step: N x ceil(S/2) x ceil(S/2) x 64 floats. */
function largestBufferBytes(batch: number, size: number): number {
  return batch * Math.ceil(size / 2) ** 2 * 64 * 4;
}

async function start(a: Args, backend: 'webgpu' | 'tensorflow-gpu', base: Line): Promise<{ device?: string; kernels: string; software?: boolean } | null> {
  if (backend === 'webgpu' && !a.softwareOk) {
    const r = await probeBackend('webgpu');
    if (r.available && r.software) {
      emit({ ...base, device: r.device, unavailable: true, error: `only a software Vulkan adapter here (${r.device}): no GPU to measure (--small or --backend webgpu measure it anyway)` });
      return null;
    }
  }
  try {
    const choice = await initBackend(backend as BackendName, { stockKernels: a.stock });
    return { device: choice.report.device, kernels: choice.kernels, software: choice.report.software };
  } catch (e) {
    emit({ ...base, unavailable: true, error: (e as Error).message });
    return null;
  }
}

async function adapterWorker(): Promise<void> {
  const { report, adapter } = await probeWebGpuIsolated();
  if (!adapter) return emit({ figure: 'adapter', backend: 'webgpu', error: report.reason });
  await initBackend('webgpu');
  const info = webGpuDeviceInfo();
  emit({ figure: 'adapter', backend: 'webgpu', device: adapter.name, vendor: adapter.vendor, architecture: adapter.architecture, driver: adapter.description, dawnBackend: adapter.backend, software: adapter.software, timestampQuery: info?.timestampQuery ?? false, limits: info?.limits, cpus: os.availableParallelism() });
  releaseBackends();
}

async function profileWorker(a: Args): Promise<void> {
  const batch = a.batchSizes[0];
  const base: Line = { figure: 'stepProfile', backend: 'webgpu', imageSize: a.imageSize, batchSize: batch };
  const s = await start(a, 'webgpu', base);
  if (!s) return;
  const p = await profileTrainingStep({ variant: 'course', imageSize: a.imageSize, batchSize: batch, warmup: Math.max(1, a.warmup), limit: 12 });
  const round = (e: { name: string; calls: number; ms: number; share: number }) => ({ name: e.name, calls: e.calls, ms: Number(e.ms.toFixed(2)), share: Number(e.share.toFixed(4)) });
  emit({ ...base, kernels: s.kernels, device: s.device, timing: p.timing, stepMs: p.stepMs, kernelMs: p.kernelMs, kernelCalls: p.kernelCalls, byKernel: p.byKernel.slice(0, 15).map(round), top: p.top.map(round) });
  releaseBackends();
}

async function trainWorker(a: Args): Promise<void> {
  const backend = a.backends[0] as 'tensorflow-gpu' | 'webgpu';
  const batch = a.batchSizes[0];
  const base: Line = { figure: 'train', backend, kernels: backend === 'webgpu' ? (a.stock ? 'stock' : 'project') : 'stock', imageSize: a.imageSize, batchSize: batch };
  const s = await start(a, backend, base);
  if (!s) return;
  if (backend === 'webgpu') {
    const limit = webGpuDeviceInfo()?.limits.maxStorageBufferBindingSize ?? Infinity;
    const need = largestBufferBytes(batch, a.imageSize);
    if (need > limit) {
      releaseBackends();
      return emit({ ...base, device: s.device, error: `batch ${batch} at ${a.imageSize} px needs a ${(need / 2 ** 20).toFixed(0)} MiB buffer; this adapter binds at most ${(limit / 2 ** 20).toFixed(0)} MiB` });
    }
  }
  // benchModel runs one untimed warm-up step itself; the rest of --warmup first.
  const warm = Math.max(0, a.warmup - 1);
  if (warm > 0) await benchModel({ variant: 'course', imageSize: a.imageSize, batchSize: batch, steps: warm, numClasses: CLASSES });
  const r = await benchModel({ variant: 'course', imageSize: a.imageSize, batchSize: batch, steps: a.steps, numClasses: CLASSES, seed: 1 });
  const m = tf.memory() as tf.MemoryInfo & { numBytesAllocatedInGPU?: number };
  emit({
    ...base,
    kernels: s.kernels,
    device: s.device,
    trainImagesPerSec: r.trainImagesPerSec,
    evalImagesPerSec: r.evalImagesPerSec,
    steps: a.steps,
    warmupSteps: a.warmup,
    stepSeconds: r.trainStepSeconds,
    tensorsPerStep: r.tensorsPerStep,
    ...(m.numBytesAllocatedInGPU !== undefined ? { gpuPoolBytes: m.numBytesAllocatedInGPU } : {}),
    ...(s.software ? { software: true } : {}),
    variant: 'course',
    aux: true,
    optimizer: 'adam 3e-4',
  });
  releaseBackends();
}

async function memoryWorker(a: Args): Promise<void> {
  const base: Line = { figure: 'memory', backend: 'webgpu', imageSize: a.imageSize };
  const s = await start(a, 'webgpu', base);
  if (!s) return;
  const at = [1, 2];
  const m = [];
  for (const b of at) m.push(await stepMemory({ variant: 'course', imageSize: a.imageSize, batchSize: b, numClasses: CLASSES, warmup: 1 }));
  // Activations grow with batch x pixels; parameters, Adam's moments and their gradients are fixed.
  const perImage = m[1].poolBytes - m[0].poolBytes;
  const fixed = m[0].poolBytes - perImage;
  const scale = (224 / a.imageSize) ** 2; // pixels per image at 224 px over the measured size
  const batch64 = fixed + 64 * perImage * scale;
  emit({
    ...base,
    device: s.device,
    kernels: s.kernels,
    batchSizes: at,
    peakLiveBytes: m.map((x) => x.peakBytes),
    poolBytes: m.map((x) => x.poolBytes),
    perImageBytes: perImage,
    fixedBytes: fixed,
    batch64At224Bytes: Math.round(batch64),
    batch64At224GiB: Number((batch64 / 2 ** 30).toFixed(2)),
    fits16GB: batch64 < GB16,
    arithmetic: `fixed + 64 x (pool at batch 2 - pool at batch 1)${scale !== 1 ? ` x (224/${a.imageSize})^2` : ''}`,
  });
  releaseBackends();
}

async function loaderWorker(a: Args): Promise<void> {
  const base: Line = { figure: 'loader', imageSize: a.imageSize, batchSize: a.batchSizes[0], cpus: os.availableParallelism() };
  await initBackend('cpu'); // the batches are tensors; the loader's work is decoding and resizing
  const data = path.join(ROOT, 'data_set', 'flower_data', 'train');
  try {
    const r = await benchLoader({ data, imageSize: a.imageSize, batchSize: a.batchSizes[0], limit: a.small ? 64 : 512 });
    emit({ ...base, loaderImagesPerSec: r.imagesPerSec, images: r.images, seconds: r.seconds, cpuMsPerImage: r.cpuMsPerImage, data: path.relative(ROOT, data) });
  } catch (e) {
    emit({ ...base, error: (e as Error).message.split('\n')[0] });
  }
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
function whyFailed(backend: string, r: RunResult, timeoutS: number): string {
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
    const r = spawnSync(py, ['-c', 'import torch; print(torch.__version__, torch.cuda.is_available())'], { encoding: 'utf8', timeout: 180_000 });
    if (r.status !== 0) continue;
    const [version, cuda] = r.stdout.trim().split(/\s+/);
    return { python: py, cuda: cuda === 'True', version };
  }
  return { error: `no Python with PyTorch (tried ${pythons.join(', ')})` };
}

async function orchestrate(a: Args): Promise<void> {
  const deadline = Date.now() + a.budget * 1000;
  const common = (batch: number) => ['--image-size', String(a.imageSize), '--batch-size', String(batch), '--steps', String(a.steps), '--warmup', String(a.warmup), ...(a.softwareOk ? ['--software-ok'] : []), ...(a.small ? ['--small'] : [])];
  /** Run one measurement unless the budget is spent; returns its line (also when it is an error). */
  const measure = async (base: Line, cmd: string, args: string[]): Promise<Line> => {
    const left = (deadline - Date.now()) / 1000 - 5;
    if (left < 15) {
      const line = { ...base, error: `skipped: the time budget (--budget ${a.budget} s) is spent` };
      emit(line);
      return line;
    }
    const timeoutS = Math.floor(Math.min(a.runTimeout, left));
    const r = await run(cmd, args, timeoutS);
    if (a.verbose && r.stderr) process.stderr.write(r.stderr);
    // A worker's own line (the PyTorch script's has no "figure") keeps what the orchestrator knows.
    const last = r.lines.pop();
    const line = last ? { ...base, ...last } : { ...base, error: whyFailed(String(base.backend ?? ''), r, timeoutS) };
    emit(line);
    return line;
  };
  const node = (worker: string, extra: string[], batch: number) => [ '--import', 'tsx', __filename, '--worker', worker, ...extra, ...common(batch)];
  const gpu = a.backends.includes('webgpu');
  let webgpuDown: Line | null = null;
  if (gpu) {
    const line = await measure({ figure: 'adapter', backend: 'webgpu' }, process.execPath, node('adapter', [], a.batchSizes[0]));
    if (line.error) webgpuDown = { error: line.error };
    else if (line.software && !a.softwareOk) webgpuDown = { error: `only a software Vulkan adapter here (${String(line.device)}): no GPU to measure (--small or --backend webgpu measure it anyway)` };
    const profileBase = { figure: 'stepProfile', backend: 'webgpu', imageSize: a.imageSize, batchSize: a.batchSizes[0] };
    if (webgpuDown) emit({ ...profileBase, ...webgpuDown });
    else await measure(profileBase, process.execPath, node('profile', [], a.batchSizes[0]));
  }
  for (const backend of a.backends) {
    if (backend === 'torch-cuda') continue;
    for (const batch of a.batchSizes) {
      for (const stock of backend === 'webgpu' ? [false, true] : [false]) {
        const base = { figure: 'train', backend, kernels: backend === 'webgpu' && !stock ? 'project' : 'stock', imageSize: a.imageSize, batchSize: batch };
        if (backend === 'webgpu' && webgpuDown) {
          emit({ ...base, ...webgpuDown });
          continue;
        }
        await measure(base, process.execPath, node('train', ['--backend', backend, ...(stock ? ['--stock'] : [])], batch));
      }
    }
  }
  if (gpu) {
    const base = { figure: 'memory', backend: 'webgpu', imageSize: a.imageSize };
    if (webgpuDown) emit({ ...base, ...webgpuDown });
    else await measure(base, process.execPath, node('memory', [], a.batchSizes[0]));
  }
  await measure({ figure: 'loader', imageSize: a.imageSize, batchSize: a.batchSizes[0] }, process.execPath, node('loader', [], a.batchSizes[0]));
  if (a.backends.includes('torch-cuda')) {
    const torch = findTorch(a.python);
    const device = a.small ? 'cpu' : 'cuda';
    for (const batch of a.batchSizes) {
      for (const amp of [false, true]) {
        const base = { figure: 'train', backend: `torch-${device}`, precision: amp ? 'amp' : 'fp32', imageSize: a.imageSize, batchSize: batch };
        if ('error' in torch) emit({ ...base, error: torch.error });
        else if (device === 'cuda' && !torch.cuda) emit({ ...base, error: `torch ${torch.version} (${torch.python}) sees no CUDA device: torch.cuda.is_available() is False` });
        else {
          const args = [path.join(ROOT, 'scripts', 'bench-gpu-torch.py'), '--device', device, '--image-size', String(a.imageSize), '--batch-size', String(batch), '--steps', String(a.steps), '--warmup', String(a.warmup), ...(amp ? ['--amp'] : [])];
          await measure(base, torch.python, args);
        }
      }
    }
  }
  if (a.kernels && gpu && !webgpuDown) {
    const left = Math.floor((deadline - Date.now()) / 1000 - 5);
    if (left < 30) emit({ figure: 'kernels', error: `skipped: the time budget (--budget ${a.budget} s) is spent` });
    else {
      const r = await run(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts', 'bench-gpu-kernels.ts'), '--batch-size', String(a.batchSizes[0]), '--image-size', String(a.imageSize), '--rounds', a.small ? '1' : '3'], Math.min(a.runTimeout * 2, left));
      if (r.lines.length === 0) emit({ figure: 'kernels', error: whyFailed('webgpu', r, left) });
      for (const l of r.lines) emit({ figure: 'kernels', ...l });
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
      if (a.worker === 'adapter') await adapterWorker();
      else if (a.worker === 'profile') await profileWorker(a);
      else if (a.worker === 'train') await trainWorker(a);
      else if (a.worker === 'memory') await memoryWorker(a);
      else if (a.worker === 'loader') await loaderWorker(a);
      else throw new Error(`unknown worker ${a.worker}`);
    } catch (e) {
      emit({ figure: a.worker, backend: a.backends[0], imageSize: a.imageSize, batchSize: a.batchSizes[0], error: (e as Error).message.split('\n')[0] });
    }
  } else {
    await orchestrate(a);
  }
  // Exit even if a GPU runtime keeps handles open, once stdout has been written out.
  process.stdout.write('', () => process.exit(0));
}

void main();
