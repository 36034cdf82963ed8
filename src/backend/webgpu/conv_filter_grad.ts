/**
 * Conv2DBackpropFilter for webgpu (NHWC, dilation 1): dW[kh, kw, ci, co] = sum over (n, oy, ox) of
 * x[n, oy*sh - top + kh, ox*sw - left + kw, ci] * dy[n, oy, ox, co], as the implicit GEMM
 *
 *   dW[M = KH*KW*Ci, N = Co] = A[M, K] B[K, N],   K = batch * OH * OW,
 *   A[m, k] = x at (n, oy, ox) = k and (kh, kw, ci) = m (zero in the padding),   B[k, n] = dy[k, n],
 *
 * tiled and split along K (./gemm.ts). Neighbouring m are neighbouring input channels, contiguous in x;
 * neighbouring n are contiguous in dy. tfjs's shipped program runs one invocation per filter weight,
 * each looping over the whole of K. NCHW, and operands past the float divmod's 2^24, run tfjs's kernel.
 */
import * as tf from '../../tf';
import { chooseSplits, chunkLength, GemmLoaders, gemmProgram, MAX_INDEX, sumSplitsProgram } from './gemm';
import { Conv2DAttrs, convInfo, ints, release, WebGpuBackendLike } from './program';
import { runShipped } from './shipped';

export interface FilterGradAttrs extends Conv2DAttrs {
  filterShape: [number, number, number, number];
}

const LOADERS: GemmLoaders = {
  uniforms: 'Ci : i32, KW : i32, H : i32, W : i32, OH : i32, OW : i32, sh : i32, sw : i32, top : i32, left : i32, ',
  aAlongM: true,
  bAlongN: true,
  code: `
  fn rowA(m : i32) -> vec4<i32> {
    let c = divmod(m, uniforms.Ci);
    let f = divmod(c.x, uniforms.KW);
    return vec4<i32>(f.x - uniforms.top, f.y - uniforms.left, c.y, 0);
  }
  fn loadA(row : vec4<i32>, m : i32, k : i32) -> f32 {
    let p = divmod(k, uniforms.OW);
    let q = divmod(p.x, uniforms.OH);
    let iy = q.y * uniforms.sh + row.x;
    let ix = p.y * uniforms.sw + row.y;
    if (iy < 0 || iy >= uniforms.H || ix < 0 || ix >= uniforms.W) { return 0.0; }
    return x[((q.x * uniforms.H + iy) * uniforms.W + ix) * uniforms.Ci + row.z];
  }
  fn loadB(k : i32, n : i32) -> f32 {
    return dy[k * uniforms.N + n];
  }`,
};

/** The kernel: inputs x [N, H, W, Ci], dy [N, OH, OW, Co]; attrs as tfjs's Conv2DBackpropFilter. */
export function conv2DBackpropFilterWebGpu(args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const { x, dy } = args.inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const backend = args.backend as unknown as WebGpuBackendLike;
  const a = args.attrs as unknown as FilterGradAttrs;
  const c = a.dataFormat === 'NCHW' ? null : convInfo(x.shape, a.filterShape, a);
  const M = c ? c.filterHeight * c.filterWidth * c.inChannels : 0;
  const K = c ? c.batchSize * c.outHeight * c.outWidth : 0;
  if (!c || M >= MAX_INDEX || K >= MAX_INDEX) return runShipped('Conv2DBackpropFilter', args) as tf.TensorInfo;
  const N = c.outChannels;
  const splits = chooseSplits(M, N, K);
  const kChunk = chunkLength(K, splits);
  const used = Math.ceil(K / kChunk); // chunks that are not empty
  const uniforms = ints(M, N, K, kChunk, c.inChannels, c.filterWidth, c.inHeight, c.inWidth, c.outHeight, c.outWidth, c.strideHeight, c.strideWidth, c.padInfo.top, c.padInfo.left);
  if (used === 1) {
    return backend.runWebGPUProgram(gemmProgram('filter_grad', LOADERS, ['x', 'dy'], a.filterShape, M, N, 1), [x, dy], 'float32', uniforms);
  }
  const partial = backend.runWebGPUProgram(gemmProgram('filter_grad', LOADERS, ['x', 'dy'], [used, M, N], M, N, used), [x, dy], 'float32', uniforms);
  const out = backend.runWebGPUProgram(sumSplitsProgram(a.filterShape), [partial], 'float32', ints(used));
  release(backend, partial);
  return out;
}
