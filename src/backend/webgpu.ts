/**
 * WebGPU in Node through Dawn (npm `webgpu`): any Vulkan GPU, no CUDA toolkit. Three levels, cheapest
 * first:
 *
 * - `gpuDeviceNodes()`: GPU device files (/dev/dri/renderD*, /dev/nvidia0, /dev/dxg). Without one only a
 *   software Vulkan adapter (Mesa lavapipe) can exist, so automatic selection need not load Dawn at all.
 * - `probeWebGpuIsolated()`: Dawn in a child process reports the adapter (name, software or not, limits).
 *   The child keeps Dawn's stderr lines and any driver crash or hang out of this process.
 * - `startWebGpu()`: Dawn in this process, once: one instance, the high-performance adapter, a device
 *   with the adapter's largest buffer limits, and tfjs's 'webgpu' backend registered on that device.
 *   `stopWebGpu()` destroys the device and drops every reference to Dawn, so the process can exit.
 *
 * Dawn's C++ logger prints "Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from
 * 1000000 to 16 to fit dynamic offset allocation limit." (and the same for storage buffers) with
 * fprintf(stderr) when it opens a Vulkan driver that reports more dynamic buffers than Dawn supports
 * (lavapipe reports 1000000, RADV 500000). It does so for every driver installed, once per instance,
 * synchronously inside requestAdapter(). dawn.node 0.6.2 has no toggle or log level for it (the message is
 * unconditional in Dawn's Limits.cpp), and Node cannot dup2 stderr around the call without a race, so
 * probing happens in the child process and the lines appear only where webgpu is really started.
 */
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { pathToFileURL } from 'url';
import * as tf from '../tf';
import type { BackendReport } from './select';
import { canLoadSharedLibrary } from './shared_libs';

/** The adapter fields tfjs and we use (GPUAdapterInfo). */
export interface GpuAdapterInfoLike {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  isFallbackAdapter?: boolean;
}

/** What the probe learnt about the adapter WebGPU would use. */
export interface WebGpuAdapterSummary {
  /** The driver's name for the device: 'NVIDIA H100 80GB HBM3', 'llvmpipe (LLVM 15.0.6, 256 bits)'. */
  name: string;
  vendor: string;
  architecture: string;
  /** Driver description ('llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)'). */
  description: string;
  /** Dawn's backend: 'vulkan' on Linux, 'metal', 'd3d12'; null when Dawn did not say. */
  backend: string | null;
  /** A CPU implementation (lavapipe, SwiftShader): exact but slower than the wasm backend. */
  software: boolean;
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
}

export function isSoftwareAdapter(info: GpuAdapterInfoLike): boolean {
  const text = `${info.vendor ?? ''} ${info.architecture ?? ''} ${info.device ?? ''} ${info.description ?? ''}`;
  return Boolean(info.isFallbackAdapter) || /llvmpipe|lavapipe|swiftshader|software|softpipe/i.test(text);
}

// ---------------------------------------------------------------------------------------------------
// What the machine has: device nodes, the Vulkan loader, Vulkan drivers (ICD files).

/** GPU device files: /dev/dri/renderD* (Mesa and DRM drivers), /dev/nvidia<N>, /dev/dxg (WSL2). */
export function gpuDeviceNodes(devDir = '/dev'): string[] {
  const out: string[] = [];
  const list = (dir: string) => {
    try {
      return fs.readdirSync(dir);
    } catch {
      return [];
    }
  };
  for (const f of list(path.join(devDir, 'dri'))) if (/^renderD\d+$/.test(f)) out.push(path.join(devDir, 'dri', f));
  for (const f of list(devDir)) if (/^nvidia\d+$/.test(f) || f === 'dxg') out.push(path.join(devDir, f));
  return out.sort();
}

const ICD_DIRS = ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d', '/usr/local/share/vulkan/icd.d'];

/** Installed Vulkan driver manifests (lvp_icd.json is Mesa's lavapipe, nvidia_icd.json NVIDIA's driver). */
export function vulkanDriverFiles(dirs = ICD_DIRS): string[] {
  const out: string[] = [];
  for (const d of dirs) {
    try {
      for (const f of fs.readdirSync(d)) if (f.endsWith('.json')) out.push(path.join(d, f));
    } catch {
      // no such folder
    }
  }
  return out;
}

