/**
 * Conv2D and FusedConv2D (bias, ReLU) for webgpu, NHWC, dilation 1: the implicit GEMM
 *
 *   y[M = batch*OH*OW, N = Co] = A[M, K] W[K, N],   K = KH*KW*Ci,
 *   A[m, k] = x[n, oy*sh - top + kh, ox*sw - left + kw, ci]   (zero in the padding),
 *
 * tiled (./gemm.ts), with bias and ReLU applied to the tile before it is stored. tfjs's shipped
 * Conv2DMMProgram is slow on the small maps of GoogLeNet's later layers (batch x 2 x 2 pixels at 64 px:
 * thin products with long reductions); profiled on lavapipe, it was half of a training step.
 * Other cases (NCHW, dilation, activations other than relu/linear, PReLU weights) run tfjs's kernel.
 */
import * as tf from '../../tf';
import { GemmLoaders, gemmProgram, MAX_INDEX, TILE_K } from './gemm';
import { Conv2DAttrs, convInfo, ints, WebGpuBackendLike } from './program';
import { runShipped } from './shipped';

interface ConvAttrs extends Conv2DAttrs {
  dilations: number | [number, number];
  activation?: string;
}

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap };

const UNIFORMS = 'Ci : i32, KW : i32, H : i32, W : i32, OH : i32, OW : i32, sh : i32, sw : i32, top : i32, left : i32, ';

const LOAD = `
  fn rowA(m : i32) -> vec4<i32> {
    let p = divmod(m, uniforms.OW);
    let q = divmod(p.x, uniforms.OH);
    return vec4<i32>(q.x, q.y * uniforms.sh - uniforms.top, p.y * uniforms.sw - uniforms.left, 0);
  }
  fn loadA(row : vec4<i32>, m : i32, k : i32) -> f32 {
    let c = divmod(k, uniforms.Ci);
    let f = divmod(c.x, uniforms.KW);
    let iy = row.y + f.x;
    let ix = row.z + f.y;
    if (iy < 0 || iy >= uniforms.H || ix < 0 || ix >= uniforms.W) { return 0.0; }
    return x[((row.x * uniforms.H + iy) * uniforms.W + ix) * uniforms.Ci + c.y];
  }
  fn loadB(k : i32, n : i32) -> f32 {
    return w[k * uniforms.N + n];
  }`;

function loaders(bias: boolean, relu: boolean): GemmLoaders {
  const v = bias ? 'v + bias[n]' : 'v';
  return {
    uniforms: UNIFORMS,
    aAlongM: false,
    bAlongN: true,
    code: LOAD,
    epilogue: `fn epilogue(v : f32, m : i32, n : i32) -> f32 { return ${relu ? `max(${v}, 0.0)` : v}; }`,
  };
}

const VARIANTS = new Map<string, GemmLoaders>();
function variant(bias: boolean, relu: boolean): GemmLoaders {
  const key = `${bias}${relu}`;
  if (!VARIANTS.has(key)) VARIANTS.set(key, loaders(bias, relu));
  return VARIANTS.get(key)!;
}

function dilationOne(d: number | [number, number] | undefined): boolean {
  return d === undefined || (typeof d === 'number' ? d === 1 : d[0] === 1 && d[1] === 1);
}

/** The output, or null where the indices outgrow the shader's float divmod (tfjs's kernel runs then). */
function run(backend: WebGpuBackendLike, x: tf.TensorInfo, filter: tf.TensorInfo, bias: tf.TensorInfo | undefined, a: ConvAttrs, relu: boolean): tf.TensorInfo | null {
  const c = convInfo(x.shape, filter.shape, a);
  const M = c.batchSize * c.outHeight * c.outWidth;
  const N = c.outChannels;
  const K = c.filterHeight * c.filterWidth * c.inChannels;
  if (M >= MAX_INDEX || K >= MAX_INDEX) return null;
  const kChunk = Math.ceil(K / TILE_K) * TILE_K;
  const uniforms = ints(M, N, K, kChunk, c.inChannels, c.filterWidth, c.inHeight, c.inWidth, c.outHeight, c.outWidth, c.strideHeight, c.strideWidth, c.padInfo.top, c.padInfo.left);
  const key = `conv${bias ? '_bias' : ''}${relu ? '_relu' : ''}`;
  const names = bias ? ['x', 'w', 'bias'] : ['x', 'w'];
  const inputs = bias ? [x, filter, bias] : [x, filter];
  return backend.runWebGPUProgram(gemmProgram(key, variant(Boolean(bias), relu), names, c.outShape, M, N, 1), inputs, 'float32', uniforms);
}

export function conv2DWebGpu(args: KernelArgs): tf.TensorInfo {
  const { x, filter } = args.inputs as { x: tf.TensorInfo; filter: tf.TensorInfo };
  const a = args.attrs as unknown as ConvAttrs;
  if (a.dataFormat === 'NCHW' || !dilationOne(a.dilations)) return runShipped('Conv2D', args) as tf.TensorInfo;
  return run(args.backend as unknown as WebGpuBackendLike, x, filter, undefined, a, false) ?? (runShipped('Conv2D', args) as tf.TensorInfo);
}

export function fusedConv2DWebGpu(args: KernelArgs): tf.TensorInfo {
  const { x, filter, bias, preluActivationWeights } = args.inputs as { x: tf.TensorInfo; filter: tf.TensorInfo; bias?: tf.TensorInfo; preluActivationWeights?: tf.TensorInfo };
  const a = args.attrs as unknown as ConvAttrs;
  const activation = a.activation ?? 'linear';
  const ok = a.dataFormat !== 'NCHW' && dilationOne(a.dilations) && !preluActivationWeights && (activation === 'relu' || activation === 'linear') && (!bias || bias.shape.length <= 1);
  if (!ok) return runShipped('FusedConv2D', args) as tf.TensorInfo;
  return run(args.backend as unknown as WebGpuBackendLike, x, filter, bias, a, activation === 'relu') ?? (runShipped('FusedConv2D', args) as tf.TensorInfo);
}
