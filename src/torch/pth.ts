/**
 * Reads a PyTorch state dict (`torch.save(model.state_dict(), f)`) without executing anything.
 *
 * Two formats:
 * - zip (torch >= 1.6): `<name>/data.pkl` is the pickle, each storage is the entry `<name>/data/<key>`
 *   (stored uncompressed by torch; deflated entries are read too), optional `<name>/byteorder`; every
 *   entry's CRC-32 is checked (zip.ts).
 * - legacy (`_use_new_zipfile_serialization=False`, and torchvision's `googlenet-1378be20.pth`): pickles
 *   of the magic number 0x1950a86a20f9469cfc6c, the protocol version 1001, the system info and the
 *   object (storages as persistent ids), then the pickled list of storage keys, then per key an int64
 *   element count and the raw little-endian data.
 *
 * Every tensor comes back as float32 in PyTorch's layout (OIHW, [out, in]) with its original dtype
 * named: float64, float16 and bfloat16 are converted; integer and bool tensors (BatchNorm's int64
 * `num_batches_tracked`) are returned too, their values as float32 (exact up to 2^24). Strided views
 * (a transposed tensor, a slice) are materialised in row-major order. A dict that is not a plain state
 * dict but holds one under `state_dict`, `model_state_dict` or `model` (a training checkpoint) gives that.
 */
import { GlobalHandler, PthError, PyDict, PyGlobal, PyOpaque, PyTuple, PyValue, describe, printable, unpickle } from './pickle';
import { readZipArchive } from './zip';
import { formatDims } from '../util/dims';

export { PthError } from './pickle';

export interface TorchTensor {
  /** PyTorch's shape: conv weights [out, in, kh, kw], Linear weights [out, in]. */
  shape: number[];
  /** The dtype in the file: float32, float64, float16, bfloat16, int64, int32, int16, int8, uint8, bool. */
  dtype: string;
  /** The values, row-major, as float32. */
  data: Float32Array;
}

interface DTypeInfo {
  dtype: string;
  size: number;
  read: (v: DataView, byteOffset: number) => number;
}

const scratch = new DataView(new ArrayBuffer(4));

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** torch.<Name>Storage -> element type. Anything else as a storage type is refused by the unpickler. */
const STORAGE_TYPES: Record<string, DTypeInfo> = {
  FloatStorage: { dtype: 'float32', size: 4, read: (v, o) => v.getFloat32(o, true) },
  DoubleStorage: { dtype: 'float64', size: 8, read: (v, o) => v.getFloat64(o, true) },
  HalfStorage: { dtype: 'float16', size: 2, read: (v, o) => halfToFloat(v.getUint16(o, true)) },
  BFloat16Storage: {
    dtype: 'bfloat16',
    size: 2,
    read: (v, o) => (scratch.setUint32(0, v.getUint16(o, true) << 16), scratch.getFloat32(0)),
  },
  LongStorage: { dtype: 'int64', size: 8, read: (v, o) => Number(v.getBigInt64(o, true)) },
  IntStorage: { dtype: 'int32', size: 4, read: (v, o) => v.getInt32(o, true) },
  ShortStorage: { dtype: 'int16', size: 2, read: (v, o) => v.getInt16(o, true) },
  CharStorage: { dtype: 'int8', size: 1, read: (v, o) => v.getInt8(o) },
  ByteStorage: { dtype: 'uint8', size: 1, read: (v, o) => v.getUint8(o) },
  BoolStorage: { dtype: 'bool', size: 1, read: (v, o) => (v.getUint8(o) ? 1 : 0) },
};

/** A storage named by a persistent id; `offset` (elements) is a legacy storage view into its root. */
class StorageRef extends PyOpaque {
  readonly kind = 'a storage';
  constructor(readonly key: string, readonly info: DTypeInfo, readonly numel: number, readonly offset = 0) {
    super();
  }
}

class TensorRef extends PyOpaque {
  readonly kind = 'a tensor';
  constructor(readonly storage: StorageRef, readonly offset: number, readonly shape: number[], readonly stride: number[]) {
    super();
  }
}

function damaged(msg: string): never {
  throw new PthError(`damaged or unsupported file: ${msg}`);
}

function count(v: PyValue | undefined, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    damaged(`${what} is ${typeof v === 'number' ? v : describe(v)}, not a count`);
  }
  return v;
}

function counts(v: PyValue | undefined, what: string): number[] {
  if (!(v instanceof PyTuple)) damaged(`${what} is ${describe(v)}, not a tuple`);
  return v.items.map((x, i) => count(x, `${what}[${i}]`));
}

