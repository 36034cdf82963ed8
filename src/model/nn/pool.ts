/**
 * Pooling with PyTorch's semantics, in NHWC.
 *
 * `ceil_mode=True` (every max-pool in the course notes) rounds the output size up: the last window may
 * hang over the bottom/right edge, and only the real pixels in it count. That is not TF's 'same'
 * padding in general (at 112 -> 56 they agree, at 57 they do not), so we pad explicitly on the
 * bottom/right only, which the pooling kernels treat as -infinity for max.
 */
import * as tf from '../../tf';

/** PyTorch's pooling output size for one spatial dimension. */
export function poolOutputSize(size: number, kernel: number, stride: number, padding = 0, ceilMode = false): number {
  // PyTorch's pooling_output_shape: floor((size + 2p - (k - 1) - 1 + (ceil ? s - 1 : 0)) / s) + 1
  let out = Math.floor((size + 2 * padding - (kernel - 1) - 1 + (ceilMode ? stride - 1 : 0)) / stride) + 1;
  // The last window must start inside the input (or its left padding), else it is dropped.
  if (ceilMode && (out - 1) * stride >= size + padding) out -= 1;
  return Math.max(out, 0);
}

export interface MaxPoolArgs {
  kernelSize: number;
  stride: number;
  padding?: number;
  ceilMode?: boolean;
}

/** nn.MaxPool2d(kernel, stride, padding, ceil_mode): [N, H, W, C] -> [N, H', W', C]. */
export function maxPool2d(x: tf.Tensor4D, args: MaxPoolArgs): tf.Tensor4D {
  const { kernelSize: k, stride: s } = args;
  const p = args.padding ?? 0;
  const [, h, w] = x.shape;
  const oh = poolOutputSize(h, k, s, p, args.ceilMode);
  const ow = poolOutputSize(w, k, s, p, args.ceilMode);
  if (oh < 1 || ow < 1) {
    throw new Error(`max-pool ${k}x${k}/${s} has no output on a ${h}x${w} map: use a larger --image-size`);
  }
  // Extra bottom/right padding so that the last (partial) window exists.
  const extraH = Math.max(0, (oh - 1) * s + k - (h + 2 * p));
  const extraW = Math.max(0, (ow - 1) * s + k - (w + 2 * p));
  if (p === 0 && extraH === 0 && extraW === 0) return tf.maxPool(x, k, s, 'valid');
  const pad: [[number, number], [number, number], [number, number], [number, number]] = [
    [0, 0],
    [p, p + extraH],
    [p, p + extraW],
    [0, 0],
  ];
  return tf.maxPool(x, k, s, pad as never);
}

/** nn.AvgPool2d(kernel, stride) without padding: [N, H, W, C] -> [N, H', W', C]. */
export function avgPool2d(x: tf.Tensor4D, kernelSize: number, stride: number): tf.Tensor4D {
  return tf.avgPool(x, kernelSize, stride, 'valid');
}

/**
 * The averaging matrix of nn.AdaptiveAvgPool2d along one axis: row i averages input positions
 * [floor(i*n/out), ceil((i+1)*n/out)). Shape [out, n].
 */
export function adaptivePoolMatrix(n: number, out: number): Float32Array {
  const m = new Float32Array(out * n);
  for (let i = 0; i < out; i++) {
    const start = Math.floor((i * n) / out);
    const end = Math.ceil(((i + 1) * n) / out);
    for (let j = start; j < end; j++) m[i * n + j] = 1 / (end - start);
  }
  return m;
}

/**
 * The averaging matrix of nn.AdaptiveAvgPool2d over both axes at once: P [H*W, oh*ow], the column for
 * output (a, b) holding rows(a, i) * cols(b, j) at row i*W + j (adaptivePoolMatrix per axis).
 */
export function adaptivePoolMatrix2d(h: number, w: number, oh: number, ow: number): Float32Array {
  const ph = adaptivePoolMatrix(h, oh);
  const pw = adaptivePoolMatrix(w, ow);
  const m = new Float32Array(h * w * oh * ow);
  for (let i = 0; i < h; i++)
    for (let j = 0; j < w; j++)
      for (let a = 0; a < oh; a++)
        for (let b = 0; b < ow; b++) m[(i * w + j) * oh * ow + a * ow + b] = ph[a * h + i] * pw[b * w + j];
  return m;
}

/** Kernels a backend may register for nn.AdaptiveAvgPool2d (wasm: src/backend/wasm/adaptive_pool.ts). */
const ADAPTIVE_AVG_POOL = 'AdaptiveAvgPool';
const ADAPTIVE_AVG_POOL_GRAD = 'AdaptiveAvgPoolGrad';

/** The pooling on the backend's own kernels, with their gradient. */
function adaptiveAvgPoolKernel(x: tf.Tensor4D, oh: number, ow: number): tf.Tensor4D {
  const [, h, w] = x.shape;
  const pool = tf.customGrad((input) => ({
    value: tf.engine().runKernel(ADAPTIVE_AVG_POOL, { x: input as tf.Tensor4D }, { outHeight: oh, outWidth: ow }) as tf.Tensor4D,
    gradFunc: (dy: tf.Tensor) => tf.engine().runKernel(ADAPTIVE_AVG_POOL_GRAD, { dy }, { inHeight: h, inWidth: w }) as tf.Tensor4D,
  }));
  return pool(x) as tf.Tensor4D;
}

/**
 * nn.AdaptiveAvgPool2d((oh, ow)): [N, H, W, C] -> [N, oh, ow, C], exact for any H, W. On the backend's
 * kernels where it has them (wasm); else one product over both axes, X [N*C, H*W] . P [H*W, oh*ow]
 * (the aux heads: 7x7 -> 4x4 at 112 px, 14x14 -> 4x4 at 224), so that a step moves x once each way
 * rather than through two products and three transposes.
 */
export function adaptiveAvgPool2d(x: tf.Tensor4D, oh: number, ow: number): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  if (oh === 1 && ow === 1) return tf.mean(x, [1, 2], true) as tf.Tensor4D;
  if (x.dtype === 'float32' && tf.getKernel(ADAPTIVE_AVG_POOL, tf.getBackend()) && tf.getKernel(ADAPTIVE_AVG_POOL_GRAD, tf.getBackend())) {
    return adaptiveAvgPoolKernel(x, oh, ow);
  }
  return tf.tidy(() => {
    const p = tf.tensor2d(adaptivePoolMatrix2d(h, w, oh, ow), [h * w, oh * ow]);
    const rows = x.transpose([0, 3, 1, 2]).reshape([n * c, h * w]); //   [N*C, H*W]
    const pooled = tf.matMul(rows, p).reshape([n, c, oh, ow]); //         [N, C, oh, ow]
    return pooled.transpose([0, 2, 3, 1]) as tf.Tensor4D; //              [N, oh, ow, C]
  });
}
