/**
 * Finds which compute backends work on this machine and starts the best one (or the one asked for).
 * Reports say why a backend is not usable, in words a user can act on. Nothing here prints.
 *
 * Probing is as light as each backend allows: the native packages are checked for the libraries they
 * need before they load (./native.ts); WebGPU is probed in a child process (./webgpu.ts), and automatic
 * selection does not even do that where no GPU device exists.
 */
import * as os from 'os';
import * as tf from '../tf';
import { BACKEND_NAMES, BackendName, TFJS_BACKEND } from './names';
import { probeNative } from './native';
import { registerWasmTrainingKernels, wasmKernelsDescription } from './wasm_kernels';
import { MAX_WASM_THREADS, useWasmThreads } from './wasm/threads';
import { gpuDeviceNodes, probeWebGpuIsolated, startWebGpu, stopWebGpu, WebGpuAdapterSummary } from './webgpu';
import { setWebGpuTrainingKernels } from './webgpu/register';

export { diagnoseNativeError } from './native';

export interface BackendReport {
  name: BackendName;
  available: boolean;
  /** Why it is or is not usable, with what to do. */
  reason: string;
  /** The device it runs on, where known (a GPU adapter's name, '2 CPU threads'). */
  device?: string;
  /** A software GPU (Mesa lavapipe/llvmpipe, SwiftShader): works but is slower than wasm. */
  software?: boolean;
}

export interface BackendChoice {
  name: BackendName;
  report: BackendReport;
  /** Backends tried before this one in automatic mode and why they were passed over. */
  skipped: BackendReport[];
  /** The kernels it runs (cpu and the native backends have no project kernels: always 'stock'). */
  kernels: KernelSet;
}

function cpuThreads(n: number): string {
  return `${n} CPU thread${n === 1 ? '' : 's'}`;
}

function probeWasm(): BackendReport {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require('@tensorflow/tfjs-backend-wasm');
    const n = defaultWasmThreads();
    return { name: 'wasm', available: true, reason: `XNNPACK + SIMD; ${wasmKernelsDescription()}`, device: `${cpuThreads(n)} by default` };
  } catch (e) {
    return { name: 'wasm', available: false, reason: `@tensorflow/tfjs-backend-wasm failed to load: ${(e as Error).message}` };
  }
}

function probeCpu(): BackendReport {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require('@tensorflow/tfjs-backend-cpu');
  return { name: 'cpu', available: true, reason: 'plain JavaScript (slow; a last resort)', device: 'CPU' };
}

/** The adapter the last webgpu probe found, so that starting it can reuse the name. */
let webgpuAdapter: WebGpuAdapterSummary | null = null;

async function probeWebGpu(): Promise<BackendReport> {
  const { report, adapter } = await probeWebGpuIsolated();
  webgpuAdapter = adapter;
  return report;
}

/** Probe one backend (loads its package, or for webgpu asks a child process; does not switch to it). */
export async function probeBackend(name: BackendName): Promise<BackendReport> {
  switch (name) {
    case 'tensorflow-gpu':
    case 'tensorflow':
      return probeNative(name);
    case 'webgpu':
      return probeWebGpu();
    case 'wasm':
      return probeWasm();
    case 'cpu':
      return probeCpu();
  }
}

/** Probe all five backends, best first. */
export async function probeBackends(): Promise<BackendReport[]> {
  const out: BackendReport[] = [];
  for (const name of BACKEND_NAMES) out.push(await probeBackend(name));
  return out;
}

export class BackendError extends Error {}

export interface InitBackendOptions {
  /** Take a software GPU adapter in automatic mode (never by default: wasm is faster than lavapipe). */
  allowSoftwareGpu?: boolean;
  /**
   * Threads for the wasm backend (default: the machine's CPUs, at most 16; 1 runs tfjs's
   * single-threaded build): the project's kernels split over all of them; XNNPACK's pool gets one
   * (all of them, at most 8, with stockKernels). Used only where wasm is the backend started.
   */
  wasmThreads?: number;
  /**
   * Run tfjs's shipped kernels only: do not register the project's own training kernels (wasm:
   * ./wasm_kernels.ts, webgpu: ./webgpu/). For comparing both in one run (GOOGLENET_STOCK_KERNELS=1).
   */
  stockKernels?: boolean;
}

