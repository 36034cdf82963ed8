/**
 * Finds which compute backends work on this machine and starts the best one (or the one asked for).
 * Reports say why a backend is not usable, in words a user can act on. Nothing here prints.
 */
import * as tf from '../tf';
import { BACKEND_NAMES, BackendName, TFJS_BACKEND } from './names';
import { registerWasmTrainingKernels } from './wasm_kernels';
import { probeWebGpu, initWebGpuGlobals } from './webgpu';

export interface BackendReport {
  name: BackendName;
  available: boolean;
  /** Why it is or is not usable, with what to do. */
  reason: string;
  /** The device it runs on, where known (a GPU adapter's name, 'CPU (one thread)'). */
  device?: string;
  /** A software GPU (Mesa lavapipe/llvmpipe, SwiftShader): works but is slower than wasm. */
  software?: boolean;
}

export interface BackendChoice {
  name: BackendName;
  report: BackendReport;
  /** Backends tried before this one in automatic mode and why they were passed over. */
  skipped: BackendReport[];
}

const NATIVE_PACKAGE: Record<'tensorflow-gpu' | 'tensorflow', string> = {
  'tensorflow-gpu': '@tensorflow/tfjs-node-gpu',
  tensorflow: '@tensorflow/tfjs-node',
};

/** Turn a native binding's load error into what is missing and what to do. */
export function diagnoseNativeError(name: 'tensorflow-gpu' | 'tensorflow', message: string): string {
  const pkg = NATIVE_PACKAGE[name];
  const missingLib = /(lib[\w.+-]+\.so[\w.]*): cannot open shared object file/.exec(message)?.[1];
  if (missingLib) {
    if (/libcudart|libcublas|libcufft|libcurand|libcusolver|libcusparse/.test(missingLib)) {
      return `${missingLib} not found: ${pkg}'s libtensorflow 2.9.1 needs the CUDA 11.2 runtime (CUDA 12/13 do not provide it); install CUDA 11.2 + cuDNN 8.1 or use webgpu`;
    }
    if (/libcudnn/.test(missingLib)) return `${missingLib} not found: ${pkg} needs cuDNN 8.1 for CUDA 11.2`;
    if (/libcuda\.so/.test(missingLib)) return `${missingLib} not found: no NVIDIA driver on this machine`;
    if (/libtensorflow/.test(missingLib)) {
      return `${missingLib} not found: libtensorflow was not downloaded when ${pkg} installed; with internet run: npm rebuild ${pkg}`;
    }
    return `${missingLib} not found (needed by ${pkg})`;
  }
  if (/tfjs_binding\.node/.test(message) || /Cannot find module .*napi/.test(message)) {
    return `${pkg} is installed but its native binding is missing (libtensorflow download failed at install); with internet run: npm rebuild ${pkg}`;
  }
  return `${pkg} failed to load: ${message.split('\n')[0]}`;
}

function isInstalled(pkg: string): boolean {
  try {
    require.resolve(pkg);
    return true;
  } catch {
    return false;
  }
}

function probeNative(name: 'tensorflow-gpu' | 'tensorflow'): BackendReport {
  const pkg = NATIVE_PACKAGE[name];
  if (!isInstalled(pkg)) {
    const needs = name === 'tensorflow-gpu' ? ' (Linux x64, CUDA 11.2 + cuDNN 8.1)' : '';
    return { name, available: false, reason: `${pkg} is not installed: with internet run npm install ${pkg}${needs}` };
  }
  if (tf.findBackend('tensorflow')) {
    // Only one native package can be loaded per process; tell which one it is.
    const loadedGpu = loadedNative === 'tensorflow-gpu';
    const ok = (name === 'tensorflow-gpu') === loadedGpu;
    return ok
      ? { name, available: true, reason: 'loaded', device: loadedGpu ? 'CUDA GPU (libtensorflow 2.9.1)' : 'CPU (libtensorflow)' }
      : { name, available: false, reason: `${NATIVE_PACKAGE[loadedNative ?? 'tensorflow']} is already loaded in this process` };
  }
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require(pkg);
    loadedNative = name;
    return { name, available: true, reason: 'loaded', device: name === 'tensorflow-gpu' ? 'CUDA GPU (libtensorflow 2.9.1)' : 'CPU (libtensorflow)' };
  } catch (e) {
    return { name, available: false, reason: diagnoseNativeError(name, (e as Error).message) };
  }
}
let loadedNative: 'tensorflow-gpu' | 'tensorflow' | null = null;

function probeWasm(): BackendReport {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require('@tensorflow/tfjs-backend-wasm');
    return { name: 'wasm', available: true, reason: 'XNNPACK + SIMD', device: 'CPU (one thread in Node)' };
  } catch (e) {
    return { name: 'wasm', available: false, reason: `@tensorflow/tfjs-backend-wasm failed to load: ${(e as Error).message}` };
  }
}

function probeCpu(): BackendReport {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require('@tensorflow/tfjs-backend-cpu');
  return { name: 'cpu', available: true, reason: 'plain JavaScript (slow; a last resort)', device: 'CPU' };
}

/** Probe one backend (loads its package; does not switch to it). */
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
}

async function activate(report: BackendReport): Promise<void> {
  if (report.name === 'wasm') registerWasmTrainingKernels();
  if (report.name === 'webgpu') initWebGpuGlobals();
  const ok = await tf.setBackend(TFJS_BACKEND[report.name]);
  if (!ok) throw new BackendError(`backend ${report.name} failed to initialise`);
  await tf.ready();
}

/**
 * Start a backend. 'auto' takes the first usable one in BACKEND_NAMES order (a software GPU only if
 * allowed); a named backend that is not usable is an error that carries its reason.
 */
export async function initBackend(requested: BackendName | 'auto' = 'auto', opts: InitBackendOptions = {}): Promise<BackendChoice> {
  tf.enableProdMode(); // silences tfjs's console hints; the library does not print
  if (requested !== 'auto') {
    const report = await probeBackend(requested);
    if (!report.available) throw new BackendError(`backend ${requested} is not usable: ${report.reason}`);
    await activate(report);
    return { name: requested, report, skipped: [] };
  }
  const skipped: BackendReport[] = [];
  for (const name of BACKEND_NAMES) {
    const report = await probeBackend(name);
    if (report.available && report.software && !opts.allowSoftwareGpu) {
      skipped.push({ ...report, available: false, reason: `${report.reason}; software adapter, slower than wasm (ask for it with --backend webgpu)` });
      continue;
    }
    if (!report.available) {
      skipped.push(report);
      continue;
    }
    try {
      await activate(report);
      return { name, report, skipped };
    } catch (e) {
      skipped.push({ ...report, available: false, reason: (e as Error).message });
    }
  }
  throw new BackendError('no backend could be started');
}
