/**
 * A tiled matrix product C[M, N] = sum_k A[m, k] B[k, n] in WGSL, where A and B are not stored as
 * matrices but read through `loadA(m, k)` and `loadB(k, n)` functions the caller writes (an implicit
 * GEMM: a convolution gradient gathers its operands from NHWC tensors on the fly, with no im2col copy).
 *
 * Tiling: a workgroup computes a 64 x 64 tile of C, each invocation a block x block square of it
 * (block 8: 8 x 8 invocations; block 4: 16 x 16), rows ty + side i and columns tx + side j, so that
 * neighbouring invocations write neighbouring columns. The reduction runs over k in steps of 16: the
 * workgroup stages a 16 x 64 slice of A and of B in workgroup memory (ordered so that neighbouring
 * invocations read neighbouring addresses: along m or along k for A, along n or along k for B, as the
 * caller says), then each invocation does 16 x block x block multiply-adds from it. On lavapipe block 8
 * beat block 4 on 21 of GoogLeNet's 24 layer kernels (64 px, batch 8; scripts/bench-gpu-kernels.ts).
 *
 * Split-K: the z dimension of the dispatch splits the reduction into chunks of `kChunk` (a multiple of
 * 16); chunk s writes its partial product at offset s * M * N of the output, and `SumSplitsProgram`
 * adds the chunks. A long reduction (a filter gradient sums over batch x output pixels: 32 x 112 x 112
 * = 401,408 terms for conv1 at 224 px) over few output tiles (conv1's 147 x 64 filter is 3 x 1 tiles)
 * would otherwise keep three workgroups busy on a GPU with a hundred cores.
 *
 * Uniforms: M, N, K, kChunk, then the caller's fields. Shapes are uniforms, so one pipeline per
 * (caller, loader) serves every layer.
 */
import { ceilDiv, GpuProgram } from './program';

export const TILE_M = 64;
export const TILE_N = 64;
export const TILE_K = 16;

export interface GemmLoaders {
  /**
   * WGSL: `fn rowA(m : i32) -> vec4<i32>` (what loadA needs of row m, computed once per row before the
   * reduction), `fn loadA(row : vec4<i32>, m : i32, k : i32) -> f32` and `fn loadB(k : i32, n : i32) -> f32`
   * (m < M, n < N, k < K already checked). `divmod(a, b)` is there for index arithmetic.
   */
  code: string;
  /** Extra uniform fields the loaders read, WGSL struct syntax ('Ci : i32, KW : i32, '). */
  uniforms: string;
  /** Whether A's neighbouring addresses are along m (true) or along k. */
  aAlongM: boolean;
  /** Whether B's neighbouring addresses are along n (true) or along k. */
  bAlongN: boolean;
  /**
   * What the z dimension of the dispatch indexes: 'split' (chunks of the reduction, see above) or
   * 'batch' (independent products, M x N apart in the output; the loaders read the private `batch`).
   */
  z?: 'split' | 'batch';
  /** WGSL `fn epilogue(v : f32, m : i32, n : i32) -> f32` applied before the store (bias, ReLU); identity if absent. */
  epilogue?: string;
}

/** How many chunks to split a reduction of K terms into, for an M x N product. */
export function chooseSplits(M: number, N: number, K: number, targetWorkgroups = 256, minChunk = 1024): number {
  const tiles = ceilDiv(M, TILE_M) * ceilDiv(N, TILE_N);
  const want = Math.ceil(targetWorkgroups / tiles);
  const most = Math.max(1, Math.floor(K / minChunk));
  return Math.max(1, Math.min(want, most));
}

/** Reduction length per chunk: a multiple of TILE_K covering K in `splits` chunks. */
export function chunkLength(K: number, splits: number): number {
  return ceilDiv(ceilDiv(K, splits), TILE_K) * TILE_K;
}

/** Load order of a 16 x 64 operand slice: (row in the 64, k in the 16) of element e of 1024. */
function slot(alongWide: boolean): string {
  return alongWide ? `let w = e % ${TILE_M}; let kk = e / ${TILE_M};` : `let kk = e % ${TILE_K}; let w = e / ${TILE_K};`;
}

/**
 * (a / b, a % b) for 0 <= a < 2^24, 0 < b, through a float division and one correction step each way:
 * exact (f32 holds such integers exactly and the rounded quotient is within one of the true one). A
 * vector unit divides floats but not integers: on a CPU Vulkan (lavapipe), integer division by a
 * uniform runs one lane at a time and dominated the tile loads.
 */
export const DIVMOD = `
  fn divmod(a : i32, b : i32) -> vec2<i32> {
    var q = i32(f32(a) / f32(b));
    var r = a - q * b;
    if (r < 0) { q = q - 1; r = r + b; }
    if (r >= b) { q = q + 1; r = r - b; }
    return vec2<i32>(q, r);
  }`;

/** Indices must stay below 2^24 for DIVMOD; larger operands run tfjs's kernel. */
export const MAX_INDEX = 1 << 24;

/** Outputs per invocation along each side (4: 16 x 16 invocations per tile; 8: 8 x 8). */
export type GemmBlock = 4 | 8;

