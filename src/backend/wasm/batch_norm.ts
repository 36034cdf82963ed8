/**
 * BatchNorm (+ ReLU) for the torchvision variant's BasicConv2d on the project's SIMD module, three
 * kernels used by src/model/nn/batch_norm2d.ts, over an NHWC map seen as M = N*H*W rows of C channels:
 *
 *   BatchNormStats       x -> mean [C], variance [C] (biased, as tf.moments)     one pass (bn_stats)
 *   BatchNormApply       out = relu?((x - mean) * gamma / sqrt(var + eps) + beta)  one pass (bn_apply)
 *   BatchNormApplyGrad   dy, out, x -> dx, dgamma, dbeta                           two passes
 *
 * In place of tf.moments + batchNorm4d + relu and their gradients through tfjs's autodiff: about thirty
 * elementwise and reduction passes per layer on the main thread (subtract, square, mean, rsqrt, tile,
 * ...), with as many activation-sized temporaries. The backward pass, with g = dy masked by out > 0 and
 * s = 1 / sqrt(var + eps):
 *
 *   dbeta = sum g      dgamma = s sum g (x - mean)
 *   dx    = gamma s g - gamma s^3 (x - mean) sum g (x - mean) / M - gamma s sum g / M    (batch statistics)
 *   dx    = gamma s g                                                                   (fixed statistics)
 *
 * Sums are per thread in float64 (bn_stats, bn_grad_sums), added here; the per-channel coefficients
 * are computed here in float64. Rows are split over the threads.
 */
import { BackendWasm, Info, KernelArgs, dispose, f32, memoryOffset, sizeOf, threadAccumulators, threadSums } from './common';
import { simdKernels } from './simd/module';

export const BATCH_NORM_STATS = 'BatchNormStats';
export const BATCH_NORM_APPLY = 'BatchNormApply';
export const BATCH_NORM_APPLY_GRAD = 'BatchNormApplyGrad';

export interface BatchNormApplyAttrs {
  eps: number;
  relu: boolean;
}

export interface BatchNormApplyGradAttrs extends BatchNormApplyAttrs {
  /** mean and variance were the batch's own (training): x's gradient has their terms. */
  batchStats: boolean;
}

function rowsOf(x: Info): { rows: number; c: number } {
  const c = x.shape[x.shape.length - 1];
  return { rows: sizeOf(x.shape) / c, c };
}

/** Inputs x (float32, channels last). Outputs [mean, variance], each [C]. */
export function batchNormStats(args: KernelArgs): Info[] {
  const backend = args.backend as unknown as BackendWasm;
  const { x } = args.inputs as { x: Info };
  const { rows, c } = rowsOf(x);
  const simd = simdKernels(backend);
  const mean = backend.makeOutput([c], 'float32');
  const variance = backend.makeOutput([c], 'float32');
  const acc = threadAccumulators(backend, simd.threads, 2 * c); // [sum x | sum x^2]
  // bn_stats(x, acc, c, part, r0, r1), split over rows
  simd.parallel('bn_stats', [memoryOffset(backend, x), memoryOffset(backend, acc), c, 0, 0, 0], 4, rows, rows * c, 1, 3);
  const sums = threadSums(backend, acc, simd.threads, 2 * c);
  const m = f32(backend, mean);
  const v = f32(backend, variance);
  for (let j = 0; j < c; j++) {
    const mu = sums[j] / rows;
    m[j] = mu;
    v[j] = Math.max(0, sums[c + j] / rows - mu * mu);
  }
  dispose(backend, acc);
  return [mean, variance];
}

/** Inputs x, mean, variance, gamma, beta. Output relu?((x - mean) * gamma / sqrt(variance + eps) + beta). */
export function batchNormApply(args: KernelArgs): Info {
  const backend = args.backend as unknown as BackendWasm;
  const { x, mean, variance, gamma, beta } = args.inputs as Record<'x' | 'mean' | 'variance' | 'gamma' | 'beta', Info>;
  const { eps, relu } = args.attrs as unknown as BatchNormApplyAttrs;
  const { rows, c } = rowsOf(x);
  const simd = simdKernels(backend);
  const out = backend.makeOutput(x.shape.slice(), 'float32');
  const scale = backend.makeOutput([c], 'float32');
  const [g, v, s] = [gamma, variance, scale].map((t) => f32(backend, t));
  for (let j = 0; j < c; j++) s[j] = g[j] / Math.sqrt(v[j] + eps);
  // bn_apply(x, mean, scale, beta, out, c, relu, r0, r1), split over rows
  const ptr = (t: Info) => memoryOffset(backend, t);
  simd.parallel('bn_apply', [ptr(x), ptr(mean), ptr(scale), ptr(beta), ptr(out), c, relu ? 1 : 0, 0, 0], 7, rows, rows * c);
  dispose(backend, scale);
  return out;
}

/** Inputs dy, out (the forward's output), x, mean, variance, gamma. Outputs [dx, dgamma, dbeta]. */
export function batchNormApplyGrad(args: KernelArgs): Info[] {
  const backend = args.backend as unknown as BackendWasm;
  const { dy, out, x, mean, variance, gamma } = args.inputs as Record<'dy' | 'out' | 'x' | 'mean' | 'variance' | 'gamma', Info>;
  const { eps, relu, batchStats } = args.attrs as unknown as BatchNormApplyGradAttrs;
  const { rows, c } = rowsOf(x);
  const simd = simdKernels(backend);
  const dx = backend.makeOutput(x.shape.slice(), 'float32');
  const dgamma = backend.makeOutput([c], 'float32');
  const dbeta = backend.makeOutput([c], 'float32');
  const coef = backend.makeOutput([3, c], 'float32'); // a, b, k
  const acc = threadAccumulators(backend, simd.threads, 2 * c); // [sum g | sum g (x - mean)]
  const ptr = (t: Info) => memoryOffset(backend, t);
  const relu01 = relu ? 1 : 0;
  // bn_grad_sums(dy, out, x, mean, acc, c, relu, part, r0, r1), split over rows
  simd.parallel('bn_grad_sums', [ptr(dy), ptr(out), ptr(x), ptr(mean), ptr(acc), c, relu01, 0, 0, 0], 8, rows, rows * c, 1, 7);
  const sums = threadSums(backend, acc, simd.threads, 2 * c);
  const [g, v, dg, db, k3] = [gamma, variance, dgamma, dbeta, coef].map((t) => f32(backend, t));
  for (let j = 0; j < c; j++) {
    const s = 1 / Math.sqrt(v[j] + eps);
    const [sumG, sumGD] = [sums[j], sums[c + j]];
    db[j] = sumG;
    dg[j] = s * sumGD;
    k3[j] = g[j] * s; // a
    k3[c + j] = batchStats ? (-g[j] * s * s * s * sumGD) / rows : 0; // b
    k3[2 * c + j] = batchStats ? (-g[j] * s * sumG) / rows : 0; // k
  }
  const [a, b, k] = [0, 1, 2].map((i) => ptr(coef) + 4 * i * c);
  // bn_grad_input(dy, out, x, mean, a, b, k, dx, c, relu, r0, r1), split over rows
  simd.parallel('bn_grad_input', [ptr(dy), ptr(out), ptr(x), ptr(mean), a, b, k, ptr(dx), c, relu01, 0, 0], 10, rows, rows * c);
  dispose(backend, acc, coef);
  return [dx, dgamma, dbeta];
}
