/**
 * The wasm training kernels (src/backend/wasm_kernels.ts) against the cpu backend: conv gradients for
 * every kernel size, stride and padding GoogLeNet uses, the ceil-mode max-pool gradient, the dense-layer
 * products, slices, a whole GoogLeNet training step (loss and every parameter gradient), and a leak
 * check over 20 Adam steps (tensors, backend buffers and the wasm heap stay flat).
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '../../src/tf';
import '@tensorflow/tfjs-backend-cpu';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { initBackend } from '../../src/backend/select';
import { registerWasmTrainingKernels } from '../../src/backend/wasm_kernels';
import { cachedPackings } from '../../src/backend/wasm/packed_cache';
import { setWinograd, winogradTile } from '../../src/backend/wasm/conv';
import { createGoogLeNet, GoogLeNet } from '../../src/model/googlenet';
import { adaptiveAvgPool2d, maxPool2d } from '../../src/model/nn/pool';
import { BatchNorm2d } from '../../src/model/nn/batch_norm2d';
import { Linear } from '../../src/model/nn/linear';
import { applyBatchNormUpdates, type BatchNormUpdate } from '../../src/model/module';
import { Rng } from '../../src/util/rng';

before(async () => {
  await initBackend('wasm');
});

function randn(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.uniform(-1, 1) + rng.uniform(-1, 1);
  return a;
}

/** max |a - b| / max |b| */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'sizes differ');
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return scale === 0 ? diff : diff / scale;
}

/** Run f on the cpu backend and on wasm; f returns plain arrays (and disposes its tensors). */
async function onBoth<T>(f: () => T): Promise<{ cpu: T; wasm: T }> {
  await tf.setBackend('cpu');
  const cpu = f();
  await tf.setBackend('wasm');
  const wasm = f();
  return { cpu, wasm };
}

function assertClose(name: string, wasm: ArrayLike<number>, cpu: ArrayLike<number>, tol = 1e-3): void {
  const e = relErr(wasm, cpu);
  assert.ok(e < tol, `${name}: relative error ${e.toExponential(2)} >= ${tol}`);
}

function read(t: tf.Tensor): Float32Array {
  const v = t.dataSync() as Float32Array;
  t.dispose();
  return Float32Array.from(v);
}

type Pad = number | 'same' | 'valid';
interface ConvCase {
  n: number;
  h: number;
  w: number;
  ci: number;
  co: number;
  k: number;
  s: number;
  p: Pad;
  what: string;
}

const CONV_CASES: ConvCase[] = [
  { n: 2, h: 7, w: 7, ci: 8, co: 12, k: 1, s: 1, p: 0, what: '1x1, odd size, batch 2 (fewer in than out channels)' },
  { n: 1, h: 8, w: 8, ci: 12, co: 5, k: 1, s: 1, p: 0, what: '1x1, even size, batch 1 (more in than out channels)' },
  { n: 6, h: 30, w: 30, ci: 7, co: 9, k: 1, s: 1, p: 0, what: '1x1, sum split over image chunks' },
  { n: 2, h: 9, w: 9, ci: 5, co: 7, k: 3, s: 1, p: 1, what: '3x3 pad 1, odd size, batch 2' },
  { n: 1, h: 8, w: 8, ci: 6, co: 4, k: 3, s: 1, p: 1, what: '3x3 pad 1, even size, batch 1' },
  { n: 5, h: 32, w: 32, ci: 8, co: 8, k: 3, s: 1, p: 1, what: '3x3 pad 1, sum split over image chunks' },
  { n: 2, h: 7, w: 7, ci: 4, co: 6, k: 5, s: 1, p: 2, what: '5x5 pad 2, odd size, batch 2' },
  { n: 1, h: 6, w: 6, ci: 3, co: 5, k: 5, s: 1, p: 2, what: '5x5 pad 2, even size, batch 1' },
  { n: 2, h: 16, w: 16, ci: 3, co: 8, k: 7, s: 2, p: 3, what: '7x7/2 pad 3 (conv1), even size, batch 2' },
  { n: 1, h: 15, w: 15, ci: 3, co: 8, k: 7, s: 2, p: 3, what: '7x7/2 pad 3 (conv1), odd size, batch 1' },
  { n: 2, h: 8, w: 8, ci: 4, co: 6, k: 3, s: 2, p: 0, what: '3x3/2 valid' },
  { n: 1, h: 9, w: 9, ci: 3, co: 4, k: 3, s: 2, p: 1, what: '3x3/2 pad 1' },
  { n: 2, h: 9, w: 9, ci: 3, co: 5, k: 4, s: 1, p: 'same', what: '4x4 same (asymmetric padding)' },
  // Maps of GoogLeNet's sizes (28x28 at 112 px), over several chunks of the im2col sum.
  { n: 9, h: 30, w: 30, ci: 5, co: 6, k: 3, s: 1, p: 1, what: '3x3 pad 1 on 30x30, batch 9' },
  { n: 3, h: 28, w: 28, ci: 4, co: 5, k: 5, s: 1, p: 2, what: '5x5 pad 2 on 28x28' },
  { n: 2, h: 30, w: 30, ci: 3, co: 5, k: 4, s: 1, p: 'same', what: '4x4 same on 30x30 (asymmetric padding)' },
  { n: 2, h: 30, w: 30, ci: 3, co: 4, k: 3, s: 1, p: 'valid', what: '3x3 valid on 30x30' },
];

