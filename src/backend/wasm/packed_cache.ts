/**
 * Packed copies of weight tensors, kept from call to call while the weights stay the same tensor.
 *
 * Inference convolutions (./conv.ts) pack each filter into the GEMM's panel layout; a model's weights
 * are the same tensors from batch to batch, so the packing is done once per weight tensor and kept,
 * keyed by the tensor's dataId. tfjs never changes a tensor's data in place: a variable's assign() gives
 * it a new dataId (a training step's new weights are packed afresh), and the old entry is freed with
 * the data it was made from (the backend's disposeData is wrapped to drop it), so the cache holds at
 * most one packed copy per live weight tensor.
 */
import type { BackendWasm, Info } from './common';

type DataId = object;

const caches = new WeakMap<BackendWasm, Map<DataId, Info>>();

function cacheOf(backend: BackendWasm): Map<DataId, Info> {
  let cache = caches.get(backend);
  if (cache) return cache;
  const entries = new Map<DataId, Info>();
  cache = entries;
  caches.set(backend, entries);
  const disposeData = backend.disposeData.bind(backend);
  backend.disposeData = (dataId: DataId, force?: boolean): boolean => {
    const freed = disposeData(dataId, force);
    const packed = entries.get(dataId);
    if (packed && !backend.dataIdMap.has(dataId)) {
      entries.delete(dataId);
      disposeData(packed.dataId, true);
    }
    return freed;
  };
  return entries;
}

/**
 * The packed form of the tensor with `dataId`, made by `make` (a backend-owned tensor) on first use
 * and kept until that tensor's data is freed. The caller must not dispose what it gets.
 */
export function cachedPacking(backend: BackendWasm, dataId: DataId, make: () => Info): Info {
  const cache = cacheOf(backend);
  let packed = cache.get(dataId);
  if (!packed) {
    packed = make();
    cache.set(dataId, packed);
  }
  return packed;
}

/** How many packed copies a backend keeps now (for tests). */
export function cachedPackings(backend: BackendWasm): number {
  return caches.get(backend)?.size ?? 0;
}