function rebuildTensor(args: readonly PyValue[]): TensorRef {
  const [storage, offset, size, stride] = args;
  if (!(storage instanceof StorageRef)) damaged(`a tensor is built from ${describe(storage)}, not a storage`);
  const shape = counts(size, 'a tensor shape');
  const strides = counts(stride, 'a tensor stride');
  if (shape.length !== strides.length) damaged(`a tensor has shape ${formatDims(shape)} but strides ${formatDims(strides)}`);
  return new TensorRef(storage, count(offset, 'a storage offset'), shape, strides);
}

function rebuildParameter(args: readonly PyValue[]): TensorRef {
  if (!(args[0] instanceof TensorRef)) damaged(`a Parameter wraps ${describe(args[0])}, not a tensor`);
  return args[0];
}

function orderedDict(args: readonly PyValue[]): PyDict {
  const d = new PyDict(true);
  const items = args[0];
  if (args.length === 0 || items === undefined) return d;
  if (!Array.isArray(items)) damaged(`OrderedDict built from ${describe(items)}`);
  for (const it of items) {
    if (!(it instanceof PyTuple) || it.items.length !== 2) damaged('OrderedDict item is not a pair');
    d.map.set(it.items[0], it.items[1]);
  }
  return d;
}

/** The allow-list: what torch 1.13 writes for a state dict of dense tensors (plus the older _rebuild_tensor and
 * torch 2.x's _rebuild_parameter_with_state); nothing else. Storage classes may be named, not called. */
const GLOBALS: ReadonlyMap<string, GlobalHandler | null> = new Map<string, GlobalHandler | null>([
  ['collections.OrderedDict', orderedDict],
  ['torch._utils._rebuild_tensor_v2', rebuildTensor],
  ['torch._utils._rebuild_tensor', rebuildTensor],
  ['torch._utils._rebuild_parameter', rebuildParameter],
  ['torch._utils._rebuild_parameter_with_state', rebuildParameter],
  ...Object.keys(STORAGE_TYPES).map((n): [string, null] => [`torch.${n}`, null]),
]);

/** persistent_load for both formats: ('storage', torch.XStorage, key, location, numel[, view_metadata]). */
function storageLoader(): { load: (pid: PyValue) => PyValue; roots: Map<string, StorageRef> } {
  const roots = new Map<string, StorageRef>();
  const load = (pid: PyValue): PyValue => {
    if (!(pid instanceof PyTuple) || pid.items[0] !== 'storage' || pid.items.length < 5) {
      damaged(`unexpected persistent id ${describe(pid)}`);
    }
    const [, type, key, , numel, view] = pid.items;
    const known = type instanceof PyGlobal && type.module === 'torch' && Object.prototype.hasOwnProperty.call(STORAGE_TYPES, type.name);
    if (!known) damaged(`storage type ${describe(type)}`);
    if (typeof key !== 'string') damaged(`storage key is ${describe(key)}`);
    const info = STORAGE_TYPES[(type as PyGlobal).name];
    let root = roots.get(key);
    if (!root) roots.set(key, (root = new StorageRef(key, info, count(numel, `storage '${printable(key)}' size`))));
    if (root.info !== info) damaged(`storage '${printable(key)}' is both ${root.info.dtype} and ${info.dtype}`);
    if (view === undefined || view === null) return root;
    if (!(view instanceof PyTuple) || view.items.length !== 3) damaged(`storage view of '${printable(key)}' is ${describe(view)}`);
    const offset = count(view.items[1], `storage view offset of '${printable(key)}'`);
    return new StorageRef(key, info, count(view.items[2], `storage view size of '${printable(key)}'`), offset);
  };
  return { load, roots };
}

const MAX_ELEMENTS = 2 ** 30;
/**
 * Elements a file may expand to beyond its own size: overlapping views (an expanded tensor, stride 0)
 * and views sharing one storage give more elements than the file holds bytes. Over the whole file the
 * output stays under (file bytes + this) elements, so a small damaged file cannot ask for gigabytes.
 */
const OVERLAP_ELEMENTS = 2 ** 22;

/** Elements still allowed for the rest of the file's tensors (see OVERLAP_ELEMENTS). */
interface Budget {
  elements: number;
}

