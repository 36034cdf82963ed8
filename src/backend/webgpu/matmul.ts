/**
 * BatchMatMul for webgpu on the tiled GEMM (./gemm.ts): C[b] = op(A[b]) op(B[b]), op = transpose or
 * not, one product per z of the dispatch; an operand with batch 1 is shared by every product. tfjs's
 * shipped matmul programs are slow on the dense layers' products. Products with fewer than 16 rows or
 * columns (the aux heads' adaptive pooling, [4, 4] x [4, 16896]) waste most of a 64 x 64 tile: tfjs's
 * kernel was faster there on lavapipe (38 vs 49 ms at 64 px, batch 8; at 32 px, batch 1 they were 41% of
 * a step on ours), so they run tfjs's kernel, as do batch shapes that broadcast otherwise.
 */
import * as tf from '../../tf';
import { GemmLoaders, gemmProgram, TILE_K } from './gemm';
import { ints, WebGpuBackendLike } from './program';
import { runShipped } from './shipped';

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap };

const VARIANTS = new Map<string, GemmLoaders>();

/** A [M, K] (or [K, M] transposed) and B [K, N] (or [N, K]); `uniforms.aBatch`/`bBatch`: 0 when shared. */
function loaders(transA: boolean, transB: boolean): GemmLoaders {
  const key = `${transA}${transB}`;
  if (!VARIANTS.has(key)) {
    VARIANTS.set(key, {
      uniforms: 'aStep : i32, bStep : i32, ',
      aAlongM: transA,
      bAlongN: !transB,
      z: 'batch',
      code: `
  fn rowA(m : i32) -> vec4<i32> { return vec4<i32>(0); }
  fn loadA(row : vec4<i32>, m : i32, k : i32) -> f32 {
    return a[batch * uniforms.aStep + ${transA ? 'k * uniforms.M + m' : 'm * uniforms.K + k'}];
  }
  fn loadB(k : i32, n : i32) -> f32 {
    return b[batch * uniforms.bStep + ${transB ? 'n * uniforms.K + k' : 'k * uniforms.N + n'}];
  }`,
    });
  }
  return VARIANTS.get(key)!;
}

export function batchMatMulWebGpu(args: KernelArgs): tf.TensorInfo {
  const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
  const { transposeA, transposeB } = args.attrs as unknown as { transposeA: boolean; transposeB: boolean };
  const ra = a.shape.length;
  const rb = b.shape.length;
  const batchA = a.shape.slice(0, -2).reduce((p, q) => p * q, 1);
  const batchB = b.shape.slice(0, -2).reduce((p, q) => p * q, 1);
  const outer = (batchA >= batchB ? a : b).shape.slice(0, -2);
  const sameOuter = (s: number[]) => s.length === 0 || s.reduce((p, q) => p * q, 1) === 1 || s.join() === outer.join();
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || !sameOuter(a.shape.slice(0, -2)) || !sameOuter(b.shape.slice(0, -2))) {
    return runShipped('BatchMatMul', args) as tf.TensorInfo;
  }
  const M = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
  const K = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
  const N = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
  if (M < 16 || N < 16) return runShipped('BatchMatMul', args) as tf.TensorInfo;
  const batch = Math.max(batchA, batchB);
  const kChunk = Math.ceil(K / TILE_K) * TILE_K;
  const uniforms = ints(M, N, K, kChunk, batchA > 1 ? M * K : 0, batchB > 1 ? K * N : 0);
  const program = gemmProgram(`matmul_${transposeA ? 't' : 'n'}${transposeB ? 't' : 'n'}`, loaders(transposeA, transposeB), ['a', 'b'], [...outer, M, N], M, N, batch);
  return (args.backend as unknown as WebGpuBackendLike).runWebGPUProgram(program, [a, b], 'float32', uniforms);
}
