/**
 * The webgpu backend on Mesa's software Vulkan (lavapipe; CI installs Mesa 25 from bookworm-backports):
 * `backends` reports it without Dawn's stderr warning, and a GoogLeNet training step (course variant,
 * 64 px, batch 2, aux heads on, Adam) gives the cpu backend's loss and gradients; evaluation logits too.
 * There is no skip: where webgpu cannot start, the tests fail with the reason.
 *
 * Dropout stays on in both runs. tfjs draws dropout masks in JavaScript (randomUniform fills a CPU
 * buffer from a seeded generator) and forms them as floor(u + keep): one correctly rounded float32 add
 * and a floor, exact on both backends. So the same seeds give the same masks, which a test below checks.
 *
 * Tolerances. Both backends compute in float32 and differ in summation order: cpu sums convolutions in
 * float64 and rounds once, the WGSL kernels accumulate tiles in float32. The reductions here have up to a
 * few thousand terms (3x3x192 = 1728 in a 3x3 branch, 2048 into aux fc1, 2 x 32 x 32 positions in conv1's
 * filter gradient), so each differs by about sqrt(n) * 6e-8 ~ 3e-6 relative, and ~60 layers compound that
 * to 1e-6..1e-5 on the loss and on a gradient's norm (measured here: 1e-7 on the loss, 1e-6 on the worst
 * gradient). A ReLU input within rounding of 0, or a max-pool near-tie, can switch a gradient path and move
 * a parameter's gradient by a sliver of its norm. The bounds, 1e-3 relative on the loss and 1e-2 relative
 * L2 difference per parameter tensor, leave ample room for that, while a wrong kernel (padding, stride, a
 * transposed filter) gives errors of order 1.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '../../src/tf';
import { initBackend, releaseBackends } from '../../src/backend/select';
import { createGoogLeNet } from '../../src/model/googlenet';
import { createAdam } from '../../src/train/adam';
import { googlenetLoss } from '../../src/train/loss';
import { Rng } from '../../src/util/rng';
import { runCli } from '../helpers';

const SIZE = 64;
const BATCH = 2;
const CLASSES = 5;
const DAWN_WARNING = /artificially reduced/;

interface StepResult {
  loss: number;
  grads: Map<string, Float32Array>;
  evalLogits: Float32Array;
  /** Largest |change| of a parameter after Adam applied the gradients. */
  maxUpdate: number;
}

function inputs(): { x: Float32Array; labels: number[] } {
  const rng = new Rng(2024);
  const x = new Float32Array(BATCH * SIZE * SIZE * 3);
  for (let i = 0; i < x.length; i++) x[i] = rng.uniform(-1, 1);
  return { x, labels: [1, 4] };
}

/** One training step as the trainer does it (Adam.minimize = computeGradients + applyGradients). */
async function trainingStep(): Promise<StepResult> {
  const model = createGoogLeNet({ variant: 'course', numClasses: CLASSES, auxLogits: true, seed: 7 });
  const { x: xs, labels } = inputs();
  const x = tf.tensor4d(xs, [BATCH, SIZE, SIZE, 3]);
  const y = tf.tensor1d(labels, 'int32');
  const params = model.namedParameters();
  const initial = new Map<string, Float32Array>();
  for (const [n, p] of params) initial.set(n, (await p.data()) as Float32Array);
  const optimizer = createAdam(1e-3); // FusedAdam: the project's AdamStep kernel on webgpu, tfjs's Adam on cpu
  let seed = 11;
  const { value, grads } = optimizer.computeGradients(
    () => googlenetLoss(model.forward(x, { training: true, nextSeed: () => seed++ }), y, 0.3).total,
    params.map(([, p]) => p),
  );
  const loss = (await value.data())[0];
  const byName = new Map<string, Float32Array>();
  for (const [n, p] of params) byName.set(n, (await grads[p.name].data()) as Float32Array);
  optimizer.applyGradients(Object.entries(grads).map(([name, tensor]) => ({ name, tensor })));
  let maxUpdate = 0;
  for (const [n, p] of params) {
    const now = (await p.data()) as Float32Array;
    const was = initial.get(n)!;
    for (let i = 0; i < now.length; i++) maxUpdate = Math.max(maxUpdate, Math.abs(now[i] - was[i]));
  }
  const logits = model.predictLogits(x);
  const evalLogits = (await logits.data()) as Float32Array;
  tf.dispose([value, x, y, logits, ...Object.values(grads)]);
  optimizer.dispose();
  model.dispose();
  return { loss, grads: byName, evalLogits, maxUpdate };
}