function outSize(size: number, k: number, s: number, p: Pad): number {
  if (p === 'same') return Math.ceil(size / s);
  if (p === 'valid') return Math.floor((size - k) / s) + 1;
  return Math.floor((size + 2 * p - k) / s) + 1;
}

for (const c of CONV_CASES) {
  test(`Conv2DBackpropFilter and Conv2DBackpropInput match cpu: ${c.what}`, async () => {
    const oh = outSize(c.h, c.k, c.s, c.p);
    const ow = outSize(c.w, c.k, c.s, c.p);
    const xs = randn(c.n * c.h * c.w * c.ci, 1);
    const ws = randn(c.k * c.k * c.ci * c.co, 2);
    const dys = randn(c.n * oh * ow * c.co, 3);
    const r = await onBoth(() => {
      const x = tf.tensor4d(xs, [c.n, c.h, c.w, c.ci]);
      const f = tf.tensor4d(ws, [c.k, c.k, c.ci, c.co]);
      const dy = tf.tensor4d(dys, [c.n, oh, ow, c.co]);
      const common = { strides: c.s, pad: c.p, dataFormat: 'NHWC' };
      const dw = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { ...common, filterShape: [c.k, c.k, c.ci, c.co] }) as tf.Tensor;
      const dx = tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: f }, { ...common, inputShape: [c.n, c.h, c.w, c.ci] }) as tf.Tensor;
      assert.deepEqual(dw.shape, [c.k, c.k, c.ci, c.co]);
      assert.deepEqual(dx.shape, [c.n, c.h, c.w, c.ci]);
      tf.dispose([x, f, dy]);
      return [read(dw), read(dx)];
    });
    assertClose('dW', r.wasm[0], r.cpu[0]);
    assertClose('dX', r.wasm[1], r.cpu[1]);
  });
}

test('tf.grads of a biased conv + ReLU (the training path of BasicConv2d) match cpu', async () => {
  const [n, h, ci, co] = [2, 9, 6, 10];
  const xs = randn(n * h * h * ci, 4);
  const ws = randn(9 * ci * co, 5);
  const bs = randn(co, 6);
  const r = await onBoth(() => {
    const x = tf.tensor4d(xs, [n, h, h, ci]);
    const w = tf.tensor4d(ws, [3, 3, ci, co]);
    const b = tf.tensor1d(bs);
    const g = tf.grads((a: tf.Tensor, f: tf.Tensor, bias: tf.Tensor) =>
      tf.fused.conv2d({ x: a as tf.Tensor4D, filter: f as tf.Tensor4D, bias, strides: 1, pad: 1, activation: 'relu' }).square().sum(),
    );
    const out = g([x, w, b]).map(read);
    tf.dispose([x, w, b]);
    return out;
  });
  ['dx', 'dW', 'db'].forEach((name, i) => assertClose(name, r.wasm[i], r.cpu[i]));
});

test('inference convolutions on the SIMD tile keep each filter packed until it changes (assign) or is freed', async () => {
  const [n, h, ci, co] = [2, 9, 3, 16];
  const xs = randn(n * h * h * ci, 7);
  const ws = [randn(7 * 7 * ci * co, 8), randn(7 * 7 * ci * co, 9)];
  const bs = randn(co, 10);
  const conv = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) =>
    read(tf.fused.conv2d({ x: x as tf.Tensor4D, filter: w as tf.Tensor4D, bias: b, strides: 2, pad: 3, activation: 'relu' }));
  const r = await onBoth(() => {
    const backend = tf.backend() as unknown as BackendWasm;
    const packings = () => (tf.getBackend() === 'wasm' ? cachedPackings(backend) : 0);
    const x = tf.tensor4d(xs, [n, h, h, ci]);
    const b = tf.tensor1d(bs);
    const w0 = tf.tensor4d(ws[0], [7, 7, ci, co]);
    const w = tf.variable(w0);
    w0.dispose(); // the variable holds the data now
    const start = packings();
    const first = conv(x, w, b);
    const again = conv(x, w, b);
    const cached = packings() - start;
    const w1 = tf.tensor4d(ws[1], [7, 7, ci, co]);
    w.assign(w1); // the old value's data is freed, and its packing with it
    w1.dispose();
    const assigned = conv(x, w, b);
    const afterAssign = packings() - start;
    w.dispose();
    const afterDispose = packings() - start;
    tf.dispose([x, b]);
    return { first, again, assigned, counts: [cached, afterAssign, afterDispose] };
  });
  assert.deepEqual(r.wasm.counts, [1, 1, 0], 'packed copies kept: after two calls, after assign, after dispose');
  assert.deepEqual(r.wasm.again, r.wasm.first);
  assertClose('conv with the first filter', r.wasm.first, r.cpu.first);
  assertClose('conv with the assigned filter', r.wasm.assigned, r.cpu.assigned);
});

