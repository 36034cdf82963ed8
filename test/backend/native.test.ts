/**
 * Diagnosing @tensorflow/tfjs-node-gpu (libtensorflow 2.9.1, CUDA 11.2 + cuDNN 8.1) where it cannot use
 * the GPU, from the messages such machines really print (tfjs issues 8362, 8269, 8187; NVIDIA/tensorflow
 * 110; tensorflow/tensorflow 74459; tfjs-node's own loader), and the probe's decisions with the machine
 * simulated (CUDA 12 only, no GPU registered, a broken install). No native package is loaded here.
 */
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { describeMissingGpuLibraries, diagnoseNativeError, missingGpuLibraries, probeNative, resetNativeProbeForTests, TF_GPU_LIBRARIES } from '../../src/backend/native';
import type { LibraryLoader } from '../../src/backend/shared_libs';
import { canLoadSharedLibrary } from '../../src/backend/shared_libs';

afterEach(() => resetNativeProbeForTests());

// tfjs#8362, Ubuntu 22.04 with CUDA 12.x (the library libtensorflow asks for is the CUDA 11 one).
const ISSUE_8362 =
  "2024-08-24 22:24:04.039287: W tensorflow/stream_executor/platform/default/dso_loader.cc:64] Could not load dynamic library 'libcudart.so.11.0'; dlerror: libcudart.so.11.0: cannot open shared object file: No such file or directory; LD_LIBRARY_PATH: /usr/local/cuda:/usr/local/cuda/lib64:";

// tfjs#8269, tfjs-node-gpu 4.19 with CUDA 12.4: cuDNN 8 missing, then TF gives up on the GPU.
const ISSUE_8269 = [
  '2024-05-06 00:05:33.711121: I tensorflow/stream_executor/cuda/cuda_gpu_executor.cc:975] successful NUMA node read from SysFS had negative value (-1), but there must be at least one NUMA node, so returning NUMA node zero',
  "2024-05-06 00:05:33.767399: W tensorflow/stream_executor/platform/default/dso_loader.cc:64] Could not load dynamic library 'libcudnn.so.8'; dlerror: libcudnn.so.8: cannot open shared object file: No such file or directory",
  '2024-05-06 00:05:33.767416: W tensorflow/core/common_runtime/gpu/gpu_device.cc:1850] Cannot dlopen some GPU libraries. Please make sure the missing libraries mentioned above are installed properly if you would like to use GPU. Follow the guide at https://www.tensorflow.org/install/gpu for how to download and setup the required libraries for your platform.',
  'Skipping registering GPU devices...',
].join('\n');

// tfjs#8187, WSL2 with CUDA 12.3.
const ISSUE_8187 = "Could not load dynamic library 'libcudart.so.11.0'; dlerror: libcudart.so.11.0: cannot open shared object file: No such file or directory";

// tensorflow#74459 (tfjs-node-gpu on Ubuntu 22.04): cudart missing, then the stub's hint.
const TF_74459 = [
  "2024-08-24 15:40:49.279326: W tensorflow/stream_executor/platform/default/dso_loader.cc:64] Could not load dynamic library 'libcudart.so.11.0'; dlerror: libcudart.so.11.0: cannot open shared object file: No such file or directory",
  '2024-08-24 15:40:49.279356: I tensorflow/stream_executor/cuda/cudart_stub.cc:29] Ignore above cudart dlerror if you do not have a GPU set up on your machine.',
].join('\n');

// NVIDIA/tensorflow#110: the CUDA 11 libraries exist but one needs a CUDA 12 library.
const NVIDIA_110 = [
  '2024-06-19 16:06:44.995157: I tensorflow/stream_executor/platform/default/dso_loader.cc:49] Successfully opened dynamic library libcudart.so.11.0',
  "2024-06-19 16:06:44.996032: W tensorflow/stream_executor/platform/default/dso_loader.cc:60] Could not load dynamic library 'libcusolver.so.11'; dlerror: libnvJitLink.so.12: cannot open shared object file: No such file or directory",
  '2024-06-19 16:06:44.996140: W tensorflow/core/common_runtime/gpu/gpu_device.cc:1689] Cannot dlopen some GPU libraries.',
].join('\n');

