/**
 * The two native backends: @tensorflow/tfjs-node-gpu and @tensorflow/tfjs-node (libtensorflow 2.9.1).
 *
 * Both are optional dependencies whose install script downloads libtensorflow; where that cannot happen
 * (no internet, CI) npm leaves them out and they are reported "not installed". Probing stays thin:
 * resolve the package, check the shared libraries, require it inside try/catch. Nothing here throws.
 *
 * tfjs-node-gpu does not fail to load on a machine without CUDA 11.2. libtensorflow dlopens the CUDA
 * libraries when it starts, logs "Could not load dynamic library 'libcudart.so.11.0'; dlerror: ..." from
 * C++ to stderr, then "Skipping registering GPU devices..." and runs every op on the CPU (tfjs issues
 * 8269, 8362, 8187: CUDA 12.x machines). So before loading it we dlopen the libraries it needs ourselves
 * and name the missing ones, and after loading it we ask its binding whether it registered a GPU.
 */
import * as tf from '../tf';
import type { BackendReport } from './select';
import { canLoadSharedLibrary, LibraryLoader } from './shared_libs';

export type NativeBackendName = 'tensorflow-gpu' | 'tensorflow';

export const NATIVE_PACKAGE: Record<NativeBackendName, string> = {
  'tensorflow-gpu': '@tensorflow/tfjs-node-gpu',
  tensorflow: '@tensorflow/tfjs-node',
};

/** Which part of an NVIDIA setup provides a library. */
export type CudaPart = 'driver' | 'cuda' | 'cudnn';

/**
 * The shared libraries libtensorflow 2.9.1 (built against CUDA 11.2 + cuDNN 8.1) opens for its GPU
 * device, by soname: the driver's libcuda, then the CUDA 11 runtime libraries and cuDNN 8. If any one
 * fails to load, TensorFlow skips the GPU.
 */
export const TF_GPU_LIBRARIES: readonly { soname: string; part: CudaPart }[] = [
  { soname: 'libcuda.so.1', part: 'driver' },
  { soname: 'libcudart.so.11.0', part: 'cuda' },
  { soname: 'libcublas.so.11', part: 'cuda' },
  { soname: 'libcublasLt.so.11', part: 'cuda' },
  { soname: 'libcufft.so.10', part: 'cuda' },
  { soname: 'libcurand.so.10', part: 'cuda' },
  { soname: 'libcusolver.so.11', part: 'cuda' },
  { soname: 'libcusparse.so.11', part: 'cuda' },
  { soname: 'libcudnn.so.8', part: 'cudnn' },
];

export interface MissingLibrary {
  soname: string;
  /** A library that `soname` itself needs and that is missing (libcusolver.so.11 -> libnvJitLink.so.12). */
  neededBy?: string;
}

function partOf(soname: string): CudaPart | null {
  if (/^libcuda\.so/.test(soname) || /^libnvidia-/.test(soname)) return 'driver';
  if (/^libcudnn/.test(soname)) return 'cudnn';
  if (/^lib(cudart|cublas|cublasLt|cufft|curand|cusolver|cusparse|nvJitLink|nvrtc)\b/.test(soname)) return 'cuda';
  return null;
}

const names = (ls: readonly MissingLibrary[]) => ls.map((m) => (m.neededBy ? `${m.neededBy} (needs ${m.soname})` : m.soname)).join(', ');

/** What is missing and what provides it, every library named, for tensorflow-gpu. */
export function describeMissingGpuLibraries(missing: readonly MissingLibrary[]): string {
  const of = (part: CudaPart | null) => missing.filter((m) => partOf(m.soname) === part);
  const parts: string[] = [];
  const driver = of('driver');
  const cuda = of('cuda');
  const cudnn = of('cudnn');
  const other = of(null);
  if (driver.length) parts.push(`${names(driver)} not found (no NVIDIA driver)`);
  if (cuda.length) {
    parts.push(
      `${names(cuda)} not found (the CUDA 11.2 runtime: CUDA 12/13 ship libcudart.so.12/.13, which libtensorflow 2.9.1 ` +
        'cannot use; 11.2 installs beside them)',
    );
  }
  if (cudnn.length) parts.push(`${names(cudnn)} not found (cuDNN 8.1 for CUDA 11.2)`);
  if (other.length) parts.push(`${names(other)} not found`);
  return parts.join('; ');
}