/**
 * tfjs-backend-cpu's Conv2DBackpropFilter reads every element through TensorBuffer.get(...rest): 47 of
 * the cpu step's 55 s here. This is the same computation in the same order (for each filter element, a
 * float64 sum over batch, rows, columns, ascending), written as outer-product accumulation over plain
 * arrays: bit-identical, which the test checks against the shipped kernel, and about 30x faster.
 */
function fastConv2DBackpropFilter(args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const backend = args.backend as tf.KernelBackend & {
    data: { get(id: unknown): { values: Float32Array } };
    makeTensorInfo(shape: number[], dtype: string, values: Float32Array): tf.TensorInfo;
  };
  const a = args.attrs as unknown as { strides: [number, number] | number; pad: 'valid' | 'same' | number; dataFormat: 'NHWC' | 'NCHW'; dimRoundingMode?: 'floor' | 'round' | 'ceil'; filterShape: [number, number, number, number] };
  if (a.dataFormat === 'NCHW') throw new Error('fastConv2DBackpropFilter: NHWC only');
  const c = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], a.filterShape, a.strides, 1, a.pad as never, a.dimRoundingMode, false, 'channelsLast');
  const xv = backend.data.get(x.dataId).values;
  const dyv = backend.data.get(dy.dataId).values;
  const { inHeight: H, inWidth: W, inChannels: Ci, outHeight: OH, outWidth: OW, outChannels: Co, strideHeight: sh, strideWidth: sw } = c;
  const top = c.padInfo.top;
  const left = c.padInfo.left;
  const out = new Float32Array(c.filterHeight * c.filterWidth * Ci * Co);
  const acc = new Float64Array(Ci * Co);
  for (let wR = 0; wR < c.filterHeight; ++wR) {
    const yRMin = Math.max(0, Math.ceil((top - wR) / sh));
    const yRMax = Math.min(OH, (H + top - wR) / sh);
    for (let wC = 0; wC < c.filterWidth; ++wC) {
      const yCMin = Math.max(0, Math.ceil((left - wC) / sw));
      const yCMax = Math.min(OW, (W + left - wC) / sw);
      acc.fill(0);
      for (let b = 0; b < c.batchSize; ++b) {
        for (let yR = yRMin; yR < yRMax; ++yR) {
          const xR = wR + yR * sh - top;
          for (let yC = yCMin; yC < yCMax; ++yC) {
            const xC = wC + yC * sw - left;
            const xo = ((b * H + xR) * W + xC) * Ci;
            const dyo = ((b * OH + yR) * OW + yC) * Co;
            for (let d1 = 0; d1 < Ci; ++d1) {
              const xval = xv[xo + d1];
              const row = d1 * Co;
              for (let d2 = 0; d2 < Co; ++d2) acc[row + d2] += xval * dyv[dyo + d2];
            }
          }
        }
      }
      out.set(acc, (wR * c.filterWidth + wC) * Ci * Co);
    }
  }
  return backend.makeTensorInfo(c.filterShape, 'float32', out);
}

let cpu: StepResult;
let gpu: StepResult;
let gpuDevice = '';