// GoogLeNet's 3x3 convolutions at 112 and 224 px: conv2 (28x28), 3b (14x14), 4e (7x7, tiles over the
// edge), a 6x6 map (2x2 tiles cover it exactly, so F(2x2, 3x3)), 5b at 112 px (3x3: F(4x4, 3x3) uses 9
// of its 16 outputs), a 4x4 map with 12 input channels (the 4x4 tiles cover it exactly; fewer channels
// than a 4x8 tile's rows x 4; its input gradient, with 12 output channels, is not on the SIMD path). tile: m of the forward pass's and input gradient's F(m x m, 3x3) and of
// the filter gradient's F(3x3, m x m) (winogradTile).
// And the 5x5 ones (k: 5, pad 2) by F(2x2, 5x5) and F(5x5, 2x2): inception3b's branch3 (14x14), 4e's
// (7x7), 5b's at 112 px (3x3), and a 1x1 map, where the 2x2 tiles would cost more than the direct sum.
// trainTile: the tile where the filter's transform is made per call (training's forward pass, and every
// input gradient); a 3x3 map's one 4x4 tile per image does not pay for it.
const WINOGRAD_CASES: { n: number; h: number; ci: number; co: number; k?: 3 | 5; tile: 0 | 2 | 4; gradTile?: 0 | 2 | 4; trainTile?: 0 | 2 | 4; what: string }[] = [
  { n: 2, h: 28, ci: 64, co: 192, tile: 4, what: 'conv2 64 -> 192 on 28x28' },
  { n: 2, h: 14, ci: 128, co: 192, tile: 4, what: 'inception3b 128 -> 192 on 14x14' },
  { n: 3, h: 7, ci: 160, co: 320, tile: 4, what: 'inception4e 160 -> 320 on 7x7' },
  { n: 2, h: 6, ci: 96, co: 128, tile: 2, what: '96 -> 128 on 6x6 (2x2 tiles cover it exactly)' },
  { n: 2, h: 3, ci: 192, co: 384, tile: 4, trainTile: 0, what: 'inception5b 192 -> 384 on 3x3 (direct where the transform is per call)' },
  { n: 3, h: 4, ci: 12, co: 16, tile: 4, what: '12 -> 16 on 4x4' },
  { n: 2, h: 14, ci: 32, co: 96, k: 5, tile: 2, what: '5x5 inception3b branch3 32 -> 96 on 14x14' },
  { n: 3, h: 7, ci: 32, co: 128, k: 5, tile: 2, what: '5x5 inception4e branch3 32 -> 128 on 7x7' },
  { n: 2, h: 3, ci: 48, co: 128, k: 5, tile: 2, gradTile: 0, what: '5x5 inception5b branch3 48 -> 128 on 3x3 (its filter gradient direct)' },
  { n: 2, h: 1, ci: 16, co: 32, k: 5, tile: 0, what: '5x5 16 -> 32 on 1x1 (direct)' },
];

for (const c of WINOGRAD_CASES) {
  const k = c.k ?? 3;
  const pad = (k - 1) / 2;
  test(`${k}x${k} convolutions by Winograd (F(4x4, 3x3), F(2x2, 3x3) or F(2x2, 5x5): forward with bias + ReLU, input gradient, inference with the kept transform; F(3x3, 4x4), F(3x3, 2x2) or F(5x5, 2x2): filter gradient) match cpu: ${c.what}`, async () => {
    const info = tf.backend_util.computeConv2DInfo([c.n, c.h, c.h, c.ci], [k, k, c.ci, c.co], 1, 1, pad);
    assert.equal(winogradTile(info), c.tile, 'tile');
    const gradTile = c.gradTile ?? c.tile;
    assert.equal(winogradTile(info, true), gradTile, 'filter gradient tile');
    const trainTile = c.trainTile ?? c.tile;
    assert.equal(winogradTile(info, false, true), trainTile, 'tile with the transform per call');
    const xs = randn(c.n * c.h * c.h * c.ci, 11);
    const ws = randn(k * k * c.ci * c.co, 12).map((v) => v / Math.sqrt(k * k * c.ci));
    const bs = randn(c.co, 13);
    const dys = randn(c.n * c.h * c.h * c.co, 14);
    const run = () => {
      const x = tf.tensor4d(xs, [c.n, c.h, c.h, c.ci]);
      const f = tf.tensor4d(ws, [k, k, c.ci, c.co]);
      const b = tf.tensor1d(bs);
      const dy = tf.tensor4d(dys, [c.n, c.h, c.h, c.co]);
      // Forward as in training (a tape records: the transform is made per call) and in inference (kept).
      const training = tf.grad((a: tf.Tensor) => tf.fused.conv2d({ x: a as tf.Tensor4D, filter: f, bias: b, strides: 1, pad, activation: 'linear' }).mul(dy).sum());
      const dx = read(training(x));
      const y = read(tf.fused.conv2d({ x, filter: f, bias: b, strides: 1, pad, activation: 'relu' }));
      const again = read(tf.fused.conv2d({ x, filter: f, bias: b, strides: 1, pad, activation: 'relu' }));
      const dxKernel = read(tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: f }, { strides: 1, pad, dataFormat: 'NHWC', inputShape: [c.n, c.h, c.h, c.ci] }) as tf.Tensor);
      const dw = read(tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: 1, pad, dataFormat: 'NHWC', filterShape: [k, k, c.ci, c.co] }) as tf.Tensor);
      tf.dispose([x, f, b, dy]);
      return { y, again, dx, dxKernel, dw };
    };
    const r = await onBoth(run);
    setWinograd(false);
    let direct: ReturnType<typeof run>;
    try {
      direct = run();
    } finally {
      setWinograd(true);
    }
    assertClose('y', r.wasm.y, r.cpu.y);
    assert.deepEqual(r.wasm.again, r.wasm.y, 'inference with the kept transform gives the same y');
    assertClose('dx (tf.grad)', r.wasm.dx, r.cpu.dx);
    assertClose('dx (Conv2DBackpropInput)', r.wasm.dxKernel, r.cpu.dxKernel);
    assertClose('dW (Conv2DBackpropFilter)', r.wasm.dw, r.cpu.dw);
    // Which path ran: Winograd rounds differently from the direct product, so its results differ from
    // the direct path's in the last bits; where it does not apply they are the same.
    const same = (a: Float32Array, b: Float32Array) => a.every((v, i) => v === b[i]);
    assert.equal(same(r.wasm.y, direct.y), !c.tile, `forward ${c.tile ? 'differs from' : 'equals'} the direct GEMM's`);
    // The input gradient is a convolution with ci output channels: SIMD (and Winograd) only for ci % 8 == 0.
    const dxTile = trainTile && c.ci % 8 === 0;
    assert.equal(same(r.wasm.dxKernel, direct.dxKernel), !dxTile, `input gradient ${dxTile ? 'differs from' : 'equals'} the direct GEMM's`);
    assert.equal(same(r.wasm.dw, direct.dw), !gradTile, `filter gradient ${gradTile ? 'differs from' : 'equals'} the direct GEMM's`);
  });
}

