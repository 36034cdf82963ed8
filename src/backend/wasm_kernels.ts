/**
 * Training kernels for tfjs-backend-wasm 4.22, which ships no Conv2DBackpropFilter (a conv net cannot
 * train on it as shipped), a scalar-loop Conv2DBackpropInput ~9x slower than its forward conv, a
 * MaxPoolGrad that is slow and misroutes the gradient of all-zero windows, a slow AvgPoolGrad, a
 * BatchMatMul that leaves XNNPACK whenever an operand is transposed (every dense-layer gradient), a
 * Slice/SplitV that copy their whole input per output (the gradient of every inception concat), an
 * Identity that copies, and a Sum over leading axes (every bias gradient) that goes through a generic
 * N-d transpose. Plus two kernels tfjs does not have: a fused Adam step (AdamStep, used by
 * src/train/adam.ts) in place of ~14 elementwise passes per variable, and ReLU's and the bias's
 * gradient in one pass (ReluGradBiasSum, used by src/model/nn/fused_conv_grad.ts), and BatchNorm + ReLU's
 * forward and backward in four passes (BatchNormStats, BatchNormApply, BatchNormApplyGrad, used by
 * src/model/nn/batch_norm2d.ts for the torchvision variant), and nn.AdaptiveAvgPool2d's forward and
 * backward (AdaptiveAvgPool, AdaptiveAvgPoolGrad, used by src/model/nn/pool.ts for the aux heads).
 *
 * The replacements (src/backend/wasm/) run on two engines. The convolutions (training's forward,
 * input and filter gradients, and inference, with each filter's packing kept per weight tensor), the
 * dense layers' products in training (BatchMatMul, and _FusedMatMul with its bias and ReLU, for which
 * XNNPACK would re-pack the weights every step) and the data movement and elementwise passes (max
 * pooling and the pooling gradients, bias sums, transposes, channel concats and splits, same-shape
 * adds, Adam) run on this project's own wasm SIMD module (src/backend/wasm/simd/kernels.c, built with
 * clang; with fused multiply-add where the engine has relaxed SIMD), which works in place on the
 * backend's memory and splits each call over helper threads. Inference's matrix products run on the
 * backend's XNNPACK. Every intermediate is freed, so that neither tensors nor XNNPACK's operator
 * caches grow from step to step.
 * A GoogLeNet training step at 112 px, batch 16 went from ~1 img/s (one core, shipped kernels) to
 * about 30 img/s on two cores (scripts/bench-train-step.ts; README, Benchmarks).
 */
import * as tf from '../tf';
import { ADAM_STEP, adamStep } from './wasm/adam';
import { ADAPTIVE_AVG_POOL, ADAPTIVE_AVG_POOL_GRAD, adaptiveAvgPool, adaptiveAvgPoolGrad } from './wasm/adaptive_pool';
import { batchMatMul } from './wasm/batch_mat_mul';
import { BATCH_NORM_APPLY, BATCH_NORM_APPLY_GRAD, BATCH_NORM_STATS, batchNormApply, batchNormApplyGrad, batchNormStats } from './wasm/batch_norm';
import { saveOriginal } from './wasm/common';
import { conv2D, fusedConv2D } from './wasm/conv';
import { conv2DBackpropFilter, conv2DBackpropInput } from './wasm/conv_backprop';
import { add } from './wasm/add';
import { fusedMatMul } from './wasm/fused_mat_mul';
import { maxPool } from './wasm/pool';
import { avgPoolGrad, maxPoolGrad } from './wasm/pool_grad';
import { sum } from './wasm/reduce';
import { RELU_GRAD_BIAS_SUM, reluGradBiasSum } from './wasm/relu_grad';
import { concat, identity, slice, splitV } from './wasm/slice';
import { fmaSupported } from './wasm/simd/module';
import { stockConv2DBackpropFilter } from './wasm/stock_filter_grad';

const KERNELS: [string, tf.KernelFunc][] = [
  ['FusedConv2D', fusedConv2D as unknown as tf.KernelFunc],
  ['Conv2D', conv2D as unknown as tf.KernelFunc],
  ['Conv2DBackpropFilter', conv2DBackpropFilter as unknown as tf.KernelFunc],
  ['Conv2DBackpropInput', conv2DBackpropInput as unknown as tf.KernelFunc],
  ['MaxPoolGrad', maxPoolGrad as unknown as tf.KernelFunc],
  ['AvgPoolGrad', avgPoolGrad as unknown as tf.KernelFunc],
  ['BatchMatMul', batchMatMul as unknown as tf.KernelFunc],
  ['_FusedMatMul', fusedMatMul as unknown as tf.KernelFunc],
  ['Slice', slice as unknown as tf.KernelFunc],
  ['SplitV', splitV as unknown as tf.KernelFunc],
  ['Identity', identity as unknown as tf.KernelFunc],
  ['Concat', concat as unknown as tf.KernelFunc],
  ['MaxPool', maxPool as unknown as tf.KernelFunc],
  ['Add', add as unknown as tf.KernelFunc],
  ['Sum', sum as unknown as tf.KernelFunc],
  [ADAM_STEP, adamStep as unknown as tf.KernelFunc],
  [RELU_GRAD_BIAS_SUM, reluGradBiasSum as unknown as tf.KernelFunc],
  [BATCH_NORM_STATS, batchNormStats as unknown as tf.KernelFunc],
  [BATCH_NORM_APPLY, batchNormApply as unknown as tf.KernelFunc],
  [BATCH_NORM_APPLY_GRAD, batchNormApplyGrad as unknown as tf.KernelFunc],
  [ADAPTIVE_AVG_POOL, adaptiveAvgPool as unknown as tf.KernelFunc],
  [ADAPTIVE_AVG_POOL_GRAD, adaptiveAvgPoolGrad as unknown as tf.KernelFunc],
];

/** What the project's kernels run on, for `backends`: the SIMD module's build (FMA or not). */
export function wasmKernelsDescription(): string {
  return fmaSupported() ? 'project kernels with FMA (relaxed SIMD)' : 'project kernels without FMA (no relaxed SIMD in this engine)';
}

/**
 * The `stock` set: tfjs's kernels, plus the one training cannot do without (Conv2DBackpropFilter),
 * built from the backend's own XNNPACK product and no SIMD module of this project.
 */
const STOCK_KERNELS: [string, tf.KernelFunc][] = [['Conv2DBackpropFilter', stockConv2DBackpropFilter as unknown as tf.KernelFunc]];

let registered: 'project' | 'stock' | null = null;

/**
 * Register the training kernels for the wasm backend (idempotent; the first call's set stays for the
 * process). Call before `tf.setBackend('wasm')` (later works too). Replaced kernels keep the shipped
 * kernel's setup, and fall back to it for cases they do not handle. `stock`: register only what
 * training needs at all (see STOCK_KERNELS), to compare tfjs's kernels with the project's.
 */
export function registerWasmTrainingKernels(opts: { stock?: boolean } = {}): void {
  if (registered) return;
  // The wasm package registers its kernels when it loads.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require('@tensorflow/tfjs-backend-wasm');
  registered = opts.stock ? 'stock' : 'project';
  for (const [kernelName, kernelFunc] of opts.stock ? STOCK_KERNELS : KERNELS) {
    const original = saveOriginal(kernelName);
    if (original) tf.unregisterKernel(kernelName, 'wasm'); // re-registering would print a warning
    tf.registerKernel({
      kernelName,
      backendName: 'wasm',
      kernelFunc,
      setupFunc: original?.setupFunc,
      disposeFunc: original?.disposeFunc,
    });
  }
}
