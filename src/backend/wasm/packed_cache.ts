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

/** Per weight tensor, its packed forms by kind (a filter may be packed for more than one kernel). */
type Entries = Map<DataId, Map<string, Info>>;

const caches = new WeakMap<BackendWasm, Entries>();

function cacheOf(backend: BackendWasm): Entries {
  let cache = caches.get(backend);
  if (cache) return cache;
  const entries: Entries = new Map();
  cache = entries;
  caches.set(backend, entries);
  const disposeData = backend.disposeData.bind(backend);
  backend.disposeData = (dataId: DataId, force?: boolean): boolean => {
    const freed = disposeData(dataId, force);
    const packed = entries.get(dataId);
    if (packed && !backend.dataIdMap.has(dataId)) {
      entries.delete(dataId);
      for (const p of packed.values()) disposeData(p.dataId, true);
    }
    return freed;
  };
  return entries;
}

/**
 * The packed form (`kind`) of the tensor with `dataId`, made by `make` (a backend-owned tensor) on
 * first use and kept until that tensor's data is freed. The caller must not dispose what it gets.
 */
export function cachedPacking(backend: BackendWasm, dataId: DataId, make: () => Info, kind = 'panels'): Info {
  const cache = cacheOf(backend);
  let forms = cache.get(dataId);
  if (!forms) {
    forms = new Map();
    cache.set(dataId, forms);
  }
  let packed = forms.get(kind);
  if (!packed) {
    packed = make();
    forms.set(kind, packed);
  }
  return packed;
}

/** How many packed copies a backend keeps now (for tests). */
export function cachedPackings(backend: BackendWasm): number {
  let n = 0;
  for (const forms of caches.get(backend)?.values() ?? []) n += forms.size;
  return n;
}