const POOL_CASES: { h: number; k: number; s: number; p: number; what: string }[] = [
  { h: 7, k: 3, s: 2, p: 0, what: '3x3/2 ceil, odd size (last window hangs over)' },
  { h: 8, k: 3, s: 2, p: 0, what: '3x3/2 ceil, even size' },
  { h: 14, k: 3, s: 2, p: 0, what: '3x3/2 ceil, 14 -> 7' },
  { h: 7, k: 3, s: 1, p: 1, what: '3x3/1 pad 1 (inception branch4)' },
  { h: 7, k: 2, s: 2, p: 0, what: '2x2/2 ceil (torchvision maxpool4)' },
];

for (const c of POOL_CASES) {
  for (const relu of [false, true]) {
    test(`max-pool gradient (ceil mode) matches cpu: ${c.what}${relu ? ', ReLU input with tied zeros' : ''}`, async () => {
      const [n, ch] = [2, 5];
      const xs = randn(n * c.h * c.h * ch, 7);
      if (relu) for (let i = 0; i < xs.length; i++) xs[i] = Math.max(0, xs[i] - 0.8);
      const probe = maxPool2d(tf.zeros([n, c.h, c.h, ch]) as tf.Tensor4D, { kernelSize: c.k, stride: c.s, padding: c.p, ceilMode: true });
      const outShape = probe.shape;
      probe.dispose();
      const rs = randn(outShape.reduce((a, b) => a * b, 1), 8);
      const r = await onBoth(() => {
        const x = tf.tensor4d(xs, [n, c.h, c.h, ch]);
        const weights = tf.tensor(rs, outShape);
        const g = tf.grad((t: tf.Tensor) => maxPool2d(t as tf.Tensor4D, { kernelSize: c.k, stride: c.s, padding: c.p, ceilMode: true }).mul(weights).sum());
        const out = [read(maxPool2d(x, { kernelSize: c.k, stride: c.s, padding: c.p, ceilMode: true })), read(g(x))];
        tf.dispose([x, weights]);
        return out;
      });
      assertClose('forward', r.wasm[0], r.cpu[0], 1e-6);
      assertClose('gradient', r.wasm[1], r.cpu[1]);
    });
  }
}

// nn.AdaptiveAvgPool2d: on wasm its own kernels (AdaptiveAvgPool, AdaptiveAvgPoolGrad), on cpu a
// matrix product between transposes. 7 -> 4 (the aux heads at 112 px: windows of 2 and 3 that
// overlap), 14 -> 4 (torchvision's variant at 224), 6x5 -> 4x3; 13 channels leave a tail of 1.
for (const [n, h, w, c, oh, ow] of [[2, 7, 7, 13, 4, 4], [3, 14, 14, 8, 4, 4], [2, 6, 5, 4, 4, 3]]) {
  test(`adaptive average pooling ${h}x${w} -> ${oh}x${ow} and its gradient match cpu (${c} channels)`, async () => {
    assert.ok(tf.getKernel('AdaptiveAvgPool', 'wasm') && tf.getKernel('AdaptiveAvgPoolGrad', 'wasm'), 'the wasm kernels are registered');
    const xs = randn(n * h * w * c, 31);
    const ws = randn(n * oh * ow * c, 32);
    const r = await onBoth(() => {
      const x = tf.tensor4d(xs, [n, h, w, c]);
      const weights = tf.tensor4d(ws, [n, oh, ow, c]);
      const g = tf.grad((t: tf.Tensor) => adaptiveAvgPool2d(t as tf.Tensor4D, oh, ow).mul(weights).sum());
      const out = [read(adaptiveAvgPool2d(x, oh, ow)), read(g(x))];
      tf.dispose([x, weights]);
      return out;
    });
    assertClose('forward', r.wasm[0], r.cpu[0], 1e-6);
    assertClose('gradient', r.wasm[1], r.cpu[1], 1e-6);
  });
}

