/**
 * BatchMatMul for the wasm backend. The shipped kernel runs XNNPACK's GEMM only without transposes
 * (and batch 1); with transposeA or transposeB, which is every gradient of a dense layer, it falls
 * back to a scalar loop (~100 ms for a 2048x1024 fc gradient at batch 16). Here a transposed operand
 * is transposed explicitly, or the product is computed transposed (C^T = op(B)^T op(A)^T), whichever
 * moves less data, so that the GEMM always runs on XNNPACK.
 *
 * XNNPACK packs the second operand (the "weights") before multiplying, at several times the cost of
 * a transpose per element, and caches the packing per tensor: free for inference, where the weights
 * stay, but paid on every step of training, where they change. So while a gradient tape is recording
 * (training), products run on this project's SIMD kernels where they apply (`simdMatMul`), and
 * otherwise a product whose second operand is the larger one is computed transposed as well.
 */
import * as tf from '../../tf';
import { BackendWasm, Info, KernelArgs, dispose, f32, memoryOffset, run, sizeOf, transposed2d, view, wasmKernel } from './common';
import { simdConv2d } from './conv';
import { simdFilterGrad } from './conv_backprop';
import { PIECES, simdKernels } from './simd/module';

/**
 * Rows (a batch) up to which a dense layer's products read the weights in place (dense_forward; the
 * input gradient as the transposed product) rather than repacked: with few rows the product is a
 * pass over the weights, and packing them is two more.
 */
export const FEW_ROWS = 64;

/** Relative cost per element of XNNPACK's weight packing and of a transpose. */
const PACK = 8;
const TRANSPOSE = 1;

/**
 * The sizes of op(A) [m, k] . op(B) [k, n] where both operands hold one matrix (leading axes of size
 * 1) and the inner sizes agree, with the output's shape (the leading axes broadcast); else null.
 */
export function singleProduct(a: Info, b: Info, transposeA: boolean, transposeB: boolean): { m: number; k: number; n: number; outShape: number[] } | null {
  const ra = a.shape.length;
  const rb = b.shape.length;
  if (ra < 2 || rb < 2 || sizeOf(a.shape.slice(0, -2)) !== 1 || sizeOf(b.shape.slice(0, -2)) !== 1) return null;
  const [a0, a1] = a.shape.slice(ra - 2);
  const [b0, b1] = b.shape.slice(rb - 2);
  const m = transposeA ? a1 : a0;
  const k = transposeA ? a0 : a1;
  const n = transposeB ? b0 : b1;
  if (k !== (transposeB ? b1 : b0)) return null;
  return { m, k, n, outShape: tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2)).concat([m, n]) };
}

export function batchMatMul(args: KernelArgs): Info {
  const backend = args.backend as unknown as BackendWasm;
  const { a, b } = args.inputs as { a: Info; b: Info };
  const { transposeA, transposeB } = args.attrs as unknown as { transposeA: boolean; transposeB: boolean };
  const original = () => wasmKernel('BatchMatMul').kernelFunc(args as never) as Info;
  const training = tf.engine().state.gradientDepth > 0;
  if ((!transposeA && !transposeB && !training) || a.dtype !== 'float32' || b.dtype !== 'float32') return original();
  const dims = singleProduct(a, b, transposeA, transposeB);
  if (!dims) return original(); // batched, or a mismatch the shipped kernel reports
  const { m, k, n, outShape } = dims;
  const [a0, a1] = a.shape.slice(-2);
  const [b0, b1] = b.shape.slice(-2);
  if (training && m * k * n > 0) {
    const product = simdMatMul(backend, a, b, transposeA, transposeB, m, k, n);
    if (product) return view(product, outShape);
  }
  const sa = m * k;
  const sb = k * n;
  const direct = TRANSPOSE * ((transposeA ? sa : 0) + (transposeB ? sb : 0)) + PACK * sb;
  const flipped = TRANSPOSE * ((transposeB ? 0 : sb) + (transposeA ? 0 : sa) + m * n) + PACK * sa;
  if (direct <= flipped) {
    if (!transposeA && !transposeB) return original();
    const A = transposeA ? transposed2d(backend, a, a0, a1) : a;
    const B = transposeB ? transposed2d(backend, b, b0, b1) : b;
    const out = run(backend, 'BatchMatMul', { a: view(A, [1, m, k]), b: view(B, [1, k, n]) }, { transposeA: false, transposeB: false });
    dispose(backend, A === a ? null : A, B === b ? null : B);
    return view(out, outShape);
  }
  // C^T [n, m] = op(B)^T [n, k] . op(A)^T [k, m]
  const A2 = transposeB ? b : transposed2d(backend, b, b0, b1);
  const B2 = transposeA ? a : transposed2d(backend, a, a0, a1);
  const outT = run(backend, 'BatchMatMul', { a: view(A2, [1, n, k]), b: view(B2, [1, k, m]) }, { transposeA: false, transposeB: false });
  const out = transposed2d(backend, outT, n, m);
  dispose(backend, outT, A2 === b ? null : A2, B2 === a ? null : B2);
  return view(out, outShape);
}

/** A dense layer's input [rows, 1, 1, features], for the SIMD convolution kernels. */
function denseInfo(rows: number, k: number, n: number): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computeConv2DInfo([rows, 1, 1, k], [1, 1, k, n], 1, 1, 'valid');
}

