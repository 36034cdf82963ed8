/**
 * Conv2DBackpropInput for webgpu (NHWC, dilation 1): dx[n, iy, ix, ci] = sum over (kh, kw, co) of
 * dy[n, oy, ox, co] * W[kh, kw, ci, co], where oy = (iy + top - kh) / sh when that divides exactly and
 * lies in [0, OH) (likewise ox), as the implicit GEMM
 *
 *   dx[M = batch*H*W, N = Ci] = A[M, K] B[K, N],   K = KH*KW*Co,
 *   A[m, k] = dy at the output pixel that (kh, kw) maps input pixel m to (zero where none),
 *   B[k, n] = W[kh, kw, n, co],
 *
 * tiled (./gemm.ts); neighbouring k are neighbouring output channels, contiguous in dy and in W. The
 * reduction (at most 5 x 5 x 832 here) is short against M, so it is not split. tfjs's shipped default
 * is a per-element transposed convolution with no tiling. NCHW, and operands past the float divmod's
 * 2^24, run tfjs's kernel.
 */
import * as tf from '../../tf';
import { GemmLoaders, gemmProgram, MAX_INDEX, TILE_K } from './gemm';
import { Conv2DAttrs, convInfo, ints, WebGpuBackendLike } from './program';
import { runShipped } from './shipped';

export interface InputGradAttrs extends Conv2DAttrs {
  inputShape: [number, number, number, number];
}

const LOADERS: GemmLoaders = {
  uniforms: 'Co : i32, KW : i32, H : i32, W : i32, OH : i32, OW : i32, sh : i32, sw : i32, top : i32, left : i32, ',
  aAlongM: false,
  bAlongN: false,
  code: `
  fn rowA(m : i32) -> vec4<i32> {
    let p = divmod(m, uniforms.W);
    let q = divmod(p.x, uniforms.H);
    return vec4<i32>(q.x, q.y + uniforms.top, p.y + uniforms.left, 0);
  }
  fn loadA(row : vec4<i32>, m : i32, k : i32) -> f32 {
    let c = divmod(k, uniforms.Co);
    let f = divmod(c.x, uniforms.KW);
    let ty = row.y - f.x;
    let tx = row.z - f.y;
    if (ty < 0 || tx < 0) { return 0.0; }
    var oy = ty;
    var ox = tx;
    if (uniforms.sh != 1 || uniforms.sw != 1) {
      let dy2 = divmod(ty, uniforms.sh);
      let dx2 = divmod(tx, uniforms.sw);
      if (dy2.y != 0 || dx2.y != 0) { return 0.0; }
      oy = dy2.x;
      ox = dx2.x;
    }
    if (oy >= uniforms.OH || ox >= uniforms.OW) { return 0.0; }
    return dy[((row.x * uniforms.OH + oy) * uniforms.OW + ox) * uniforms.Co + c.y];
  }
  fn loadB(k : i32, n : i32) -> f32 {
    let c = divmod(k, uniforms.Co);
    return w[(c.x * uniforms.N + n) * uniforms.Co + c.y];
  }`,
};

/** The kernel: inputs dy [N, OH, OW, Co], filter [KH, KW, Ci, Co]; attrs as tfjs's Conv2DBackpropInput. */
export function conv2DBackpropInputWebGpu(args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const { dy, filter } = args.inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
  const backend = args.backend as unknown as WebGpuBackendLike;
  const a = args.attrs as unknown as InputGradAttrs;
  const c = a.dataFormat === 'NCHW' ? null : convInfo(a.inputShape, filter.shape, a);
  const M = c ? c.batchSize * c.inHeight * c.inWidth : 0;
  const K = c ? c.filterHeight * c.filterWidth * c.outChannels : 0;
  if (!c || M >= MAX_INDEX || K >= MAX_INDEX) return runShipped('Conv2DBackpropInput', args) as tf.TensorInfo;
  const N = c.inChannels;
  const kChunk = Math.ceil(K / TILE_K) * TILE_K;
  const uniforms = ints(M, N, K, kChunk, c.outChannels, c.filterWidth, c.inHeight, c.inWidth, c.outHeight, c.outWidth, c.strideHeight, c.strideWidth, c.padInfo.top, c.padInfo.left);
  return backend.runWebGPUProgram(gemmProgram('input_grad', LOADERS, ['dy', 'w'], a.inputShape, M, N, 1), [dy, filter], 'float32', uniforms);
}
