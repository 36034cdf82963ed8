/**
 * WebGPU in Node through Dawn (npm `webgpu`): any Vulkan driver, no CUDA toolkit. The globals
 * (`navigator.gpu`, `GPUBufferUsage`...) must exist before @tensorflow/tfjs-backend-webgpu loads.
 */
import type { BackendReport } from './select';

interface GpuAdapterInfoLike {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  isFallbackAdapter?: boolean;
}

let gpu: { requestAdapter(opts?: unknown): Promise<unknown> } | null = null;
let probed: BackendReport | null = null;

/** Install Dawn's globals once; returns the `navigator.gpu` object. */
export function initWebGpuGlobals(): NonNullable<typeof gpu> {
  if (gpu) return gpu;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const dawn = require('webgpu') as { create(flags: string[]): typeof gpu; globals: Record<string, unknown> };
  Object.assign(globalThis, dawn.globals);
  gpu = dawn.create([]);
  const g = globalThis as unknown as { navigator?: { gpu?: unknown } };
  if (!g.navigator) Object.defineProperty(globalThis, 'navigator', { value: {}, writable: true, configurable: true });
  (g.navigator as { gpu?: unknown }).gpu = gpu;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require('@tensorflow/tfjs-backend-webgpu');
  return gpu!;
}

export function isSoftwareAdapter(info: GpuAdapterInfoLike): boolean {
  const text = `${info.vendor ?? ''} ${info.architecture ?? ''} ${info.device ?? ''} ${info.description ?? ''}`;
  return Boolean(info.isFallbackAdapter) || /llvmpipe|lavapipe|swiftshader|software|softpipe/i.test(text);
}

export async function probeWebGpu(): Promise<BackendReport> {
  if (probed) return probed;
  let adapter: { info?: GpuAdapterInfoLike } | null;
  try {
    adapter = (await initWebGpuGlobals().requestAdapter()) as typeof adapter;
  } catch (e) {
    return (probed = { name: 'webgpu', available: false, reason: `Dawn (npm webgpu) failed to load: ${(e as Error).message.split('\n')[0]}` });
  }
  if (!adapter) {
    return (probed = {
      name: 'webgpu',
      available: false,
      reason: 'no Vulkan adapter: install a Vulkan driver (NVIDIA driver, or Mesa >= 24 mesa-vulkan-drivers for a software one)',
    });
  }
  const info = adapter.info ?? {};
  const device = [info.vendor, info.architecture, info.device, info.description].filter((s) => s).join(' ').trim() || 'unknown adapter';
  const software = isSoftwareAdapter(info);
  return (probed = {
    name: 'webgpu',
    available: true,
    reason: software ? 'software Vulkan adapter' : 'hardware GPU adapter',
    device,
    software,
  });
}