function materialise(name: string, t: TensorRef, data: Uint8Array, budget: Budget): TorchTensor {
  const { shape, stride } = t;
  const { info, key } = t.storage;
  let numel = 1;
  for (const s of shape) numel *= s;
  const available = Math.floor(data.length / info.size);
  // Only overlapping views (an expanded tensor, stride 0) have more elements than their storage.
  if (numel > Math.max(available, OVERLAP_ELEMENTS)) {
    throw new PthError(`tensor '${printable(name)}' has ${numel} elements ${formatDims(shape)} from a storage of ${available}: too large to load`);
  }
  if (numel > budget.elements) {
    throw new PthError(`tensor '${printable(name)}' has ${numel} elements ${formatDims(shape)}, more than the file's size allows (${budget.elements} left): damaged file`);
  }
  budget.elements -= numel;
  const out = new Float32Array(numel);
  const base = t.storage.offset + t.offset;
  if (numel === 0) return { shape: [...shape], dtype: info.dtype, data: out };
  let last = base;
  shape.forEach((s, k) => (last += (s - 1) * stride[k]));
  if (last >= available) {
    throw new PthError(`tensor '${printable(name)}' reads element ${last} of storage '${printable(key)}', which holds ${available} (${data.length} bytes): damaged or truncated file`);
  }
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const { read, size } = info;
  let contiguous = true;
  for (let k = shape.length - 1, expect = 1; k >= 0; k--) {
    if (shape[k] !== 1 && stride[k] !== expect) contiguous = false;
    expect *= shape[k];
  }
  if (contiguous) {
    for (let i = 0; i < numel; i++) out[i] = read(view, (base + i) * size);
  } else {
    const idx = new Array<number>(shape.length).fill(0);
    let at = base;
    for (let i = 0; i < numel; i++) {
      out[i] = read(view, at * size);
      for (let k = shape.length - 1; k >= 0; k--) {
        if (++idx[k] < shape[k]) {
          at += stride[k];
          break;
        }
        at -= (shape[k] - 1) * stride[k];
        idx[k] = 0;
      }
    }
  }
  return { shape: [...shape], dtype: info.dtype, data: out };
}

interface Loaded {
  root: PyValue;
  data: (storage: StorageRef) => Uint8Array;
}

const ZIP_MAGIC = [0x50, 0x4b, 0x03, 0x04];
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
/** The magic number as torch.save pickles it: PROTO 2, LONG1 of 10 bytes, STOP. */
const LEGACY_PREFIX = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e];

function startsWith(bytes: Uint8Array, prefix: number[]): boolean {
  return bytes.length >= prefix.length && prefix.every((b, i) => bytes[i] === b);
}

/** A truncated file that is a proper prefix of a known header. */
function isPrefixOf(bytes: Uint8Array, header: number[]): boolean {
  return bytes.length > 0 && bytes.length < header.length && [...bytes].every((b, i) => b === header[i]);
}