/** The same in a few words: the first thing to fix. */
export function summariseMissingGpuLibraries(missing: readonly MissingLibrary[]): string {
  const first = (part: CudaPart) => missing.find((m) => partOf(m.soname) === part);
  const driver = first('driver');
  if (driver) return `no NVIDIA driver here (${driver.soname} not found)`;
  const lacks = [first('cuda') && `the CUDA 11.2 runtime (${first('cuda')!.neededBy ?? first('cuda')!.soname})`, first('cudnn') && `cuDNN 8 (${first('cudnn')!.soname})`].filter((s) => s);
  return lacks.length ? `this machine lacks ${lacks.join(' and ')}` : `${names(missing)} not found`;
}

/** The libraries in TF_GPU_LIBRARIES that this process cannot load. */
export function missingGpuLibraries(load: LibraryLoader = canLoadSharedLibrary): MissingLibrary[] {
  const out: MissingLibrary[] = [];
  for (const { soname } of TF_GPU_LIBRARIES) {
    const r = load(soname);
    if (r.found) continue;
    // dlopen names the first library it could not open: the one asked for, or one it depends on.
    const culprit = r.error ? /^(\S+?): cannot open shared object file/.exec(r.error)?.[1] : undefined;
    const culpritName = culprit?.split('/').pop();
    out.push(culpritName && culpritName !== soname ? { soname: culpritName, neededBy: soname } : { soname });
  }
  return out;
}

/**
 * Turn what a native package printed or threw while loading into what is missing and what to do.
 * `text` is an exception message or captured stderr (libtensorflow's log lines), one or many lines.
 */
