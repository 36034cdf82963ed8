/**
 * Slice, SplitV, Concat and Identity for the wasm backend without whole-tensor copies. The shipped Slice
 * reads its whole input out of the heap (`readSync`, a copy) before slicing, once per output, so SplitV
 * (the gradient of every inception concat) copies its input once per branch; Identity copies too. Here
 * slices copy only their own bytes, run by run, inside the heap (memmove), and Identity shares the data
 * (reference-counted, as the cpu backend and the wasm Reshape do). A float32 Concat or SplitV on the
 * last axis (every inception block's output, its gradient, the shared-input convolutions' split) is one
 * call of the SIMD module's join_rows over the rows, split over the threads (the shipped Concat copies
 * row by row in JavaScript: ~2.9 ms for inception3a's output at 112 px, batch 16); other slices whose
 * runs are rows at one stride go through copy_block.
 */
import * as tf from '../../tf';
import { BackendWasm, Info, KernelArgs, dispose, heapBuffer, memoryOffset, sizeOf, wasmKernel } from './common';
import { PIECES, simdKernels } from './simd/module';

/**
 * Copy [rows, cols] between two row-major views with row strides `from` and `to` (copy_block), where
 * src and dst are byte offsets in the heap.
 */
function copyBlock(backend: BackendWasm, src: number, dst: number, rows: number, cols: number, from: number, to: number): void {
  // copy_block(src, dst, cols, sstride, dstride, r0, r1), split over rows
  simdKernels(backend).parallel('copy_block', [src, dst, cols, from, to, 0, 0], 5, rows, rows * cols, 1, -1, PIECES);
}

/**
 * A concat (gather) or split of float32 `parts` on the last axis of `wide` [rows, c], in one call
 * (join_rows, split over rows): each row of wide is written or read once, front to back, where a
 * copy_block per part would make one pass per part with gaps.
 */
function joinRows(backend: BackendWasm, wide: Info, parts: Info[], gather: boolean): void {
  const c = wide.shape[wide.shape.length - 1];
  const rows = sizeOf(wide.shape) / c;
  const table = backend.makeOutput([2 * parts.length], 'int32');
  const t = new Int32Array(heapBuffer(backend), memoryOffset(backend, table), 2 * parts.length);
  parts.forEach((p, i) => {
    t[2 * i] = memoryOffset(backend, p);
    t[2 * i + 1] = p.shape[p.shape.length - 1];
  });
  // join_rows(wide, table, parts, c, gather, r0, r1), split over rows
  simdKernels(backend).parallel('join_rows', [memoryOffset(backend, wide), memoryOffset(backend, table), parts.length, c, gather ? 1 : 0, 0, 0], 5, rows, rows * c, 1, -1, PIECES);
  dispose(backend, table);
}

function bytesPerElement(dtype: tf.DataType): number {
  return dtype === 'bool' ? 1 : 4;
}

/** Copy x[begin : begin + size] into `out` (a new tensor of shape `size`). */
function copySlice(backend: BackendWasm, x: Info, begin: number[], size: number[], out: Info): void {
  const shape = x.shape;
  const rank = shape.length;
  const bpe = bytesPerElement(x.dtype);
  // The innermost block that is contiguous in x: dims j..rank-1 where all dims after j are whole.
  let j = rank - 1;
  while (j > 0 && size[j] === shape[j]) j--;
  let run = 1;
  for (let d = j; d < rank; d++) run *= size[d];
  if (run === 0) return;
  const strides = new Array<number>(rank).fill(1);
  for (let d = rank - 2; d >= 0; d--) strides[d] = strides[d + 1] * shape[d + 1];
  let src = 0;
  for (let d = 0; d < rank; d++) src += begin[d] * strides[d];
  const heap = (backend.wasm as unknown as { HEAPU8: Uint8Array }).HEAPU8;
  const xBase = memoryOffset(backend, x);
  let dst = memoryOffset(backend, out);
  // Outer dims that fold into one (all whole but the first): the runs are rows at one stride, copied
  // on the SIMD module and split over the threads (every inception concat's gradient, a channel split).
  if (bpe === 4 && j > 0 && size.slice(1, j).every((n, i) => begin[i + 1] === 0 && n === shape[i + 1])) {
    copyBlock(backend, xBase + src * bpe, dst, sizeOf(size.slice(0, j)), run, strides[j - 1], run);
    return;
  }
  const runBytes = run * bpe;
  // Odometer over the outer dims 0..j-1.
  const idx = new Array<number>(j).fill(0);
  for (;;) {
    heap.copyWithin(dst, xBase + src * bpe, xBase + src * bpe + runBytes);
    dst += runBytes;
    let d = j - 1;
    while (d >= 0) {
      idx[d]++;
      src += strides[d];
      if (idx[d] < size[d]) break;
      src -= size[d] * strides[d];
      idx[d] = 0;
      d--;
    }
    if (d < 0) return;
  }
}