function readZip(bytes: Uint8Array): Loaded {
  const files = readZipArchive(bytes);
  const pkl = [...files.keys()].find((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (!pkl) throw new PthError('not a PyTorch file: a zip archive without <name>/data.pkl');
  const prefix = pkl.slice(0, -'data.pkl'.length);
  const order = files.get(`${prefix}byteorder`);
  if (order && new TextDecoder().decode(order) !== 'little') throw new PthError('big-endian PyTorch files are not supported');
  const { load } = storageLoader();
  const { value } = unpickle(files.get(pkl)!, 0, { globals: GLOBALS, persistentLoad: load, source: 'data.pkl' });
  const data = (s: StorageRef): Uint8Array => {
    const d = files.get(`${prefix}data/${s.key}`);
    if (!d) damaged(`storage '${printable(s.key)}' is missing from the archive (${printable(prefix + 'data/' + s.key)})`);
    return d;
  };
  return { root: value, data };
}

function readLegacy(bytes: Uint8Array): Loaded {
  const none = new Map<string, null>();
  const magic = unpickle(bytes, 0, { globals: none, source: 'file' });
  if (magic.value !== LEGACY_MAGIC) throw new PthError('not a PyTorch file (a pickle without the torch.save magic number)');
  const version = unpickle(bytes, magic.end, { globals: none, source: 'file' });
  if (version.value !== 1001) throw new PthError(`unsupported legacy PyTorch protocol version ${String(version.value)} (expected 1001)`);
  const sys = unpickle(bytes, version.end, { globals: none, source: 'file' });
  if (sys.value instanceof PyDict && sys.value.map.get('little_endian') === false) {
    throw new PthError('big-endian PyTorch files are not supported');
  }
  const { load, roots } = storageLoader();
  const main = unpickle(bytes, sys.end, { globals: GLOBALS, persistentLoad: load, source: 'file' });
  const keys = unpickle(bytes, main.end, { globals: none, source: 'file' });
  if (!Array.isArray(keys.value)) damaged(`the storage key list is ${describe(keys.value)}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const blobs = new Map<string, Uint8Array>();
  let pos = keys.end;
  for (const key of keys.value) {
    if (typeof key !== 'string') damaged(`a storage key is ${describe(key)}`);
    const root = roots.get(key);
    if (!root) damaged(`storage '${printable(key)}' is listed but no tensor uses it`);
    const truncated = (what: string) =>
      new PthError(`truncated (file ends at byte ${bytes.length} while reading ${what} of storage '${printable(key)}' at byte ${pos})`);
    if (pos + 8 > bytes.length) throw truncated('the element count');
    const n = view.getBigInt64(pos, true);
    if (n < 0n || n > BigInt(MAX_ELEMENTS)) damaged(`storage '${printable(key)}' claims ${n} elements`);
    pos += 8;
    const len = Number(n) * root.info.size;
    if (pos + len > bytes.length) throw truncated(`the ${len} data bytes`);
    blobs.set(key, bytes.subarray(pos, pos + len));
    pos += len;
  }
  const data = (s: StorageRef): Uint8Array => blobs.get(s.key) ?? damaged(`storage '${printable(s.key)}' is not in the file`);
  return { root: main.value, data };
}

function open(bytes: Uint8Array): Loaded {
  if (bytes.length === 0) throw new PthError('not a PyTorch file (it is empty)');
  if (startsWith(bytes, ZIP_MAGIC)) return readZip(bytes);
  if (startsWith(bytes, LEGACY_PREFIX)) return readLegacy(bytes);
  if (isPrefixOf(bytes, ZIP_MAGIC) || isPrefixOf(bytes, LEGACY_PREFIX)) {
    throw new PthError(`truncated (file ends at byte ${bytes.length} while reading the file header)`);
  }
  if (bytes.length > 262 && new TextDecoder('latin1').decode(bytes.subarray(257, 262)) === 'ustar') {
    throw new PthError('not supported: a tar-format PyTorch file (torch < 0.4); load and re-save it with a newer torch');
  }
  if (bytes[0] === 0x80) {
    let magic: PyValue = null;
    try {
      magic = unpickle(bytes, 0, { globals: new Map(), source: 'file' }).value;
    } catch {
      // not a pickle we can read: fall through
    }
    if (magic === LEGACY_MAGIC) return readLegacy(bytes);
  }
  const head = [...bytes.subarray(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  throw new PthError(`not a PyTorch file (it starts with ${head}; a .pth file is a zip archive or starts with torch.save's magic number)`);
}

function isTensorDict(v: PyValue | undefined): v is PyDict {
  return v instanceof PyDict && [...v.map.values()].every((x) => x instanceof TensorRef);
}

/** The state dict in the file: the top-level dict, or the one under a usual checkpoint key. */
function findStateDict(root: PyValue): PyDict {
  if (isTensorDict(root)) return root;
  if (!(root instanceof PyDict)) throw new PthError(`the file holds ${describe(root)}, not a state dict: save model.state_dict()`);
  for (const k of ['state_dict', 'model_state_dict', 'model']) {
    const v = root.map.get(k);
    if (isTensorDict(v)) return v;
  }
  const [bad, v] = [...root.map.entries()].find(([, x]) => !(x instanceof TensorRef)) as [PyValue, PyValue];
  const keys = printable([...root.map.keys()].slice(0, 8).map((k) => String(k)).join(', '));
  throw new PthError(`the file's dict is not a state dict: '${printable(String(bad))}' is ${describe(v)}, not a tensor (keys: ${keys}); save model.state_dict()`);
}

/** Read a `.pth` state dict (either format); keys in file order. Throws PthError on anything else. */
export function readStateDict(bytes: Uint8Array): Map<string, TorchTensor> {
  const { root, data } = open(bytes);
  const sd = findStateDict(root);
  const out = new Map<string, TorchTensor>();
  const budget: Budget = { elements: bytes.length + OVERLAP_ELEMENTS };
  for (const [k, v] of sd.map) {
    if (typeof k !== 'string') throw new PthError(`a state dict key is ${describe(k)}, not a str`);
    const t = v as TensorRef;
    out.set(k, materialise(k, t, data(t.storage), budget));
  }
  return out;
}
