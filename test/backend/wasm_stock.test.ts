/**
 * The `stock` wasm kernel set (registerWasmTrainingKernels({ stock: true }), GOOGLENET_STOCK_KERNELS=1
 * in the CLI): tfjs's kernels stay, only Conv2DBackpropFilter is added (without the project's SIMD
 * module), and a small conv net's gradients match the cpu backend. Its own process: the set is chosen
 * once per process.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '../../src/tf';
import '@tensorflow/tfjs-backend-cpu';
import { initBackend } from '../../src/backend/select';
import { stockConv2DBackpropFilter } from '../../src/backend/wasm/stock_filter_grad';
import { Rng } from '../../src/util/rng';

before(async () => {
  const choice = await initBackend('wasm', { stockKernels: true });
  assert.equal(choice.kernels, 'stock');
});

function randn(shape: number[], seed: number): tf.Tensor {
  const rng = new Rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: n }, () => rng.uniform(-1, 1)), shape);
}

test('stock wasm kernels: only Conv2DBackpropFilter is added, tfjs keeps the rest', () => {
  assert.equal(tf.getKernel('Conv2DBackpropFilter', 'wasm')?.kernelFunc, stockConv2DBackpropFilter);
  // The project's replacements are not registered: tfjs's own kernels (and no AdamStep kernel).
  assert.equal(tf.getKernel('AdamStep', 'wasm'), undefined);
  for (const name of ['FusedConv2D', 'Conv2DBackpropInput', 'MaxPoolGrad', 'BatchMatMul']) {
    assert.ok(tf.getKernel(name, 'wasm'), `${name} is tfjs's`);
  }
});

test('stock wasm kernels: gradients of conv (3x3/2 pad 1, 7x7/2 pad 3 on 3 channels, 1x1) + ReLU + dense match cpu', async () => {
  const cases: [number[], number[], number, 'same' | 'valid' | number][] = [
    [[2, 9, 9, 5], [3, 3, 5, 7], 2, 1],
    [[2, 16, 16, 3], [7, 7, 3, 8], 2, 3],
    [[3, 6, 6, 4], [1, 1, 4, 6], 1, 'valid'],
  ];
  for (const [xs, ws, s, p] of cases) {
    const loss = (x: tf.Tensor, w: tf.Tensor, d: tf.Tensor) =>
      tf.tidy(() => {
        const y = tf.relu(tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, s, p as 'same'));
        return tf.matMul(y.reshape([xs[0], -1]), d as tf.Tensor2D).square().sum();
      });
    const grads = async (backend: string) => {
      await tf.setBackend(backend);
      const x = randn(xs, 1);
      const w = randn(ws, 2);
      const per = tf.tidy(() => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, s, p as 'same').size / xs[0]);
      const d = randn([per, 3], 3);
      const g = tf.grads(loss)([x, w, d]);
      const out = g.map((t) => Float32Array.from(t.dataSync()));
      tf.dispose([x, w, d, ...g]);
      return out;
    };
    const cpu = await grads('cpu');
    const wasm = await grads('wasm');
    for (let i = 0; i < 3; i++) {
      let diff = 0;
      let scale = 0;
      for (let j = 0; j < cpu[i].length; j++) {
        diff = Math.max(diff, Math.abs(wasm[i][j] - cpu[i][j]));
        scale = Math.max(scale, Math.abs(cpu[i][j]));
      }
      assert.ok(diff / scale < 1e-4, `x ${xs}, w ${ws}: gradient ${i} relative error ${diff / scale}`);
    }
  }
  await tf.setBackend('wasm');
});