/** Why Dawn found no adapter, from what is installed. */
export function explainNoAdapter(): string {
  if (process.platform !== 'linux') return 'Dawn found no GPU adapter on this machine';
  if (!canLoadSharedLibrary('libvulkan.so.1').found) {
    return 'the Vulkan loader libvulkan.so.1 is not installed (Debian/Ubuntu: apt-get install libvulkan1), so Dawn sees no adapter';
  }
  const icds = vulkanDriverFiles().map((f) => path.basename(f));
  if (icds.length === 0) {
    return (
      'no Vulkan driver is installed: an NVIDIA GPU needs the driver\'s Vulkan part (nvidia_icd.json; in a container ' +
      'NVIDIA_DRIVER_CAPABILITIES must include graphics), and Mesa >= 24 mesa-vulkan-drivers gives a software adapter'
    );
  }
  const nvidiaIcd = icds.some((f) => /^nvidia/.test(f));
  const nvidiaDev = gpuDeviceNodes().some((d) => /\/nvidia\d+$/.test(d));
  const why: string[] = [];
  if (nvidiaDev && !nvidiaIcd) why.push('an NVIDIA GPU is here but not its Vulkan driver (nvidia_icd.json; in a container NVIDIA_DRIVER_CAPABILITIES must include graphics)');
  if (nvidiaIcd && !nvidiaDev) why.push('the NVIDIA Vulkan driver is installed but no /dev/nvidia* device is visible (a container started without the GPU?)');
  if (icds.some((f) => /^lvp/.test(f))) why.push("Mesa's lavapipe is installed but was refused: Dawn needs Mesa >= 24 (Debian 12's 22.3 is too old: install mesa-vulkan-drivers from bookworm-backports)");
  return `Dawn found no usable Vulkan adapter (drivers installed: ${icds.join(', ')})${why.length ? `: ${why.join('; ')}` : ''}`;
}

// ---------------------------------------------------------------------------------------------------
// Probing in a child process.

/**
 * Runs in `node -e` with the file URL of the webgpu package: requests the high-performance adapter,
 * then asks Dawn for an adapter that does not exist, which makes it list every adapter by name.
 */
const PROBE_SCRIPT = `
const out = {};
(async () => {
  try {
    const { create } = await import(process.argv[1]);
    const adapter = await create([]).requestAdapter({ powerPreference: 'high-performance' });
    if (adapter) {
      const i = adapter.info, l = adapter.limits;
      out.adapter = { vendor: i.vendor, architecture: i.architecture, device: i.device, description: i.description,
        isFallbackAdapter: Boolean(i.isFallbackAdapter),
        maxStorageBufferBindingSize: l.maxStorageBufferBindingSize, maxBufferSize: l.maxBufferSize };
    }
    try { await create(['adapter=googlenet-list-adapters']).requestAdapter(); } catch (e) { out.list = String((e && e.message) || e); }
  } catch (e) { out.error = String((e && e.message) || e); }
  process.stdout.write(JSON.stringify(out), () => process.exit(0));
})();
`;

interface ProbeOutput {
  adapter?: GpuAdapterInfoLike & { maxStorageBufferBindingSize: number; maxBufferSize: number };
  list?: string;
  error?: string;
}

const normalise = (s: string) => s.toLowerCase().replace(/[^a-z0-9]/g, '');

/** Dawn's "Available adapters: * backend: 'vulkan', name: 'llvmpipe (...)'" -> [{backend, name}]. */
export function parseAdapterList(text: string): { backend: string; name: string }[] {
  return [...text.matchAll(/backend: '([^']*)', name: '([^']*)'/g)].map((m) => ({ backend: m[1], name: m[2] }));
}

export function summariseAdapter(
  info: GpuAdapterInfoLike & { maxStorageBufferBindingSize?: number; maxBufferSize?: number },
  listed: { backend: string; name: string }[] = [],
): WebGpuAdapterSummary {
  const match = listed.find((a) => info.device && normalise(a.name) === normalise(info.device)) ?? (listed.length === 1 ? listed[0] : undefined);
  const name = match?.name || info.description || info.device || info.vendor || 'unknown adapter';
  return {
    name,
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    description: info.description ?? '',
    backend: match?.backend ?? null,
    software: isSoftwareAdapter(info),
    maxStorageBufferBindingSize: info.maxStorageBufferBindingSize ?? 0,
    maxBufferSize: info.maxBufferSize ?? 0,
  };
}