test('average-pool gradient (AvgPool 5/3 of the aux heads, and a padded one) matches cpu', async () => {
  const xs = randn(2 * 14 * 14 * 6, 15);
  const r = await onBoth(() => {
    const x = tf.tensor4d(xs, [2, 14, 14, 6]);
    const out = [
      read(tf.grad((t: tf.Tensor) => tf.avgPool(t as tf.Tensor4D, 5, 3, 'valid').square().sum())(x)),
      read(tf.grad((t: tf.Tensor) => tf.avgPool(t as tf.Tensor4D, 3, 2, 'same').square().sum())(x)),
    ];
    x.dispose();
    return out;
  });
  r.wasm.forEach((v, i) => assertClose(`avg-pool gradient ${i}`, v, r.cpu[i]));
});

// In a tape, products run on the SIMD kernels where n is a multiple of 8, and A^T B always; 30 x 13 pads
// k to 32 and leaves 13 columns off the 8-column panels. With few rows, A B reads B in place
// (dense_forward: 6 and 7 rows end in a partial tile, 260 is two blocks of B's rows and a rest, 17
// panels split unevenly) and, with 16 rows, A B^T runs as the transposed product B A^T (dense_product),
// but for 14 rows of B, which its 4-row tiles do not cover.
for (const [m, k, n] of [[6, 300, 200], [5, 30, 13], [16, 300, 200], [7, 260, 136], [16, 20, 14]]) test(`BatchMatMul ${m}x${k}x${n} with every transpose combination, in and out of a gradient tape, matches cpu`, async () => {
  const as = randn(m * k, 9);
  const bs = randn(k * n, 10);
  const r = await onBoth(() => {
    const out: Float32Array[] = [];
    for (const tA of [false, true]) {
      for (const tB of [false, true]) {
        const a = tA ? tf.tensor2d(as, [k, m]) : tf.tensor2d(as, [m, k]);
        const b = tB ? tf.tensor2d(bs, [n, k]) : tf.tensor2d(bs, [k, n]);
        out.push(read(tf.matMul(a, b, tA, tB)));
        // Under a tape (training) the product may be computed transposed.
        const g = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.matMul(x as tf.Tensor2D, y as tf.Tensor2D, tA, tB).square().sum());
        out.push(...g([a, b]).map(read));
        tf.dispose([a, b]);
      }
    }
    const a3 = tf.tensor3d(randn(2 * 3 * 50, 15), [2, 3, 50]);
    const b3 = tf.tensor3d(randn(2 * 50 * 4, 16), [2, 4, 50]);
    out.push(read(tf.matMul(a3, b3, false, true))); // batched: the shipped kernel
    tf.dispose([a3, b3]);
    return out;
  });
  r.wasm.forEach((v, i) => assertClose(`product ${i}`, v, r.cpu[i]));
});

// A dense layer with bias (and ReLU) in a tape runs _FusedMatMul on dense_forward, which adds the bias
// and applies the ReLU on the last block of B's rows: 16 rows (the aux heads' batch), 6 (a partial
// tile) with 260 inputs (two blocks and a rest), and 13 outputs, off the 8-column panels (the shipped
// kernel); out of a tape the shipped kernel always.
for (const [m, k, n] of [[16, 300, 200], [6, 260, 136], [5, 30, 13]]) test(`Linear ${m}x${k}x${n} (_FusedMatMul) with and without ReLU, in and out of a gradient tape, matches cpu`, async () => {
  const xs = randn(m * k, 17);
  const r = await onBoth(() => {
    const fc = new Linear(k, n, { scheme: 'pytorch-default', rng: new Rng(18) });
    const x = tf.tensor2d(xs, [m, k]);
    const out: Float32Array[] = [];
    for (const relu of [false, true]) {
      out.push(read(fc.apply(x, relu)));
      const { value, grads } = tf.variableGrads(() => fc.apply(x, relu).square().sum() as tf.Scalar, [fc.weight, fc.bias]);
      out.push(read(value), read(grads[fc.weight.name]), read(grads[fc.bias.name]));
      out.push(read(tf.grad((xx: tf.Tensor) => fc.apply(xx as tf.Tensor2D, relu).square().sum())(x)));
    }
    x.dispose();
    fc.dispose();
    return out;
  });
  r.wasm.forEach((v, i) => assertClose(`dense ${i}`, v, r.cpu[i]));
});

test('Sum over leading axes (bias gradients), with and without keepDims, matches cpu', async () => {
  const xs = randn(3 * 5 * 6 * 7, 14);
  const r = await onBoth(() => {
    const x = tf.tensor4d(xs, [3, 5, 6, 7]);
    const out = [read(tf.sum(x, [0, 1, 2])), read(tf.sum(x, [0, 1], true)), read(tf.sum(x, 0)), read(tf.sum(x, [1, 2])), read(tf.sum(x))];
    x.dispose();
    return out;
  });
  r.wasm.forEach((v, i) => assertClose(`sum ${i}`, v, r.cpu[i], 1e-6));
  const shape = tf.tidy(() => tf.sum(tf.ones([4, 2, 3]), [0, 1], true).shape);
  assert.deepEqual(shape, [1, 1, 3]);
});

