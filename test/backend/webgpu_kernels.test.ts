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
import { createAdam } from '../../src/train/adam';
import { ADAM_STEP } from '../../src/backend/wasm/adam';
import { RELU_GRAD_BIAS_SUM } from '../../src/backend/webgpu/relu_grad';
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
const cpuResults = new Map<string, Grads>();

interface Grads {
  dW: Float32Array;
  dx: Float32Array;
  /** FusedConv2D with bias and ReLU, and Conv2D. */
  yFused: Float32Array;
  yPlain: Float32Array;
}

function attrsFor(c: ConvCase) {
  return { strides: [c.stride, c.stride], pad: c.pad, dataFormat: 'NHWC', dimRoundingMode: undefined };
}

async function gradients(c: ConvCase, o: Operands): Promise<Grads> {
  const x = tf.tensor4d(o.x, c.x);
  const dy = tf.tensor4d(o.dy, o.dyShape);
  const w = tf.tensor4d(o.w, [c.k, c.k, c.x[3], c.co]);
  const bias = tf.tensor1d(o.w.slice(0, c.co));
  const conv = { ...attrsFor(c), dilations: 1 };
  const run = (name: string, inputs: tf.NamedTensorMap, attrs: object) => tf.engine().runKernel(name, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
  const ts = [
    run('Conv2DBackpropFilter', { x, dy }, { ...conv, filterShape: [c.k, c.k, c.x[3], c.co] }),
    run('Conv2DBackpropInput', { dy, filter: w }, { ...conv, inputShape: c.x }),
    run('FusedConv2D', { x, filter: w, bias }, { ...conv, activation: 'relu' }),
    run('Conv2D', { x, filter: w }, conv),
  ];
  const [dW, dx, yFused, yPlain] = (await Promise.all(ts.map((t) => t.data()))) as Float32Array[];
  tf.dispose([x, dy, w, bias, ...ts]);
  return { dW, dx, yFused, yPlain };
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
  test(`Conv2DBackpropFilter, Conv2DBackpropInput, FusedConv2D (bias + ReLU), Conv2D, ${c.name}: webgpu matches cpu within 1e-3`, async () => {
    const got = await gradients(c, operands.get(c.name)!);
    const want = cpuResults.get(c.name)!;
    for (const k of ['dW', 'dx', 'yFused', 'yPlain'] as const) {
      const e = relError(got[k], want[k]);
      assert.ok(e < 1e-3, `${k}: relative error ${e}`);
    }
    assert.ok(want.yFused.some((v) => v === 0) && want.yFused.some((v) => v > 0), 'the ReLU cuts some outputs');
  });
}

const MATMULS: { a: number[]; b: number[]; tA: boolean; tB: boolean }[] = [
  { a: [4, 4], b: [4, 70], tA: false, tB: false }, // thin (the aux heads' adaptive pooling): tfjs's kernel
  { a: [20, 4], b: [4, 70], tA: false, tB: false },
  { a: [20, 130], b: [18, 130], tA: false, tB: true }, // a dense layer: x W^T
  { a: [20, 130], b: [20, 18], tA: true, tB: false }, // its weight gradient: x^T dy (reduction over the batch)
  { a: [3, 19, 17], b: [3, 17, 66], tA: false, tB: false }, // batched
  { a: [3, 17, 19], b: [1, 66, 17], tA: true, tB: true }, // batched, B shared
];

test('BatchMatMul (transposes, batches, a shared operand): webgpu matches cpu within 1e-3', async () => {
  const rng = new Rng(8);
  const data = MATMULS.map((m) => [randoms(m.a.reduce((p, q) => p * q, 1), rng), randoms(m.b.reduce((p, q) => p * q, 1), rng)]);
  const results: Float32Array[][] = [];
  for (const b of ['cpu', 'webgpu']) {
    await tf.setBackend(b);
    const out: Float32Array[] = [];
    for (const [i, m] of MATMULS.entries()) {
      const t = tf.tidy(() => tf.matMul(tf.tensor(data[i][0], m.a), tf.tensor(data[i][1], m.b), m.tA, m.tB));
      out.push((await t.data()) as Float32Array);
      t.dispose();
    }
    results.push(out);
  }
  for (const [i, m] of MATMULS.entries()) {
    const e = relError(results[1][i], results[0][i]);
    assert.ok(e < 1e-3, `${JSON.stringify(m)}: relative error ${e}`);
  }
});

test('ReluGradBiasSum on webgpu: g = dy where y > 0, db = its sum over n, h, w; as cpu within 1e-3 (odd rows, 70 channels)', async () => {
  const rng = new Rng(9);
  const shape = [3, 7, 5, 70];
  const n = shape.reduce((p, q) => p * q, 1);
  const dys = randoms(n, rng);
  const ys = randoms(n, rng).map((v, i) => (i % 11 === 0 ? 0 : v)); // exact zeros: masked, as tfjs's step(0) = 0
  const [g, db] = tf.engine().runKernel(RELU_GRAD_BIAS_SUM, { dy: tf.tensor(dys, shape), y: tf.tensor(ys, shape) }, {}) as unknown as tf.Tensor[];
  const got = [(await g.data()) as Float32Array, (await db.data()) as Float32Array];
  tf.dispose([g, db]);
  await tf.setBackend('cpu');
  const want = tf.tidy(() => {
    const gg = tf.mul(tf.tensor(dys, shape), tf.step(tf.tensor(ys, shape)));
    return [gg.dataSync() as Float32Array, tf.sum(gg, [0, 1, 2]).dataSync() as Float32Array];
  });
  await tf.setBackend('webgpu');
  const differ = want[0].filter((v, i) => v !== got[0][i]).length; // === : cpu's dy * 0 is -0 where dy < 0
  assert.equal(differ, 0, 'g is dy or 0, exactly');
  assert.ok(relError(got[1], want[1]) < 1e-3, `db: relative error ${relError(got[1], want[1])}`);
});

/** Three Adam steps on two variables (sizes not multiples of the workgroup), gradients g_t = sin(t + i). */
async function adamSteps(fused: boolean): Promise<Float32Array[]> {
  const rng = new Rng(4);
  const vars = [tf.variable(tf.tensor1d(randoms(1000, rng)), true, 'adam_a'), tf.variable(tf.tensor2d(randoms(3 * 7, rng), [3, 7]), true, 'adam_b')];
  const opt = fused ? createAdam(0.01) : tf.train.adam(0.01, 0.9, 0.999, 1e-8);
  for (let t = 0; t < 3; t++) {
    const grads = vars.map((v) => ({ name: v.name, tensor: tf.tidy(() => tf.sin(tf.add(tf.linspace(0, 5, v.size).reshape(v.shape), t))) }));
    opt.applyGradients(grads);
    tf.dispose(grads.map((g) => g.tensor));
  }
  const out = await Promise.all(vars.map(async (v) => (await v.data()) as Float32Array));
  opt.dispose();
  tf.dispose(vars);
  return out;
}

test('AdamStep on webgpu (three passes) gives tfjs\'s Adam on cpu within 1e-5 after three steps', async () => {
  assert.ok(tf.getKernel(ADAM_STEP, 'webgpu'), 'AdamStep is registered for webgpu');
  const gpu = await adamSteps(true);
  await tf.setBackend('cpu');
  assert.equal(tf.getKernel(ADAM_STEP, 'cpu'), undefined, 'cpu has no AdamStep: FusedAdam runs tfjs\'s AdamOptimizer there');
  const cpu = await adamSteps(false);
  await tf.setBackend('webgpu');
  for (let i = 0; i < cpu.length; i++) {
    let diff = 0;
    for (let j = 0; j < cpu[i].length; j++) diff = Math.max(diff, Math.abs(gpu[i][j] - cpu[i][j]));
    assert.ok(diff < 1e-5, `variable ${i}: max |diff| ${diff}`);
  }
});

test('stockKernels: true restores tfjs\'s shipped webgpu kernels, and the default brings ours back', async () => {
  const ours = new Map(WEBGPU_KERNELS);
  const stock = await initBackend('webgpu', { stockKernels: true });
  assert.equal(stock.kernels, 'stock');
  for (const [name, func] of ours) {
    const k = tf.getKernel(name, 'webgpu');
    if (name === ADAM_STEP || name === RELU_GRAD_BIAS_SUM) assert.equal(k, undefined, `no ${name}: the library composes tfjs's kernels`);
    else assert.notEqual(k?.kernelFunc ?? func, func, `${name} is tfjs's`);
  }
  // tfjs's own kernels still give the same answer (the comparison the bench makes is like for like).
  const c = CASES[2];
  const got = await gradients(c, operands.get(c.name)!);
  assert.ok(relError(got.dW, cpuResults.get(c.name)!.dW) < 1e-3);
  const project = await initBackend('webgpu');
  assert.equal(project.kernels, 'project');
  for (const [name, func] of ours) assert.equal(tf.getKernel(name, 'webgpu')?.kernelFunc, func, name);
});

test('GPU memory is flat over 100 training steps of a small conv net on the project kernels (tensors, bytes in use, pool)', async () => {
  // conv 3x3 + bias + ReLU (FusedConv2D and its gradient: both conv gradients, the bias sum), a
  // 1x1 conv, max pooling, a dense layer (BatchMatMul both ways), softmax cross-entropy, FusedAdam.
  const rng = new Rng(21);
  const w1 = tf.variable(tf.tensor4d(randoms(3 * 3 * 4 * 8, rng), [3, 3, 4, 8]).mul(0.3), true, 'mem_w1');
  const b1 = tf.variable(tf.zeros([8]), true, 'mem_b1');
  const w2 = tf.variable(tf.tensor4d(randoms(8 * 8, rng), [1, 1, 8, 8]).mul(0.3), true, 'mem_w2');
  const b2 = tf.variable(tf.zeros([8]), true, 'mem_b2');
  const wd = tf.variable(tf.tensor2d(randoms(4 * 4 * 8 * 3, rng), [4 * 4 * 8, 3]).mul(0.1), true, 'mem_wd');
  const vars = [w1, b1, w2, b2, wd];
  const x = tf.tensor4d(randoms(4 * 8 * 8 * 4, rng), [4, 8, 8, 4]);
  const labels = tf.oneHot(tf.tensor1d([0, 1, 2, 1], 'int32'), 3);
  const opt = createAdam(1e-3);
  const conv = (inp: tf.Tensor4D, w: tf.Variable, b: tf.Variable, pad: number) =>
    tf.engine().runKernel('FusedConv2D', { x: inp, filter: w, bias: b }, { strides: 1, pad, dataFormat: 'NHWC', dilations: 1, activation: 'relu' } as unknown as tf.NamedAttrMap) as tf.Tensor4D;
  const { registerFusedConvGradient } = await import('../../src/model/nn/fused_conv_grad');
  registerFusedConvGradient();
  const mem = () => tf.memory() as tf.MemoryInfo & { numBytesInGPU: number; numBytesAllocatedInGPU: number };
  const samples: { step: number; tensors: number; inUse: number; allocated: number }[] = [];
  const losses: number[] = [];
  for (let step = 1; step <= 100; step++) {
    const loss = opt.minimize(() => {
      const h = tf.maxPool(conv(conv(x, w1, b1, 1), w2, b2, 0), 2, 2, 'valid');
      return tf.losses.softmaxCrossEntropy(labels, tf.matMul(h.reshape([4, -1]), wd)) as tf.Scalar;
    }, true, vars)!;
    losses.push((await loss.data())[0]);
    loss.dispose();
    if (step === 10 || step === 100) {
      const m = mem();
      samples.push({ step, tensors: m.numTensors, inUse: m.numBytesInGPU, allocated: m.numBytesAllocatedInGPU });
    }
  }
  const [a, b] = samples;
  assert.equal(b.tensors, a.tensors, `tensors ${a.tensors} after step 10, ${b.tensors} after 100`);
  assert.equal(b.inUse, a.inUse, `bytes in use ${a.inUse} -> ${b.inUse}`);
  assert.equal(b.allocated, a.allocated, `buffer pool ${a.allocated} -> ${b.allocated} bytes`);
  assert.ok(losses[99] < losses[0], `the net learns: loss ${losses[0]} -> ${losses[99]}`);
  opt.dispose();
  tf.dispose([...vars, x, labels]);
});
