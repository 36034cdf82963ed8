/**
 * Helpers for kernels that run on the wasm backend and call its own (XNNPACK) kernels from inside.
 *
 * Rules every kernel here follows:
 * - Intermediate tensors made by inner kernel calls live only in the backend (the engine does not track
 *   them): each one is freed with `backend.disposeData` before the kernel returns. Freeing also drops
 *   any XNNPACK operator the wasm backend cached for that tensor id (conv filters, matmul weights).
 * - The wasm heap can grow (and its ArrayBuffer be replaced) on any allocation, so typed-array views
 *   of the heap are taken after the last allocation and never kept across kernel calls.
 */
import * as tf from '../../tf';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { simdKernels } from './simd/module';

export type { BackendWasm };
export type Info = tf.TensorInfo;

export interface KernelArgs {
  inputs: tf.NamedTensorInfoMap;
  backend: tf.KernelBackend;
  attrs?: tf.NamedAttrMap;
}

/** The wasm kernels registered before ours replaced some of them (so ours can fall back to them). */
const originals = new Map<string, tf.KernelConfig>();

/** Remember the wasm backend's own kernel before it is replaced. */
export function saveOriginal(name: string): tf.KernelConfig | undefined {
  if (!originals.has(name)) {
    const k = tf.getKernel(name, 'wasm');
    if (k) originals.set(name, k);
  }
  return originals.get(name);
}

/** The wasm backend's own kernel (the original where ours replaced it). */
export function wasmKernel(name: string): tf.KernelConfig {
  const k = originals.get(name) ?? tf.getKernel(name, 'wasm');
  if (!k) throw new Error(`the wasm backend has no ${name} kernel`);
  return k;
}

/** Run one of the wasm backend's kernels directly (not through the engine: nothing is tracked). */
export function run(backend: BackendWasm, name: string, inputs: Record<string, Info>, attrs: object = {}): Info {
  const out = wasmKernel(name).kernelFunc({
    inputs: inputs as tf.NamedTensorInfoMap,
    backend: backend as unknown as tf.KernelBackend,
    attrs: attrs as tf.NamedAttrMap,
  });
  if (Array.isArray(out)) throw new Error(`${name} returned several tensors`);
  return out as Info;
}

/** Free intermediates made by `run` or `backend.makeOutput`. */
export function dispose(backend: BackendWasm, ...infos: (Info | null | undefined)[]): void {
  for (const t of infos) if (t) backend.disposeData(t.dataId);
}

/** The same data seen with another shape (no copy; the caller must not dispose it). */
export function view(t: Info, shape: number[]): Info {
  return { dataId: t.dataId, shape, dtype: t.dtype };
}

/** A float32 view of a tensor's data on the wasm heap; valid until the next allocation. */
export function f32(backend: BackendWasm, t: Info): Float32Array {
  return backend.typedArrayFromHeap(t) as Float32Array;
}

export function sizeOf(shape: number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/**
 * The transpose of a 2-D view [rows, cols] of `t` (a new tensor [cols, rows]): 4x4 SIMD blocks
 * (transpose in ./simd/kernels.c), rows split over the threads.
 */
export function transposed2d(backend: BackendWasm, t: Info, rows: number, cols: number): Info {
  const out = backend.makeOutput([cols, rows], t.dtype);
  // transpose(src, dst, rows, cols, src row stride, dst row stride, r0, r1)
  simdKernels(backend).parallel('transpose', [memoryOffset(backend, t), memoryOffset(backend, out), rows, cols, cols, rows, 0, 0], 6, rows, rows * cols, 32);
  return out;
}

/** The wasm heap's buffer: take it again after any allocation (the heap may have grown). */
export function heapBuffer(backend: BackendWasm): ArrayBufferLike {
  return (backend.wasm as unknown as { HEAPU8: Uint8Array }).HEAPU8.buffer;
}

/**
 * Zeroed float64 scratch [threads][width] for kernels that sum per thread (their part index picks the
 * row; parts that do not run add 0). Free it with `dispose`.
 */
export function threadAccumulators(backend: BackendWasm, threads: number, width: number): Info {
  const acc = backend.makeOutput([threads, 2 * width], 'float32');
  new Float64Array(heapBuffer(backend), memoryOffset(backend, acc), threads * width).fill(0);
  return acc;
}

/** The rows of `threadAccumulators`' scratch added: [width] in float64. */
export function threadSums(backend: BackendWasm, acc: Info, threads: number, width: number): Float64Array {
  const parts = new Float64Array(heapBuffer(backend), memoryOffset(backend, acc), threads * width);
  const out = new Float64Array(width);
  for (let p = 0; p < threads; p++) for (let j = 0; j < width; j++) out[j] += parts[p * width + j];
  return out;
}

/** Byte offset of a tensor's data on the wasm heap. */
export function memoryOffset(backend: BackendWasm, t: Info): number {
  return (backend.dataIdMap.get(t.dataId) as unknown as { memoryOffset: number }).memoryOffset;
}