export function gemmSource(l: GemmLoaders, block: GemmBlock): string {
  const batched = l.z === 'batch';
  const side = TILE_M / block; // invocations per side
  const threads = side * side;
  const loads = (TILE_K * TILE_M) / threads; // elements of each operand slice per invocation
  return `
  var<workgroup> tileA : array<f32, ${TILE_K * TILE_M}>;
  var<workgroup> tileB : array<f32, ${TILE_K * TILE_N}>;
  var<private> batch : i32;
  ${DIVMOD}
  ${l.code}
  ${l.epilogue ?? 'fn epilogue(v : f32, m : i32, n : i32) -> f32 { return v; }'}
  fn main() {
    let tx = i32(localId.x);
    let ty = i32(localId.y);
    let tid = ty * ${side} + tx;
    let n0 = i32(workgroupId.x) * ${TILE_N};
    let m0 = i32(workgroupId.y) * ${TILE_M};
    let split = i32(workgroupId.z);
    batch = ${batched ? 'split' : '0'};
    let kBegin = ${batched ? '0' : 'split * uniforms.kChunk'};
    let kEnd = min(uniforms.K, kBegin + uniforms.kChunk);
    var acc : array<array<f32, ${block}>, ${block}>;
    var rows : array<vec4<i32>, ${loads}>;
    for (var i = 0; i < ${loads}; i = i + 1) {
      let e = tid + i * ${threads};
      ${slot(l.aAlongM)}
      let m = m0 + w;
      if (m < uniforms.M) { rows[i] = rowA(m); }
    }
    // The trip count depends on uniforms only (barriers need uniform control flow); the last chunk's
    // steps past K load zeros.
    for (var t = 0; t < uniforms.kChunk; t = t + ${TILE_K}) {
      let k0 = kBegin + t;
      for (var i = 0; i < ${loads}; i = i + 1) {
        let e = tid + i * ${threads};
        {
          ${slot(l.aAlongM)}
          let m = m0 + w;
          let k = k0 + kk;
          var v = 0.0;
          if (m < uniforms.M && k < kEnd) { v = loadA(rows[i], m, k); }
          tileA[kk * ${TILE_M} + w] = v;
        }
        {
          ${slot(l.bAlongN)}
          let n = n0 + w;
          let k = k0 + kk;
          var v = 0.0;
          if (n < uniforms.N && k < kEnd) { v = loadB(k, n); }
          tileB[kk * ${TILE_N} + w] = v;
        }
      }
      workgroupBarrier();
      for (var kk = 0; kk < ${TILE_K}; kk = kk + 1) {
        var a : array<f32, ${block}>;
        var b : array<f32, ${block}>;
        for (var i = 0; i < ${block}; i = i + 1) {
          a[i] = tileA[kk * ${TILE_M} + ty + ${side} * i];
          b[i] = tileB[kk * ${TILE_N} + tx + ${side} * i];
        }
        for (var i = 0; i < ${block}; i = i + 1) {
          for (var j = 0; j < ${block}; j = j + 1) {
            acc[i][j] = fma(a[i], b[j], acc[i][j]);
          }
        }
      }
      workgroupBarrier();
    }
    let base = split * uniforms.M * uniforms.N;
    for (var i = 0; i < ${block}; i = i + 1) {
      let m = m0 + ty + ${side} * i;
      if (m >= uniforms.M) { continue; }
      for (var j = 0; j < ${block}; j = j + 1) {
        let n = n0 + tx + ${side} * j;
        if (n < uniforms.N) { result[base + m * uniforms.N + n] = epilogue(acc[i][j], m, n); }
      }
    }
  }`;
}

/** The per-invocation block of the tiled product (8 x 8 outputs: fewer workgroup-memory reads per multiply-add). */
export let gemmBlock: GemmBlock = 8;

/** For measuring one block size against the other (scripts/bench-gpu-kernels.ts). */
export function setGemmBlock(b: GemmBlock): void {
  gemmBlock = b;
}

/**
 * A program for `gemmSource`: `zCount` chunks or batches of an M x N product, `outputShape` holding
 * zCount * M * N values (the caller's own shape when it is one product).
 */
export function gemmProgram(key: string, l: GemmLoaders, variableNames: string[], outputShape: number[], M: number, N: number, zCount: number): GpuProgram {
  const block = gemmBlock;
  return {
    shaderKey: `gn_gemm_${key}_b${gemmBlock}`,
    outputShape,
    variableNames,
    uniforms: `M : i32, N : i32, K : i32, kChunk : i32, ${l.uniforms}`,
    workgroupSize: [TILE_M / block, TILE_M / block, 1],
    dispatch: [ceilDiv(N, TILE_N), ceilDiv(M, TILE_M), zCount],
    dispatchLayout: { x: [0], y: [1] },
    getUserCode: () => gemmSource(l, block),
  };
}

/** result[i] = sum over s < splits of partial[s * size + i]: the chunks of a split-K product. */
export function sumSplitsProgram(outputShape: number[]): GpuProgram {
  return {
    shaderKey: 'gn_sum_splits',
    outputShape,
    variableNames: ['partial'],
    uniforms: 'splits : i32, ',
    workgroupSize: [64, 1, 1],
    dispatch: [ceilDiv(outputShape.reduce((a, b) => a * b, 1), 64), 1, 1],
    dispatchLayout: { x: outputShape.map((_, i) => i) },
    size: true,
    getUserCode: () => `
  fn main(index : i32) {
    if (index >= uniforms.size) { return; }
    var s = 0.0;
    for (var i = 0; i < uniforms.splits; i = i + 1) { s = s + partial[i * uniforms.size + index]; }
    result[index] = s;
  }`,
  };
}