before(async () => {
  await initBackend('cpu');
  const shipped = tf.getKernel('Conv2DBackpropFilter', 'cpu')!;
  // The replacement must be bit-identical to the shipped kernel (asymmetric padding, stride 2, 'same').
  const rng = new Rng(5);
  const xs = tf.tensor4d(Array.from({ length: 2 * 9 * 8 * 5 }, () => rng.uniform(-1, 1)), [2, 9, 8, 5]);
  for (const [k, s, pad] of [[3, 2, 1], [7, 2, 3], [1, 1, 0], [5, 1, 'same'], [3, 2, [[0, 0], [0, 1], [1, 0], [0, 0]]]] as const) {
    const dyShape = tf.conv2d(xs, tf.zeros([k, k, 5, 4]) as tf.Tensor4D, s, pad as never).shape;
    const dy = tf.tensor4d(Array.from({ length: dyShape.reduce((p, q) => p * q, 1) }, () => rng.uniform(-1, 1)), dyShape);
    const attrs = { strides: [s, s], pad, dataFormat: 'NHWC', dimRoundingMode: undefined, filterShape: [k, k, 5, 4] } as unknown as tf.NamedAttrMap;
    const run = (f: tf.KernelFunc) => {
      const info = f({ inputs: { x: xs, dy }, backend: tf.backend(), attrs }) as tf.TensorInfo;
      return tf.engine().makeTensorFromTensorInfo(info).dataSync();
    };
    assert.deepEqual(run(fastConv2DBackpropFilter as unknown as tf.KernelFunc), run(shipped.kernelFunc), `fast filter gradient differs at k=${k} s=${s} pad=${JSON.stringify(pad)}`);
    dy.dispose();
  }
  xs.dispose();
  tf.unregisterKernel('Conv2DBackpropFilter', 'cpu');
  tf.registerKernel({ kernelName: 'Conv2DBackpropFilter', backendName: 'cpu', kernelFunc: fastConv2DBackpropFilter as unknown as tf.KernelFunc });
  try {
    cpu = await trainingStep();
  } finally {
    tf.unregisterKernel('Conv2DBackpropFilter', 'cpu');
    tf.registerKernel(shipped);
  }
  const choice = await initBackend('webgpu'); // throws with the reason where webgpu cannot start
  gpuDevice = choice.report.device ?? '';
  gpu = await trainingStep();
});

after(() => releaseBackends());