// No NVIDIA driver (a machine without a GPU running tfjs-node-gpu): TF 2.9's driver lines.
const NO_DRIVER = [
  "W tensorflow/stream_executor/platform/default/dso_loader.cc:64] Could not load dynamic library 'libcuda.so.1'; dlerror: libcuda.so.1: cannot open shared object file: No such file or directory",
  'W tensorflow/stream_executor/cuda/cuda_driver.cc:269] failed call to cuInit: UNKNOWN ERROR (303)',
].join('\n');

// tfjs-node's index.js when the install script could not fetch libtensorflow (no binding built).
const NO_BINDING =
  'The Node.js native addon module (tfjs_binding.node) can not be found at path: /app/node_modules/@tensorflow/tfjs-node-gpu/lib/napi-v8/tfjs_binding.node. \n' +
  "Please run command 'npm rebuild @tensorflow/tfjs-node-gpu --build-addon-from-source' to rebuild the native addon module.";

test('CUDA 12 machine (tfjs#8362, #8187, tensorflow#74459): names libcudart.so.11.0, CUDA 11.2, and the CPU fallback', () => {
  for (const text of [ISSUE_8362, ISSUE_8187, TF_74459]) {
    const d = diagnoseNativeError('tensorflow-gpu', text);
    assert.match(d, /libcudart\.so\.11\.0 not found/);
    assert.match(d, /CUDA 11\.2/);
    assert.match(d, /runs on the CPU/);
    assert.doesNotMatch(d, /cuDNN|libcuda\.so\.1/);
  }
});

test('cuDNN 8 missing (tfjs#8269): names libcudnn.so.8 and cuDNN 8.1, not the CUDA runtime', () => {
  const d = diagnoseNativeError('tensorflow-gpu', ISSUE_8269);
  assert.match(d, /libcudnn\.so\.8 not found \(cuDNN 8\.1 for CUDA 11\.2\)/);
  assert.doesNotMatch(d, /libcudart/);
});

test('a CUDA 11 library that needs a missing CUDA 12 one (NVIDIA/tensorflow#110): both named', () => {
  assert.match(diagnoseNativeError('tensorflow-gpu', NVIDIA_110), /libcusolver\.so\.11 \(needs libnvJitLink\.so\.12\) not found/);
});

