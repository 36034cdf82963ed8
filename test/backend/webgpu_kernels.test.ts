/**
 * The project's own webgpu training kernels (src/backend/webgpu/) against tfjs's cpu backend, on
 * whatever adapter Dawn gives (Mesa's lavapipe in CI): every kernel over GoogLeNet's convolution shapes
 * at sizes lavapipe runs in seconds (1x1, 3x3, 5x5, 7x7 stride 2 on 3 channels, stride 2 with 'same'
 * padding, odd map sizes, batch 1 and 32, split-K reductions, tiles cut by the matrix edges).
 *
 * Error measure: max |webgpu - cpu| over max |cpu|, below 1e-3. Both compute in float32 (cpu sums in
 * float64 and rounds once); the reductions here have at most ~4,000 terms, so rounding gives ~1e-6, while a
 * wrong index (padding side, stride, transposed filter, a missing split) gives errors of order 1.
 *
 * GOOGLENET_STOCK_KERNELS's library side is checked too: initBackend('webgpu', { stockKernels: true })
 * puts tfjs's shipped kernels back, and without it ours are registered.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '../../src/tf';
import { initBackend, releaseBackends } from '../../src/backend/select';
import { WEBGPU_KERNELS } from '../../src/backend/webgpu/kernels';
import { chooseSplits } from '../../src/backend/webgpu/gemm';
import { Rng } from '../../src/util/rng';

type Pad = number | 'same' | 'valid';
interface ConvCase {
  name: string;
  x: [number, number, number, number];
  k: number;
  co: number;
  stride: number;
  pad: Pad;
}

const CASES: ConvCase[] = [
  { name: '1x1', x: [2, 7, 7, 24], k: 1, co: 16, stride: 1, pad: 0 },
  { name: '1x1 wide (2 x 2 tiles)', x: [1, 9, 9, 70], k: 1, co: 96, stride: 1, pad: 0 },
  { name: '3x3 pad 1', x: [1, 9, 9, 16], k: 3, co: 24, stride: 1, pad: 1 },
  { name: '5x5 pad 2', x: [2, 7, 7, 8], k: 5, co: 12, stride: 1, pad: 2 },
  { name: '7x7 stride 2 on 3 channels (conv1), odd map', x: [2, 17, 17, 3], k: 7, co: 16, stride: 2, pad: 3 },
  { name: '3x3 stride 2 pad 1', x: [1, 10, 10, 8], k: 3, co: 8, stride: 2, pad: 1 },
  { name: "3x3 stride 2 'same' (asymmetric padding), odd map", x: [1, 9, 8, 5], k: 3, co: 4, stride: 2, pad: 'same' },
  { name: 'batch 32, 3x3, split-K', x: [32, 9, 9, 8], k: 3, co: 16, stride: 1, pad: 1 },
  { name: 'batch 4, 32 px, 3x3, split-K over 4 chunks', x: [4, 32, 32, 4], k: 3, co: 8, stride: 1, pad: 1 },
];

function randoms(n: number, rng: Rng): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.uniform(-1, 1);
  return a;
}

interface Operands {
  x: Float32Array;
  w: Float32Array;
  dy: Float32Array;
  dyShape: [number, number, number, number];
}

const operands = new Map<string, Operands>();
const cpuResults = new Map<string, { dW: Float32Array; dx: Float32Array }>();

function attrsFor(c: ConvCase) {
  return { strides: [c.stride, c.stride], pad: c.pad, dataFormat: 'NHWC', dimRoundingMode: undefined };
}

async function gradients(c: ConvCase, o: Operands): Promise<{ dW: Float32Array; dx: Float32Array }> {
  const x = tf.tensor4d(o.x, c.x);
  const dy = tf.tensor4d(o.dy, o.dyShape);
  const w = tf.tensor4d(o.w, [c.k, c.k, c.x[3], c.co]);
  const dW = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { ...attrsFor(c), filterShape: [c.k, c.k, c.x[3], c.co] } as unknown as tf.NamedAttrMap) as tf.Tensor;
  const dx = tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: w }, { ...attrsFor(c), inputShape: c.x } as unknown as tf.NamedAttrMap) as tf.Tensor;
  const out = { dW: (await dW.data()) as Float32Array, dx: (await dx.data()) as Float32Array };
  tf.dispose([x, dy, w, dW, dx]);
  return out;
}

function relError(got: Float32Array, want: Float32Array): number {
  assert.equal(got.length, want.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    diff = Math.max(diff, Math.abs(got[i] - want[i]));
    scale = Math.max(scale, Math.abs(want[i]));
  }
  return diff / scale;
}

before(async () => {
  await initBackend('cpu');
  const rng = new Rng(12);
  for (const c of CASES) {
    const x = randoms(c.x.reduce((a, b) => a * b, 1), rng);
    const w = randoms(c.k * c.k * c.x[3] * c.co, rng);
    const dyShape = tf.tidy(() => tf.conv2d(tf.zeros(c.x) as tf.Tensor4D, tf.zeros([c.k, c.k, c.x[3], c.co]) as tf.Tensor4D, c.stride, c.pad).shape);
    const dy = randoms(dyShape.reduce((a, b) => a * b, 1), rng);
    const o = { x, w, dy, dyShape };
    operands.set(c.name, o);
    cpuResults.set(c.name, await gradients(c, o));
  }
  await initBackend('webgpu'); // throws with the reason where webgpu cannot start
});

after(() => releaseBackends());

test('the cases cover split-K (more than one chunk) and single-chunk filter gradients', () => {
  const splits = CASES.map((c) => {
    const o = operands.get(c.name)!;
    return chooseSplits(c.k * c.k * c.x[3], c.co, o.dyShape[0] * o.dyShape[1] * o.dyShape[2]);
  });
  assert.ok(splits.some((s) => s === 1) && splits.some((s) => s >= 4), `splits ${splits}`);
});

test('the project kernels are the ones registered for webgpu', () => {
  for (const [name, func] of WEBGPU_KERNELS) assert.equal(tf.getKernel(name, 'webgpu')?.kernelFunc, func, name);
});

for (const c of CASES) {
  test(`Conv2DBackpropFilter and Conv2DBackpropInput, ${c.name}: webgpu matches cpu within 1e-3`, async () => {
    const got = await gradients(c, operands.get(c.name)!);
    const want = cpuResults.get(c.name)!;
    const eW = relError(got.dW, want.dW);
    const eX = relError(got.dx, want.dx);
    assert.ok(eW < 1e-3, `filter gradient: relative error ${eW}`);
    assert.ok(eX < 1e-3, `input gradient: relative error ${eX}`);
  });
}

test('stockKernels: true restores tfjs\'s shipped webgpu kernels, and the default brings ours back', async () => {
  const ours = new Map(WEBGPU_KERNELS);
  const stock = await initBackend('webgpu', { stockKernels: true });
  assert.equal(stock.kernels, 'stock');
  for (const [name, func] of ours) {
    const k = tf.getKernel(name, 'webgpu');
    assert.ok(k, `${name} registered`);
    assert.notEqual(k.kernelFunc, func, `${name} is tfjs's`);
  }
  // tfjs's own kernels still give the same answer (the comparison the bench makes is like for like).
  const c = CASES[2];
  const got = await gradients(c, operands.get(c.name)!);
  assert.ok(relError(got.dW, cpuResults.get(c.name)!.dW) < 1e-3);
  const project = await initBackend('webgpu');
  assert.equal(project.kernels, 'project');
  for (const [name, func] of ours) assert.equal(tf.getKernel(name, 'webgpu')?.kernelFunc, func, name);
});