test('GOOGLENET_BACKEND=webgpu bin/googlenet backends --json: five backends, webgpu on the Vulkan adapter, no Dawn warning', () => {
  const r = runCli(['backends', '--json'], { env: { GOOGLENET_BACKEND: 'webgpu' }, timeoutMs: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  const reports = JSON.parse(r.stdout) as { name: string; available: unknown; reason: unknown; device?: string; software?: boolean }[];
  assert.deepEqual(reports.map((b) => b.name), ['tensorflow-gpu', 'tensorflow', 'webgpu', 'wasm', 'cpu']);
  for (const b of reports) {
    assert.equal(typeof b.available, 'boolean', `${b.name}.available`);
    assert.ok(typeof b.reason === 'string' && b.reason.length > 0, `${b.name}.reason`);
  }
  const webgpu = reports.find((b) => b.name === 'webgpu')!;
  assert.equal(webgpu.available, true, `webgpu: ${webgpu.reason as string}`);
  assert.ok(webgpu.device && webgpu.device.length > 0, 'webgpu reports the adapter name');
  if (webgpu.software) assert.match(webgpu.device!, /llvmpipe|lavapipe|swiftshader/i);
  assert.doesNotMatch(r.stderr, DAWN_WARNING, 'the probe keeps Dawn\'s stderr in its child process');
});

test('webgpu started on an adapter with a name', () => {
  assert.ok(gpuDevice.length > 0);
});

test('dropout: the same seed gives the same mask on cpu and webgpu', async () => {
  const masks: Float32Array[] = [];
  for (const b of ['cpu', 'webgpu']) {
    await tf.setBackend(b);
    const m = tf.dropout(tf.ones([4096]), 0.5, undefined, 99);
    masks.push((await m.data()) as Float32Array);
    m.dispose();
  }
  assert.deepEqual(masks[1], masks[0]);
  await tf.setBackend('webgpu');
});

test('training step: webgpu loss within 1e-3 of cpu', () => {
  const rel = Math.abs(gpu.loss - cpu.loss) / Math.abs(cpu.loss);
  assert.ok(Number.isFinite(gpu.loss), `loss ${gpu.loss}`);
  assert.ok(rel < 1e-3, `loss cpu ${cpu.loss} webgpu ${gpu.loss}: relative error ${rel}`);
});

test('training step: every parameter gradient within 1e-2 relative L2 of cpu', () => {
  assert.equal(gpu.grads.size, cpu.grads.size);
  assert.ok(cpu.grads.size > 100, `${cpu.grads.size} parameter tensors`);
  const bad: string[] = [];
  for (const [name, g] of cpu.grads) {
    const h = gpu.grads.get(name)!;
    assert.equal(h.length, g.length, name);
    let diff = 0;
    let norm = 0;
    for (let i = 0; i < g.length; i++) {
      diff += (h[i] - g[i]) ** 2;
      norm += g[i] ** 2;
    }
    // A gradient that is exactly zero on cpu (a dead unit) must be (near) zero on webgpu too.
    const rel = norm === 0 ? Math.sqrt(diff) : Math.sqrt(diff / norm);
    if (!(rel < 1e-2)) bad.push(`${name}: ${rel.toExponential(2)}`);
  }
  assert.deepEqual(bad, []);
});

test('training step: Adam updated the parameters on webgpu as on cpu', () => {
  // Adam's first step moves each parameter by about lr * sign(g), at most lr (1e-3).
  assert.ok(gpu.maxUpdate > 1e-4 && gpu.maxUpdate < 1.1e-3, `max update ${gpu.maxUpdate}`);
  assert.ok(Math.abs(gpu.maxUpdate - cpu.maxUpdate) < 1e-4, `cpu ${cpu.maxUpdate} webgpu ${gpu.maxUpdate}`);
});

test('evaluation after the step: webgpu logits match cpu', () => {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < cpu.evalLogits.length; i++) {
    diff = Math.max(diff, Math.abs(gpu.evalLogits[i] - cpu.evalLogits[i]));
    scale = Math.max(scale, Math.abs(cpu.evalLogits[i]));
  }
  assert.ok(diff <= 1e-3 * Math.max(scale, 1), `max |diff| ${diff} (scale ${scale})`);
});

test('kernels the 224 px step adds (aux AvgPool 5/3) and ceil-mode max-pool padding: webgpu gradients match cpu', async () => {
  // At 64 px the aux heads pool adaptively (matmuls); at 224 px they use AvgPool(5, 3) and its gradient.
  const rng = new Rng(3);
  const xs = Array.from({ length: 2 * 14 * 14 * 8 }, () => rng.uniform(-1, 1));
  const ws = Array.from({ length: 2 * 4 * 4 * 8 }, () => rng.uniform(-1, 1));
  const ps = Array.from({ length: 2 * 16 * 16 * 8 }, (_, i) => (((i * 7919) % 4099) - 2049) / 2049); // all distinct (4099 is prime): no max ties
  const pad = [[0, 0], [0, 1], [0, 1], [0, 0]] as never; // 16 -> 8 in ceil mode: src/model/nn/pool.ts pads bottom/right by 1
  const results: Float32Array[][] = [];
  for (const b of ['cpu', 'webgpu']) {
    await tf.setBackend(b);
    const out = tf.tidy(() => {
      const x = tf.tensor4d(xs, [2, 14, 14, 8]);
      const w = tf.tensor4d(ws, [2, 4, 4, 8]);
      const gAvg = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.avgPool(t as tf.Tensor4D, 5, 3, 'valid'), w)))(x);
      const p = tf.tensor4d(ps, [2, 16, 16, 8]);
      const v = tf.tensor4d(Array.from({ length: 2 * 8 * 8 * 8 }, (_, i) => (i % 13) - 6), [2, 8, 8, 8]);
      const gMax = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(t as tf.Tensor4D, 3, 2, pad), v)))(p);
      return [gAvg, gMax];
    });
    results.push([(await out[0].data()) as Float32Array, (await out[1].data()) as Float32Array]);
    tf.dispose(out);
  }
  await tf.setBackend('webgpu');
  for (const [i, name] of ['AvgPoolGrad', 'MaxPoolGrad'].entries()) {
    const [c, g] = [results[0][i], results[1][i]];
    let diff = 0;
    for (let j = 0; j < c.length; j++) diff = Math.max(diff, Math.abs(c[j] - g[j]));
    assert.ok(diff < 1e-5, `${name}: max |diff| ${diff}`);
  }
});