test('no NVIDIA driver: libcuda.so.1 and the driver named', () => {
  assert.match(diagnoseNativeError('tensorflow-gpu', NO_DRIVER), /libcuda\.so\.1 not found \(no NVIDIA driver\)/);
  assert.match(diagnoseNativeError('tensorflow-gpu', 'failed call to cuInit: CUDA_ERROR_NO_DEVICE: no CUDA-capable device is detected'), /CUDA driver did not start \(cuInit: CUDA_ERROR_NO_DEVICE/);
});

test('a broken install: missing binding or libtensorflow says to rebuild with internet', () => {
  assert.match(diagnoseNativeError('tensorflow-gpu', NO_BINDING), /native binding is missing.*npm rebuild @tensorflow\/tfjs-node-gpu/);
  assert.match(diagnoseNativeError('tensorflow', 'libtensorflow.so.2: cannot open shared object file: No such file or directory'), /libtensorflow\.so\.2 not found: .*npm rebuild @tensorflow\/tfjs-node$/);
  // tfjs 1.x linked cuBLAS directly, so require() itself threw (tfjs#708).
  assert.match(diagnoseNativeError('tensorflow-gpu', 'Error: libcublas.so.9.0: cannot open shared object file: No such file or directory'), /libcublas\.so\.9\.0 not found/);
  assert.match(diagnoseNativeError('tensorflow', 'something else\nat foo'), /failed to load: something else$/);
});

/** A machine with the NVIDIA driver and CUDA 12 only: libcuda loads, no CUDA 11 library, no cuDNN 8. */
const cuda12Machine: LibraryLoader = (soname) =>
  soname === 'libcuda.so.1' ? { found: true } : { found: false, error: `${soname}: cannot open shared object file: No such file or directory` };
const cuda112Machine: LibraryLoader = () => ({ found: true });

test('probe on a CUDA 12 machine: the exact missing libraries, without loading libtensorflow', () => {
  let loaded = false;
  const r = probeNative('tensorflow-gpu', {
    isInstalled: () => true,
    loadLibrary: cuda12Machine,
    loadPackage: () => {
      loaded = true;
    },
    platform: 'linux',
  });
  assert.equal(r.available, false);
  assert.equal(loaded, false, 'libtensorflow is not loaded just to fall back to the CPU');
  assert.match(r.reason, /^libcudart\.so\.11\.0, libcublas\.so\.11, .*libcusparse\.so\.11 not found \(the CUDA 11\.2 runtime/);
  assert.match(r.reason, /libcudnn\.so\.8 not found/);
  assert.doesNotMatch(r.reason, /libcuda\.so\.1/);
  assert.match(r.reason, /runs on the CPU/);
});

test('probe where the CUDA 11.2 libraries load but libtensorflow registers no GPU: not available, and why', () => {
  const r = probeNative('tensorflow-gpu', { isInstalled: () => true, loadLibrary: cuda112Machine, loadPackage: () => undefined, usesGpu: () => false, platform: 'linux' });
  assert.equal(r.available, false);
  assert.match(r.reason, /registered no GPU device/);
  // The same libtensorflow still serves as the CPU 'tensorflow' backend.
  const cpu = probeNative('tensorflow', { isInstalled: () => true });
  assert.equal(cpu.available, true);
  assert.match(cpu.reason, /through @tensorflow\/tfjs-node-gpu \(no GPU\)/);
});

test('probe with a working GPU, and a failing require diagnosed', () => {
  const ok = probeNative('tensorflow-gpu', { isInstalled: () => true, loadLibrary: cuda112Machine, loadPackage: () => undefined, usesGpu: () => true, platform: 'linux' });
  assert.deepEqual([ok.available, ok.device], [true, 'CUDA GPU (libtensorflow 2.9.1)']);
  const other = probeNative('tensorflow', { isInstalled: () => true });
  assert.equal(other.available, false, 'only one native package per process');
  resetNativeProbeForTests();
  const broken = probeNative('tensorflow-gpu', {
    isInstalled: () => true,
    loadLibrary: cuda112Machine,
    loadPackage: () => {
      throw new Error(NO_BINDING);
    },
    platform: 'linux',
  });
  assert.equal(broken.available, false);
  assert.match(broken.reason, /npm rebuild/);
});

test('not installed: says so, needs nothing else loaded, and on Linux names what the machine lacks', () => {
  const r = probeNative('tensorflow-gpu', { isInstalled: () => false, loadLibrary: cuda12Machine, platform: 'linux' });
  assert.equal(r.available, false);
  assert.match(r.reason, /^@tensorflow\/tfjs-node-gpu is not installed .*CUDA 11\.2 \+ cuDNN 8\.1.*; this machine lacks the CUDA 11\.2 runtime \(libcudart\.so\.11\.0\) and cuDNN 8 \(libcudnn\.so\.8\)$/);
  const cpu = probeNative('tensorflow', { isInstalled: () => false });
  assert.match(cpu.reason, /not installed: with internet run npm install @tensorflow\/tfjs-node$/);
});

test('this machine: probing the real packages never throws', () => {
  for (const name of ['tensorflow-gpu', 'tensorflow'] as const) {
    const r = probeNative(name);
    assert.equal(typeof r.available, 'boolean');
    assert.ok(r.reason.length > 0);
  }
});

test('the library check tells found from missing, and a missing dependency from a missing library', () => {
  assert.equal(canLoadSharedLibrary('libc.so.6').found, true);
  const missing = canLoadSharedLibrary('libgooglenet-does-not-exist.so.1');
  assert.equal(missing.found, false);
  assert.match(missing.error!, /cannot open shared object file/);
  const deps = missingGpuLibraries((s) => (s === 'libcusolver.so.11' ? { found: false, error: 'libnvJitLink.so.12: cannot open shared object file: No such file or directory' } : { found: true }));
  assert.deepEqual(deps, [{ soname: 'libnvJitLink.so.12', neededBy: 'libcusolver.so.11' }]);
  assert.equal(TF_GPU_LIBRARIES.length, 9);
  assert.equal(describeMissingGpuLibraries([]), '');
});