test('Slice, SplitV and Identity match cpu', async () => {
  const xs = randn(2 * 5 * 6 * 7, 11);
  const r = await onBoth(() => {
    const x = tf.tensor4d(xs, [2, 5, 6, 7]);
    const out = [
      ...tf.split(x, [2, 3, 2], 3).map(read),
      ...tf.split(x, [1, 4], 1).map(read),
      // a matrix's columns: a split and a concat on the last axis of rank 2 (join_rows)
      ...tf.split(x.reshape([60, 7]), [3, 4], 1).map(read),
      read(tf.concat([x.reshape([60, 7]), x.reshape([60, 7]).slice([0, 0], [60, 5])], 1)),
      read(tf.slice(x, [1, 1, 2, 3], [1, 3, 4, 2])),
      read(tf.slice(x, [0, 2, 0, 0], [2, 2, 6, 7])),
      read(tf.clone(x)),
    ];
    x.dispose();
    return out;
  });
  r.wasm.forEach((v, i) => assertClose(`slice ${i}`, v, r.cpu[i], 1e-7));
  const x = tf.tensor1d([1, 2, 3]);
  const y = tf.clone(x);
  x.dispose();
  assert.deepEqual(Array.from(y.dataSync()), [1, 2, 3], 'a clone outlives its source');
  y.dispose();
});

// Concat and SplitV on the channel axis (an inception block's output and its gradient), MaxPool (3x3/2
// ceil-mode as in the stem, 3x3/1 pad 1 as in branch 4) and same-shape Add run on the SIMD module: once
// small (one thread) and once large enough to be split over the threads; other axes, broadcasting adds
// and int32 go to the shipped kernels.
for (const [n, hw, what] of [[1, 5, 'small'], [4, 14, 'split over the threads']] as const) test(`Concat, SplitV, MaxPool and Add match cpu (${what})`, async () => {
  const widths = [64, 128, 32, 36];
  const parts = widths.map((c, i) => randn(n * hw * hw * c, 30 + i));
  const r = await onBoth(() => {
    const xs = parts.map((p, i) => tf.tensor4d(p, [n, hw, hw, widths[i]]));
    const y = tf.concat(xs, 3);
    const out = [
      ...tf.split(y, widths, 3).map(read),
      read(tf.concat([xs[0], xs[0]], 1)),
      read(maxPool2d(y as tf.Tensor4D, { kernelSize: 3, stride: 2, ceilMode: true })),
      read(maxPool2d(y as tf.Tensor4D, { kernelSize: 3, stride: 1, padding: 1 })),
      read(tf.add(xs[0], xs[0].mul(-0.5))),
      read(tf.add(xs[1], tf.ones([widths[1]]))),
      read(tf.add(tf.tensor1d([1, 2, 3], 'int32'), tf.tensor1d([4, 5, 6], 'int32')).toFloat()),
    ];
    // Through a tape: the concat's gradient is a split, the pools' a MaxPoolGrad of our MaxPool's output.
    const g = tf.grads((...ts: tf.Tensor[]) => maxPool2d(tf.concat(ts as tf.Tensor4D[], 3), { kernelSize: 3, stride: 2, ceilMode: true }).square().sum());
    out.push(...g(xs).map(read), read(y));
    tf.dispose(xs);
    return out;
  });
  r.wasm.forEach((v, i) => assertClose(`output ${i}`, v, r.cpu[i], 1e-6));
});

// BatchNorm + ReLU (the torchvision variant's BasicConv2d) on GoogLeNet's own shapes at 112 px, batch 2:
// conv1's output, inception3a's 1x1 branch, 4e's 5x5 reduction (32 channels), 5b's 1x1 branch; plus
// channels off the 4-lane grid and a large mean (the variance from sums of squares must not cancel).
const BN_CASES: { shape: [number, number, number, number]; offset: number; what: string }[] = [
  { shape: [2, 56, 56, 64], offset: 0, what: 'conv1, 56x56x64' },
  { shape: [2, 14, 14, 64], offset: 0, what: 'inception3a branch1, 14x14x64' },
  { shape: [2, 7, 7, 32], offset: 0, what: 'inception4e branch3 reduction, 7x7x32' },
  { shape: [2, 4, 4, 384], offset: 0, what: 'inception5b branch1, 4x4x384' },
  { shape: [3, 9, 9, 30], offset: 25, what: '30 channels, mean 25' },
];