/** The report for an adapter: available, and whether automatic selection would take it. */
export function adapterReport(a: WebGpuAdapterSummary): BackendReport {
  const via = [a.backend, a.description].filter((s) => s).join(', ');
  return {
    name: 'webgpu',
    available: true,
    reason: a.software
      ? `software Vulkan adapter (${via}): exact but slower than wasm, so auto never picks it; ask for it with --backend webgpu`
      : `hardware GPU adapter (${via})`,
    device: a.name,
    software: a.software,
  };
}

let isolated: Promise<{ report: BackendReport; adapter: WebGpuAdapterSummary | null }> | null = null;

export interface IsolatedProbeOptions {
  /** Kill the child after this long (Dawn waits on the driver; a broken one can hang). */
  timeoutMs?: number;
}

/**
 * Ask a child process which adapter WebGPU would get (once per process; later calls share the answer).
 * Never throws: failures are reports with a reason. Costs about 0.2 s on lavapipe.
 */
export function probeWebGpuIsolated(opts: IsolatedProbeOptions = {}): Promise<{ report: BackendReport; adapter: WebGpuAdapterSummary | null }> {
  if (isolated) return isolated;
  const fail = (reason: string) => ({ report: { name: 'webgpu' as const, available: false, reason }, adapter: null });
  let dawnUrl: string;
  try {
    dawnUrl = pathToFileURL(require.resolve('webgpu')).href;
  } catch {
    return (isolated = Promise.resolve(fail('the npm package webgpu (Dawn) is not installed: run npm install')));
  }
  const timeoutMs = opts.timeoutMs ?? 30_000;
  isolated = new Promise((resolve) => {
    execFile(
      process.execPath,
      ['-e', PROBE_SCRIPT, dawnUrl],
      { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 1 << 20, windowsHide: true },
      (err, stdout, stderr) => {
        const lastLine = (stderr || '')
          .split('\n')
          .map((l) => l.trim())
          .filter((l) => l && !/artificially reduced from/.test(l))
          .pop();
        let out: ProbeOutput | null = null;
        try {
          out = JSON.parse(stdout) as ProbeOutput;
        } catch {
          out = null;
        }
        if (!out) {
          const e = err as (Error & { killed?: boolean; signal?: string | null; code?: number | string }) | null;
          if (e?.killed) return resolve(fail(`Dawn did not answer within ${timeoutMs / 1000} s while opening the GPU driver`));
          const how = e?.signal ? `crashed (${e.signal})` : `exited with ${e?.code ?? 'no output'}`;
          return resolve(fail(`Dawn ${how} while opening the GPU driver${lastLine ? `: ${lastLine}` : ''}`));
        }
        if (out.error) return resolve(fail(`Dawn (npm webgpu) failed to load: ${out.error.split('\n')[0]}`));
        if (!out.adapter) return resolve(fail(explainNoAdapter()));
        const adapter = summariseAdapter(out.adapter, parseAdapterList(out.list ?? ''));
        resolve({ report: adapterReport(adapter), adapter });
      },
    );
  });
  return isolated;
}

// ---------------------------------------------------------------------------------------------------
// Starting WebGPU in this process.

interface DawnModule {
  create(flags: string[]): GpuLike;
  globals: Record<string, unknown>;
}
interface GpuLike {
  requestAdapter(opts?: { powerPreference?: string }): Promise<AdapterLike | null>;
}
interface AdapterLike {
  info: GpuAdapterInfoLike;
  features: { has(name: string): boolean };
  limits: Record<string, number>;
  requestDevice(desc: { requiredFeatures?: string[]; requiredLimits?: Record<string, number> }): Promise<DeviceLike>;
}
interface DeviceLike {
  limits: Record<string, number>;
  destroy(): void;
}

/**
 * Device limits raised to the adapter's maximum, the ones tfjs-backend-webgpu's own start-up raises.
 * GoogLeNet needs the buffer sizes: conv1's output at 224 px is N x 112 x 112 x 64 floats, 103 MB at
 * batch 32 and 206 MB at batch 64, against WebGPU's default 128 MiB per binding. (Its kernels bind at most
 * five storage buffers, within the default eight.)
 */
const RAISED_LIMITS = [
  'maxComputeWorkgroupStorageSize',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupSizeX',
  'maxComputeInvocationsPerWorkgroup',
] as const;

export interface WebGpuDeviceInfo {
  adapter: WebGpuAdapterSummary;
  /** The limits the device was created with (the raised ones). */
  limits: Record<(typeof RAISED_LIMITS)[number], number>;
  /** The device has 'timestamp-query': kernels' GPU time can be measured (bench --profile). */
  timestampQuery: boolean;
}