/** Which kernels a started backend runs: the project's own training kernels, or tfjs's shipped ones. */
export type KernelSet = 'project' | 'stock';

/** The default wasm thread count: one per CPU the process may use, at most MAX_WASM_THREADS (16). */
export function defaultWasmThreads(): number {
  return Math.min(MAX_WASM_THREADS, os.availableParallelism());
}

async function activate(report: BackendReport, opts: InitBackendOptions): Promise<BackendReport> {
  if (report.name === 'wasm') {
    const threads = opts.wasmThreads ?? defaultWasmThreads();
    if (!Number.isInteger(threads) || threads < 1) throw new BackendError(`wasm threads must be a whole number >= 1, got ${threads}`);
    // With the project's kernels XNNPACK runs only a step's small leftovers (elementwise ops, the
    // dense layers in inference), and its pool's worker spins after each of them, taking a core from
    // the kernels' own helper threads (a helper that should start a call at once started up to 1-3 ms
    // late, ~13 times a step): XNNPACK keeps one thread. bench at 112 px, 2 threads, alternating
    // rounds: training 36.0-37.9 against 33.8-35.6 img/s, evaluation 146.5-149.2 against 140.7-148.1.
    const stock = opts.stockKernels === true;
    const n = useWasmThreads(threads, stock ? undefined : 1);
    registerWasmTrainingKernels({ stock });
    report = { ...report, device: cpuThreads(n) };
  }
  if (report.name === 'webgpu') {
    const { adapter } = await startWebGpu(webgpuAdapter);
    setWebGpuTrainingKernels(opts.stockKernels !== true);
    report = { ...report, device: adapter.name };
  }
  const ok = await tf.setBackend(TFJS_BACKEND[report.name]);
  if (!ok) throw new BackendError(`backend ${report.name} failed to initialise`);
  await tf.ready();
  return report;
}

function kernelSet(name: BackendName, opts: InitBackendOptions): KernelSet {
  return (name === 'wasm' || name === 'webgpu') && opts.stockKernels !== true ? 'project' : 'stock';
}

/** In automatic mode, why webgpu is not even probed on a machine without GPU device files. */
const NO_GPU_DEVICE =
  'no GPU device on this machine (/dev/dri/renderD*, /dev/nvidia*, /dev/dxg), so at best a software Vulkan ' +
  'adapter, slower than wasm: not probed (ask for it with --backend webgpu)';

/**
 * Start a backend. 'auto' takes the first usable one in BACKEND_NAMES order (a software GPU only if
 * allowed); a named backend that is not usable is an error that carries its reason.
 */
export async function initBackend(requested: BackendName | 'auto' = 'auto', opts: InitBackendOptions = {}): Promise<BackendChoice> {
  tf.enableProdMode(); // silences tfjs's console hints; the library does not print
  if (requested !== 'auto') {
    const report = await probeBackend(requested);
    if (!report.available) throw new BackendError(`backend ${requested} is not usable: ${report.reason}`);
    try {
      return { name: requested, report: await activate(report, opts), skipped: [], kernels: kernelSet(requested, opts) };
    } catch (e) {
      throw new BackendError(`backend ${requested} failed to start: ${(e as Error).message}`);
    }
  }
  const skipped: BackendReport[] = [];
  for (const name of BACKEND_NAMES) {
    if (name === 'webgpu' && !opts.allowSoftwareGpu && gpuDeviceNodes().length === 0) {
      skipped.push({ name, available: false, reason: NO_GPU_DEVICE });
      continue;
    }
    const report = await probeBackend(name);
    if (report.available && report.software && !opts.allowSoftwareGpu) {
      skipped.push({ ...report, available: false });
      continue;
    }
    if (!report.available) {
      skipped.push(report);
      continue;
    }
    try {
      return { name, report: await activate(report, opts), skipped, kernels: kernelSet(name, opts) };
    } catch (e) {
      skipped.push({ ...report, available: false, reason: `failed to start: ${(e as Error).message}` });
    }
  }
  throw new BackendError('no backend could be started');
}

/**
 * Release what a backend holds outside tfjs's tensors (the WebGPU device), so that a process that used
 * it can exit without process.exit. Safe to call at any time; tfjs falls back to another backend.
 */
export function releaseBackends(): void {
  stopWebGpu();
}