export function diagnoseNativeError(name: NativeBackendName, text: string): string {
  const pkg = NATIVE_PACKAGE[name];
  const missing: MissingLibrary[] = [];
  const seen = new Set<string>();
  const add = (m: MissingLibrary) => {
    const key = m.neededBy ?? m.soname;
    if (seen.has(key)) return;
    seen.add(key);
    missing.push(m);
  };
  // libtensorflow: "Could not load dynamic library 'libcusolver.so.11'; dlerror: libnvJitLink.so.12: cannot open ..."
  for (const m of text.matchAll(/Could not load dynamic library '([^']+)'; dlerror: (\S+?): cannot open shared object file/g)) {
    add(m[1] === m[2] ? { soname: m[1] } : { soname: m[2], neededBy: m[1] });
  }
  // The dynamic linker, when a binding's direct dependency is missing: "libtensorflow.so.2: cannot open ..."
  for (const m of text.matchAll(/(?:^|[\s'"])((?:\/\S+\/)?lib[\w.+-]+\.so[\w.]*): cannot open shared object file/gm)) {
    const soname = m[1].split('/').pop()!;
    if (!seen.has(soname) && !missing.some((x) => x.soname === soname)) add({ soname });
  }
  const libtensorflow = missing.find((m) => /^libtensorflow/.test(m.soname));
  if (libtensorflow) {
    return `${libtensorflow.soname} not found: libtensorflow was not downloaded when ${pkg} installed; with internet run: npm rebuild ${pkg}`;
  }
  const gpuMissing = missing.filter((m) => partOf(m.soname) !== null);
  if (gpuMissing.length) {
    const what = describeMissingGpuLibraries(gpuMissing);
    return name === 'tensorflow-gpu' ? `${what}; without them ${pkg} runs on the CPU` : `${what} (needed by ${pkg})`;
  }
  if (missing.length) return `${missing.map((m) => m.soname).join(', ')} not found (needed by ${pkg})`;
  if (/CUDA driver version is insufficient for CUDA runtime version/.test(text)) {
    return 'the NVIDIA driver is too old for CUDA 11.2 (libtensorflow 2.9.1 needs driver >= 450.80.02): update the driver';
  }
  if (/kernel driver does not appear to be running on this host|failed call to cuInit/.test(text)) {
    const detail = /failed call to cuInit: ([^\n]+)/.exec(text)?.[1]?.trim();
    return `the CUDA driver did not start${detail ? ` (cuInit: ${detail})` : ''}: no usable NVIDIA GPU or driver on this machine`;
  }
  if (/tfjs_binding\.node/.test(text) || /Cannot find module .*napi/.test(text)) {
    return `${pkg} is installed but its native binding is missing (the libtensorflow download failed at install); with internet run: npm rebuild ${pkg}`;
  }
  const glibc = /version `(GLIBC[\w.]*|GLIBCXX[\w.]*)' not found/.exec(text)?.[1];
  if (glibc) return `${pkg}'s libtensorflow needs ${glibc}, newer than this system's C library`;
  if (/Skipping registering GPU devices/.test(text)) {
    return `libtensorflow skipped the GPU (its log above names the library it could not open); ${pkg} runs on the CPU`;
  }
  const first = text.split('\n').find((l) => l.trim()) ?? text;
  return `${pkg} failed to load: ${first.trim()}`;
}

function isInstalledDefault(pkg: string): boolean {
  try {
    require.resolve(pkg);
    return true;
  } catch {
    return false;
  }
}

function loadDefault(pkg: string): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require(pkg);
}

/** What probeNative uses to look at the machine; tests replace them. */
export interface NativeProbeDeps {
  isInstalled?: (pkg: string) => boolean;
  loadLibrary?: LibraryLoader;
  /** Loads the package (it registers and selects the 'tensorflow' backend as it loads). */
  loadPackage?: (pkg: string) => void;
  /** Whether the loaded 'tensorflow' backend registered a GPU device (tfjs-node's isUsingGpuDevice). */
  usesGpu?: () => boolean | undefined;
  platform?: NodeJS.Platform;
}

/** Which native package this process loaded (only one can be: both register 'tensorflow'), and on what. */
let loaded: { name: NativeBackendName; gpu: boolean } | null = null;

const CPU_DEVICE = 'CPU (libtensorflow)';
const GPU_DEVICE = 'CUDA GPU (libtensorflow 2.9.1)';

function usesGpuDefault(): boolean | undefined {
  const backend = tf.findBackend('tensorflow') as { isUsingGpuDevice?: boolean } | null;
  return backend?.isUsingGpuDevice;
}

/** Probe one native backend: loads its package when it can work (does not switch to it). */
export function probeNative(name: NativeBackendName, deps: NativeProbeDeps = {}): BackendReport {
  const pkg = NATIVE_PACKAGE[name];
  const isInstalled = deps.isInstalled ?? isInstalledDefault;
  const platform = deps.platform ?? process.platform;
  const gpuLibs = () => (platform === 'linux' ? missingGpuLibraries(deps.loadLibrary ?? canLoadSharedLibrary) : []);

  if (!isInstalled(pkg)) {
    if (name === 'tensorflow') return { name, available: false, reason: `${pkg} is not installed: with internet run npm install ${pkg}` };
    const missing = gpuLibs();
    const also = missing.length ? `; ${summariseMissingGpuLibraries(missing)}` : '';
    return { name, available: false, reason: `${pkg} is not installed (it needs Linux x64 with CUDA 11.2 + cuDNN 8.1: docs/GPU.md)${also}` };
  }
  if (loaded) {
    if (name === 'tensorflow-gpu') {
      if (loaded.name === 'tensorflow-gpu' && loaded.gpu) return { name, available: true, reason: 'loaded', device: GPU_DEVICE };
      return {
        name,
        available: false,
        reason: loaded.name === 'tensorflow-gpu' ? `${pkg} loaded but libtensorflow registered no GPU device` : `${NATIVE_PACKAGE.tensorflow} is already loaded in this process`,
      };
    }
    // The CPU build, or the GPU build running without a GPU: both are libtensorflow on the CPU.
    return loaded.name === 'tensorflow' || !loaded.gpu
      ? { name, available: true, reason: loaded.name === 'tensorflow' ? 'loaded' : `loaded through ${NATIVE_PACKAGE['tensorflow-gpu']} (no GPU)`, device: CPU_DEVICE }
      : { name, available: false, reason: `${NATIVE_PACKAGE['tensorflow-gpu']} is already loaded in this process (use tensorflow-gpu)` };
  }
  if (name === 'tensorflow-gpu') {
    // Do not load libtensorflow just to watch it fall back to the CPU: name the missing libraries instead.
    const missing = gpuLibs();
    if (missing.length) return { name, available: false, reason: `${describeMissingGpuLibraries(missing)}; without them ${pkg} runs on the CPU` };
  }
  try {
    (deps.loadPackage ?? loadDefault)(pkg);
  } catch (e) {
    return { name, available: false, reason: diagnoseNativeError(name, (e as Error).message ?? String(e)) };
  }
  const gpu = name === 'tensorflow-gpu' && (deps.usesGpu ?? usesGpuDefault)() !== false;
  loaded = { name, gpu };
  if (name === 'tensorflow-gpu' && !gpu) {
    return {
      name,
      available: false,
      reason:
        `${pkg} loaded, but libtensorflow registered no GPU device although the CUDA 11.2 libraries load: ` +
        'the NVIDIA driver may be too old for CUDA 11.2 (needs >= 450.80.02) or no GPU is visible to this process ' +
        "(libtensorflow's log lines on stderr say which); it would run on the CPU",
    };
  }
  return { name, available: true, reason: 'loaded', device: name === 'tensorflow-gpu' ? GPU_DEVICE : CPU_DEVICE };
}

/** For tests: forget which native package was loaded (the package itself stays loaded). */
export function resetNativeProbeForTests(): void {
  loaded = null;
}