for (const c of BN_CASES) {
  for (const mode of ['training (batch statistics)', 'evaluation (running statistics)'] as const) {
    test(`BatchNorm + ReLU and its three gradients match cpu: ${c.what}, ${mode}`, async () => {
      const size = c.shape.reduce((a, b) => a * b);
      const ch = c.shape[3];
      const xs = randn(size, 31).map((v) => 1.5 * v + c.offset);
      const ws = randn(size, 32);
      const training = mode.startsWith('training');
      const r = await onBoth(() => {
        const bn = new BatchNorm2d(ch, 1e-3);
        bn.weight.assign(tf.tensor1d(randn(ch, 33).map((v) => 1 + 0.5 * v)));
        bn.bias.assign(tf.tensor1d(randn(ch, 34).map((v) => 0.3 * v)));
        bn.runningMean.assign(tf.tensor1d(randn(ch, 35).map((v) => v + c.offset)));
        bn.runningVar.assign(tf.tensor1d(randn(ch, 36).map((v) => 1 + Math.abs(v))));
        const x = tf.tensor4d(xs, c.shape);
        const w = tf.tensor4d(ws, c.shape);
        const updates: BatchNormUpdate[] = [];
        const ctx = { training, nextSeed: () => 0, batchNormUpdates: updates };
        const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(bn.applyRelu(x, ctx), w)) as tf.Scalar, [bn.weight, bn.bias]);
        const dx = tf.grad((xi: tf.Tensor) => tf.sum(tf.mul(bn.applyRelu(xi as tf.Tensor4D, { training, nextSeed: () => 0 }), w)))(x);
        const out = read(bn.applyRelu(x, { training, nextSeed: () => 0 }));
        const stats = updates.slice(0, 1).flatMap((u) => [read(u.mean), read(u.variance)]);
        for (const u of updates.slice(1)) tf.dispose([u.mean, u.variance]);
        const res = { out, loss: read(value), dx: read(dx), dgamma: read(grads[bn.weight.name]), dbeta: read(grads[bn.bias.name]), stats };
        tf.dispose([x, w]);
        bn.dispose();
        return res;
      });
      assert.ok(r.cpu.out.some((v) => v === 0) && r.cpu.out.some((v) => v > 0), 'the case has both ReLU sides');
      assertClose('out', r.wasm.out, r.cpu.out, 1e-5);
      assertClose('loss', r.wasm.loss, r.cpu.loss, 1e-4);
      assertClose('dx', r.wasm.dx, r.cpu.dx, 1e-4);
      assertClose('dgamma', r.wasm.dgamma, r.cpu.dgamma, 1e-4);
      assertClose('dbeta', r.wasm.dbeta, r.cpu.dbeta, 1e-5);
      assert.equal(r.wasm.stats.length, training ? 2 : 0, 'batch statistics recorded in training only');
      r.wasm.stats.forEach((v, i) => assertClose(i ? 'variance' : 'mean', v, r.cpu.stats[i], 1e-5));
      // On wasm the op is the project's kernels, not tfjs's composition.
      await tf.setBackend('wasm');
      const bn = new BatchNorm2d(ch, 1e-3);
      const x = tf.tensor4d(xs, c.shape);
      const info = await tf.profile(() => tf.grad((xi: tf.Tensor) => tf.sum(bn.applyRelu(xi as tf.Tensor4D, { training, nextSeed: () => 0 })))(x));
      tf.dispose([x, info.result as tf.Tensor]);
      bn.dispose();
      const want = training ? ['BatchNormStats', 'BatchNormApply', 'BatchNormApplyGrad'] : ['BatchNormApply', 'BatchNormApplyGrad'];
      for (const k of want) assert.ok(info.kernelNames.includes(k), `${k} not run on wasm: ${info.kernelNames.join(', ')}`);
      assert.ok(!info.kernelNames.includes('FusedBatchNorm'), 'tfjs\'s BatchNorm ran');
    });
  }
}

function trainingLoss(model: GoogLeNet, x: tf.Tensor4D, labels: tf.Tensor2D, seed: { next: number }, updates?: BatchNormUpdate[]): tf.Scalar {
  const out = model.forward(x, { training: true, nextSeed: () => seed.next++, batchNormUpdates: updates });
  const ce = (logits: tf.Tensor2D) => tf.losses.softmaxCrossEntropy(labels, logits) as tf.Scalar;
  return ce(out.logits).add(ce(out.aux1!).add(ce(out.aux2!)).mul(0.3)) as tf.Scalar;
}

/** Loss, every parameter gradient and the batch statistics of one training step, on the current backend. */
function stepGrads(variant: 'course' | 'torchvision', xs: Float32Array, n: number, s: number) {
  const classes = 5;
  const model = createGoogLeNet({ variant, numClasses: classes, auxLogits: true, seed: 3 });
  const x = tf.tensor4d(xs, [n, s, s, 3]);
  const labels = tf.oneHot(tf.tensor1d([1, 3], 'int32'), classes) as tf.Tensor2D;
  const params = model.namedParameters();
  // Dropout masks come from seeded tf.randomUniform, computed in JS: the same on both backends.
  const seed = { next: 1000 };
  const updates: BatchNormUpdate[] = [];
  const { value, grads } = tf.variableGrads(() => trainingLoss(model, x, labels, seed, updates), params.map(([, v]) => v));
  const out = {
    loss: read(value)[0],
    grads: params.map(([name, v]) => [name, read(grads[v.name])] as const),
    stats: updates.map((u) => [read(u.mean), read(u.variance)]),
  };
  tf.dispose([x, labels]);
  model.dispose();
  return out;
}