let started: { gpu: GpuLike; device: DeviceLike; info: WebGpuDeviceInfo; setNavigator: boolean } | null = null;
let starting: Promise<WebGpuDeviceInfo> | null = null;

async function loadDawn(): Promise<DawnModule> {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    // Resolve the package path first: tslab's require looks for a bare name beside the requiring file
    // first, and would find this very module (src/backend/webgpu.ts).
    return require(require.resolve('webgpu')) as DawnModule;
  } catch (e) {
    // `webgpu` is an ES module: Node >= 20.19 requires it; older Node imports it.
    if ((e as { code?: string }).code !== 'ERR_REQUIRE_ESM') throw e;
    const importEsm = new Function('u', 'return import(u)') as (u: string) => Promise<DawnModule>;
    return importEsm(pathToFileURL(require.resolve('webgpu')).href);
  }
}

type GlobalWithNavigator = { navigator?: { gpu?: unknown } };

/**
 * Start WebGPU in this process (once; concurrent and later calls share it) and register tfjs's 'webgpu'
 * backend on the device (does not switch to it). `known` is the isolated probe's summary, for the name.
 * Throws with a reason when there is no adapter or no device.
 */
export function startWebGpu(known?: WebGpuAdapterSummary | null): Promise<WebGpuDeviceInfo> {
  if (started) return Promise.resolve(started.info);
  if (!starting) {
    starting = doStart(known).finally(() => {
      starting = null;
    });
  }
  return starting;
}

async function doStart(known?: WebGpuAdapterSummary | null): Promise<WebGpuDeviceInfo> {
  const dawn = await loadDawn();
  // GPUBufferUsage, GPUMapMode... which tfjs-backend-webgpu reads as globals.
  Object.assign(globalThis, dawn.globals);
  const gpu = dawn.create([]);
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error(explainNoAdapter());
  const requiredLimits: Record<string, number> = {};
  for (const k of RAISED_LIMITS) if (typeof adapter.limits[k] === 'number') requiredLimits[k] = adapter.limits[k];
  const requiredFeatures = adapter.features.has('timestamp-query') ? ['timestamp-query'] : [];
  const device = await adapter.requestDevice({ requiredFeatures, requiredLimits });

  // Loading the package registers its kernels for 'webgpu'. It also registers a backend factory of its
  // own if navigator.gpu exists at that moment (a second adapter and device): replace it with ours.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { WebGPUBackend } = require('@tensorflow/tfjs-backend-webgpu') as {
    WebGPUBackend: new (device: unknown, adapterInfo?: unknown) => tf.KernelBackend;
  };
  if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
  // WebGPUBackend's constructor refuses to run unless navigator.gpu exists.
  const g = globalThis as unknown as GlobalWithNavigator;
  if (!g.navigator) Object.defineProperty(globalThis, 'navigator', { value: {}, writable: true, configurable: true });
  const setNavigator = !g.navigator!.gpu;
  if (setNavigator) g.navigator!.gpu = gpu;
  tf.registerBackend(
    'webgpu',
    () => {
      const backend = new WebGPUBackend(device, adapter.info);
      // The library does not print: silence its one-time console hints (readSync speed, timestamp-query).
      Object.assign(backend, { hasReadSyncWarned: true, hasTimestampQueryWarned: true });
      return backend;
    },
    0, // never chosen by tfjs on its own: initBackend sets it explicitly
  );
  const summary = known ?? summariseAdapter({ ...adapter.info, maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize, maxBufferSize: adapter.limits.maxBufferSize });
  const limits = {} as WebGpuDeviceInfo['limits'];
  for (const k of RAISED_LIMITS) limits[k] = device.limits[k];
  const info: WebGpuDeviceInfo = { adapter: summary, limits, timestampQuery: requiredFeatures.length > 0 };
  started = { gpu, device, info, setNavigator };
  return info;
}

/** The running device, or null before startWebGpu / after stopWebGpu. */
export function webGpuDeviceInfo(): WebGpuDeviceInfo | null {
  return started?.info ?? null;
}

/**
 * Release WebGPU: remove tfjs's 'webgpu' backend (frees its buffers; tfjs picks another backend on the
 * next op), destroy the device and drop the references to Dawn, so that nothing keeps the process alive.
 */
export function stopWebGpu(): void {
  if (!started) return;
  const { device, setNavigator } = started;
  started = null;
  try {
    if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
  } finally {
    device.destroy();
    const g = globalThis as unknown as GlobalWithNavigator;
    if (setNavigator && g.navigator) delete g.navigator.gpu;
  }
}
