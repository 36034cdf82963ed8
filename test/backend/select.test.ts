/**
 * Automatic backend selection: a software Vulkan adapter is never taken, and on a machine without GPU
 * device files Dawn is not even loaded (so its stderr warning cannot appear). The adapter-list parsing
 * and the software check that the webgpu report relies on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { initBackend } from '../../src/backend/select';
import { gpuDeviceNodes, isSoftwareAdapter, parseAdapterList, summariseAdapter } from '../../src/backend/webgpu';

test('auto never picks a software adapter, and without GPU device files does not load Dawn', async () => {
  const choice = await initBackend('auto');
  assert.notEqual(choice.name, 'webgpu');
  const webgpu = choice.skipped.find((s) => s.name === 'webgpu');
  assert.ok(webgpu, 'webgpu was passed over, with a reason');
  if (gpuDeviceNodes().length === 0) {
    assert.match(webgpu.reason, /no GPU device on this machine .*--backend webgpu/);
    const dawnLoaded = Object.keys(require.cache).some((k) => /[\\/]node_modules[\\/]webgpu[\\/]/.test(k));
    assert.equal(dawnLoaded, false, 'Dawn is not loaded in automatic mode without a GPU');
  } else {
    assert.ok(webgpu.software || !webgpu.available, webgpu.reason);
  }
});

test('gpuDeviceNodes finds render nodes, NVIDIA devices and WSL2 dxg only', () => {
  const dev = fs.mkdtempSync(path.join(os.tmpdir(), 'googlenet-dev-'));
  try {
    fs.mkdirSync(path.join(dev, 'dri'));
    for (const f of ['dri/renderD128', 'dri/card0', 'nvidia0', 'nvidiactl', 'nvidia-uvm', 'dxg', 'null']) fs.writeFileSync(path.join(dev, f), '');
    assert.deepEqual(gpuDeviceNodes(dev).map((p) => path.relative(dev, p)), ['dri/renderD128', 'dxg', 'nvidia0']);
    assert.deepEqual(gpuDeviceNodes(path.join(dev, 'none')), []);
  } finally {
    fs.rmSync(dev, { recursive: true, force: true });
  }
});

test("Dawn's adapter list gives the adapter's name; software adapters are recognised", () => {
  const list = parseAdapterList(
    "Error: no suitable backends found\nAvailable adapters:\n * backend: 'vulkan', name: 'NVIDIA H100 80GB HBM3'\n * backend: 'vulkan', name: 'llvmpipe (LLVM 15.0.6, 256 bits)'\n",
  );
  assert.deepEqual(list, [
    { backend: 'vulkan', name: 'NVIDIA H100 80GB HBM3' },
    { backend: 'vulkan', name: 'llvmpipe (LLVM 15.0.6, 256 bits)' },
  ]);
  const lavapipe = { vendor: 'mesa', architecture: 'software', device: 'llvmpipe-llvm-15-0-6-256-bits-', description: 'llvmpipe: Mesa 25.0.7', isFallbackAdapter: true };
  const s = summariseAdapter(lavapipe, list);
  assert.deepEqual([s.name, s.backend, s.software], ['llvmpipe (LLVM 15.0.6, 256 bits)', 'vulkan', true]);
  const nvidia = { vendor: 'nvidia', architecture: 'hopper', device: 'nvidia-h100-80gb-hbm3', description: 'NVIDIA: 550.54.15' };
  assert.equal(isSoftwareAdapter(nvidia), false);
  assert.equal(summariseAdapter(nvidia, list).name, 'NVIDIA H100 80GB HBM3');
  assert.equal(summariseAdapter(nvidia, []).name, 'NVIDIA: 550.54.15');
});