/**
 * The products of a dense layer's training step on the SIMD kernels (./conv.ts, ./conv_backprop.ts),
 * A [m, k] the layer's input (or dy), B its weights:
 * - A B (forward): with few rows, `denseProduct` (B read in place; `denseForward` where the rows are
 *   not a multiple of 4); else a 1x1 convolution over rows with B as the filter;
 * - A B^T (input gradient): with few rows (a multiple of 8) and B's rows a multiple of 4, the
 *   transposed product (A B^T)^T = B A^T by `denseProduct`, B's rows read in place and A^T (small) as
 *   the other operand; else a convolution with B^T as the filter;
 * - A^T B (weight gradient): with few rows (the inner size here), `denseProduct` on A^T (small); else
 *   a filter gradient.
 * XNNPACK would re-pack the weights on every call (a 2048x1024 aux-head layer: ~10 ms a product).
 * Null where the kernels do not apply.
 */
function simdMatMul(backend: BackendWasm, a: Info, b: Info, transposeA: boolean, transposeB: boolean, m: number, k: number, n: number): Info | null {
  if (transposeA && !transposeB) {
    if (k > FEW_ROWS || m % 4 !== 0 || n % 8 !== 0) return simdFilterGrad(backend, view(a, [k, 1, 1, m]), view(b, [k, 1, 1, n]), denseInfo(k, m, n));
    const aT = transposed2d(backend, a, k, m); // [m, k]
    const out = denseProduct(backend, aT, k, b, m, k, n);
    dispose(backend, aT);
    return out;
  }
  if (transposeA) return null;
  if (transposeB && m <= FEW_ROWS && m % 8 === 0 && n % 4 === 0) {
    const aT = transposed2d(backend, a, m, k); // [k, m]
    const outT = denseProduct(backend, b, k, aT, n, k, m); // [n, m] = B [n, k] . A^T [k, m]
    const out = transposed2d(backend, outT, n, m);
    dispose(backend, aT, outT);
    return out;
  }
  if (n % 8 !== 0) return null;
  if (!transposeB && m <= FEW_ROWS) return m % 4 === 0 ? denseProduct(backend, a, k, b, m, k, n) : denseForward(backend, a, b, m, k, n);
  const B = transposeB ? transposed2d(backend, b, n, k) : b; // [k, n]
  const out = simdConv2d(backend, view(a, [m, 1, 1, k]), view(B, [1, 1, k, n]), null, false, denseInfo(m, k, n));
  dispose(backend, B === b ? null : B);
  return out;
}

/** Row tiles per work item and rows of b per block in dense_product (DG, DK in ./simd/kernels.c). */
const DENSE_GROUP = 16;
const DENSE_BLOCK = 256;

/**
 * y [m, n] = a [m, k] (row stride lda) . b [k, n], both read in place (dense_product in
 * ./simd/kernels.c); m a multiple of 4, n of 8. Items (groups of row tiles x pairs of 8-column panels)
 * are claimed by the threads in chunks.
 */
function denseProduct(backend: BackendWasm, a: Info, lda: number, b: Info, m: number, k: number, n: number): Info {
  const simd = simdKernels(backend);
  const out = backend.makeOutput([m, n], 'float32');
  const scratch = backend.makeOutput([simd.threads, DENSE_BLOCK * 16], 'float32');
  const items = Math.ceil(m / 4 / DENSE_GROUP) * Math.ceil(n / 16);
  // dense_product(a, lda, b, scratch, y, m, k, n, part, i0, i1)
  simd.parallel(
    'dense_product',
    [memoryOffset(backend, a), lda, memoryOffset(backend, b), memoryOffset(backend, scratch), memoryOffset(backend, out), m, k, n, 0, 0, 0],
    9,
    items,
    m * k * n,
    1,
    8,
    PIECES,
  );
  dispose(backend, scratch);
  return out;
}

/**
 * y [m, n] = a [m, k] . b [k, n] (+ bias [n], then ReLU where `relu`), b read in place (dense_forward in
 * ./simd/kernels.c); n a multiple of 8.
 */
export function denseForward(backend: BackendWasm, a: Info, b: Info, m: number, k: number, n: number, bias: Info | null = null, relu = false): Info {
  const simd = simdKernels(backend);
  const out = backend.makeOutput([m, n], 'float32');
  const scratch = backend.makeOutput([simd.threads, 4 * k], 'float32');
  const zeros = bias ? null : backend.makeOutput([n], 'float32');
  if (zeros) f32(backend, zeros).fill(0);
  // dense_forward(a, b, bias, scratch, y, m, k, n, relu, part, cb0, cb1), split over pairs of 8-column
  // panels (a pair shares b's cache lines)
  simd.parallel(
    'dense_forward',
    [memoryOffset(backend, a), memoryOffset(backend, b), memoryOffset(backend, bias ?? zeros!), memoryOffset(backend, scratch), memoryOffset(backend, out), m, k, n, relu ? 1 : 0, 0, 0, 0],
    10,
    n / 8,
    m * k * n,
    2,
    9,
    PIECES,
  );
  dispose(backend, scratch, zeros);
  return out;
}