for (const variant of ['course', 'torchvision'] as const) test(`a whole GoogLeNet training step (${variant} variant, 64 px, batch 2, aux heads, dropout): loss and every gradient match cpu`, async () => {
  const [n, s] = [2, 64];
  const xs = randn(n * s * s * 3, 12);
  const r = await onBoth(() => stepGrads(variant, xs, n, s));
  assert.ok(Number.isFinite(r.cpu.loss));
  assert.ok(Math.abs(r.wasm.loss - r.cpu.loss) / Math.abs(r.cpu.loss) < 1e-3, `loss wasm ${r.wasm.loss} cpu ${r.cpu.loss}`);
  assert.equal(r.wasm.grads.length, r.cpu.grads.length);
  // The course variant's gradients are well conditioned: 1e-3 each. With BatchNorm over batch 2 at
  // 64 px (5a and 5b normalise over 8 values per channel) they are not: an input changed by one
  // float32 rounding (1e-7) moves 140 of the 187 gradients by 1e-3 to 3e-1 on either backend. There
  // each gradient may differ from cpu's by at most twice what that change does to it on wasm (measured:
  // 1.0x), and by 1e-3 where that is larger; a wrong kernel is off by far more.
  let noise: number[] = r.cpu.grads.map(() => 0);
  if (variant === 'torchvision') {
    assert.equal(r.wasm.stats.length, r.cpu.stats.length);
    assert.equal(r.wasm.stats.length, 57 + 2, 'the batch statistics of every BatchNorm (57 in the trunk, one per aux head)');
    r.cpu.stats.forEach(([m, v], i) => {
      assertClose(`mean ${i}`, r.wasm.stats[i][0], m, 1e-3);
      assertClose(`variance ${i}`, r.wasm.stats[i][1], v, 1e-3);
    });
    const nudged = stepGrads(variant, xs.map((v, i) => v * (1 + 1e-7 * Math.sin(i))), n, s);
    noise = nudged.grads.map(([, g], i) => relErr(g, r.wasm.grads[i][1]));
  }
  r.cpu.grads.forEach(([name, g], i) => {
    const e = relErr(r.wasm.grads[i][1], g);
    const tol = Math.max(1e-3, 2 * noise[i]);
    assert.ok(e < tol, `${name}: relative error ${e.toExponential(2)}, tolerance ${tol.toExponential(2)} (a 1e-7 change of the input: ${noise[i].toExponential(2)})`);
  });
});

for (const variant of ['course', 'torchvision'] as const) test(`20 training steps (${variant} variant, each with an inference pass) on wasm leak nothing: tensors, backend buffers and the wasm heap stay flat`, async () => {
  await tf.setBackend('wasm');
  registerWasmTrainingKernels(); // idempotent
  const backend = tf.backend() as unknown as BackendWasm;
  const heap = () => (backend.wasm as unknown as { HEAP8: Int8Array }).HEAP8.length;
  const model = createGoogLeNet({ variant, numClasses: 5, auxLogits: true, seed: 4 });
  const x = tf.tensor4d(randn(2 * 64 * 64 * 3, 13), [2, 64, 64, 3]);
  const labels = tf.oneHot(tf.tensor1d([0, 4], 'int32'), 5) as tf.Tensor2D;
  const optimizer = tf.train.adam(3e-4);
  const vars = model.namedParameters().map(([, v]) => v);
  const seed = { next: 1 };
  const losses: number[] = [];
  const updates: BatchNormUpdate[] = [];
  const step = () => {
    const loss = optimizer.minimize(() => trainingLoss(model, x, labels, seed, updates), true, vars)!;
    applyBatchNormUpdates(updates); // the trainer's running statistics (torchvision)
    losses.push(loss.dataSync()[0]);
    loss.dispose();
    tf.tidy(() => void model.predictLogits(x).dataSync()); // a validation pass: packs the new filters, frees the old packings
  };
  // Adam's slots appear on the first step; the heap settles at its high-water mark within a few
  // (when depends on how earlier tests left the allocator: it has grown once at step 6, and once at
  // step 10 after 9 flat steps, then held for 80): warm up until it held for 8 steps, then take 30
  // steps, of which the last 20 must leave it flat. A leak grows it step after step; tensors and
  // backend buffers must be exactly as many after the 30 steps as before them.
  let held = 0;
  for (let i = 0; i < 30 && held < 8; i++) {
    const h = heap();
    step();
    held = heap() === h ? held + 1 : 0;
  }
  assert.equal(held, 8, 'the wasm heap kept growing during 30 warm-up steps');
  const before = { tensors: tf.memory().numTensors, buffers: backend.numDataIds() };
  for (let i = 0; i < 10; i++) step();
  const settled = heap();
  for (let i = 0; i < 20; i++) step();
  const after = { tensors: tf.memory().numTensors, buffers: backend.numDataIds() };
  assert.deepEqual(after, before);
  assert.equal(heap(), settled, 'the wasm heap grew during the last 20 steps');
  assert.ok(losses.every(Number.isFinite));
  assert.ok(losses[losses.length - 1] < losses[0], `loss should fall on a fixed batch: ${losses[0]} -> ${losses[losses.length - 1]}`);
  optimizer.dispose();
  tf.dispose([x, labels]);
  model.dispose();
});

test('registerWasmTrainingKernels provides the training kernels on wasm', () => {
  registerWasmTrainingKernels();
  for (const k of ['Conv2DBackpropFilter', 'Conv2DBackpropInput', 'MaxPoolGrad', 'AvgPoolGrad', 'BatchMatMul', '_FusedMatMul', 'Slice', 'SplitV', 'Identity', 'Sum']) {
    assert.ok(tf.getKernel(k, 'wasm'), `${k} is not registered for wasm`);
  }
});