export function slice(args: KernelArgs): Info {
  const backend = args.backend as unknown as BackendWasm;
  const { x } = args.inputs as { x: Info };
  if (x.dtype === 'string' || x.dtype === 'complex64') return wasmKernel('Slice').kernelFunc(args as never) as Info;
  const { begin, size } = args.attrs as unknown as { begin: number | number[]; size: number | number[] };
  const [b, s] = tf.slice_util.parseSliceParams(x, begin, size);
  const out = backend.makeOutput(s, x.dtype);
  copySlice(backend, x, b, s, out);
  return out;
}

export function splitV(args: KernelArgs): Info[] {
  const backend = args.backend as unknown as BackendWasm;
  const { x } = args.inputs as { x: Info };
  if (x.dtype === 'string' || x.dtype === 'complex64') return wasmKernel('SplitV').kernelFunc(args as never) as Info[];
  const { numOrSizeSplits, axis } = args.attrs as unknown as { numOrSizeSplits: number | number[]; axis: number };
  const ax = tf.util.parseAxisParam(axis, x.shape)[0];
  const sizes = tf.backend_util.prepareSplitSize(x, numOrSizeSplits, ax);
  if (x.dtype === 'float32' && ax === x.shape.length - 1 && ax > 0 && sizes.length > 1 && sizes.every((n) => n > 0)) {
    const outs = sizes.map((n) => backend.makeOutput([...x.shape.slice(0, ax), n], 'float32'));
    joinRows(backend, x, outs, false);
    return outs;
  }
  const begin = new Array<number>(x.shape.length).fill(0);
  return sizes.map((n) => {
    const size = x.shape.slice();
    size[ax] = n;
    const out = backend.makeOutput(size, x.dtype);
    copySlice(backend, x, begin, size, out);
    begin[ax] += n;
    return out;
  });
}

export function concat(args: KernelArgs): Info {
  const backend = args.backend as unknown as BackendWasm;
  const inputs = args.inputs as unknown as Info[];
  const { axis } = args.attrs as unknown as { axis: number | number[] };
  const rank = inputs[0].shape.length;
  const ax = tf.util.parseAxisParam(axis, inputs[0].shape)[0];
  const parts = inputs.filter((t) => sizeOf(t.shape) > 0);
  if (rank < 2 || ax !== rank - 1 || parts.length < 2 || parts.some((t) => t.dtype !== 'float32')) return wasmKernel('Concat').kernelFunc(args as never) as Info;
  // Two or more parts, none empty: the output has rows and columns.
  const out = backend.makeOutput(tf.backend_util.computeOutShape(inputs.map((t) => t.shape), ax), 'float32');
  joinRows(backend, out, parts, true);
  return out;
}

export function identity(args: KernelArgs): Info {
  const backend = args.backend as unknown as BackendWasm;
  const { x } = args.inputs as { x: Info };
  if (x.dtype === 'string') return wasmKernel('Identity').kernelFunc(args as never) as Info;
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}
