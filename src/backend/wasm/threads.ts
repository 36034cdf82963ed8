/**
 * The wasm backend on several threads in Node.
 *
 * tfjs-backend-wasm ships a threaded build (XNNPACK on a pthreadpool over shared wasm memory), but
 * turns it off in Node (tensorflow/tfjs#3830: its pthread worker is a Blob URL, which Node's
 * worker_threads cannot start). Here the threaded module is started with a real worker script
 * (./pthread_worker.js) and a `BackendWasm` is built on it, registered under the usual name 'wasm',
 * so every wasm kernel (tfjs's and this project's) runs unchanged, with XNNPACK's convolutions and
 * matrix products split over the threads.
 *
 * What else the threaded build needs in Node, done here:
 * - its C++ start-up caps the pool at half the logical CPUs (it assumes two hyper-threads per core),
 *   which on a 2-vCPU machine means one thread: the CPU count it reads (os.cpus()) is doubled while
 *   the module starts, so the cap becomes the real count;
 * - its idle workers are unref'd but the pool's running ones are not, so a finished program would never
 *   exit: they are unref'd once the pool exists;
 * - its process handlers only re-throw, but make Node print the module's minified source above any
 *   uncaught error: they are removed;
 * - its heap views are refreshed only by the thread that grows the memory: they become getters that
 *   check the shared buffer.
 */
import * as path from 'path';
import * as tf from '../../tf';

/**
 * The most threads the wasm backend runs on: this project's kernels (./simd/module.ts, where a
 * training step spends nearly all its time) split their calls over up to this many, with helper
 * threads of their own.
 */
export const MAX_WASM_THREADS = 16;

/** The largest pool the threaded build preallocates workers for: XNNPACK's kernels use at most these. */
export const MAX_XNNPACK_THREADS = 8;

interface EmscriptenWorker {
  unref(): void;
}

interface ThreadedModule {
  cwrap(name: string, ret: string | null, args: string[]): (...a: number[]) => number;
  PThread: { runningWorkers: EmscriptenWorker[] };
  /** The shared WebAssembly.Memory (typed structurally: tslab compiles without the WebAssembly lib). */
  wasmMemory: { buffer: ArrayBufferLike };
  tfjs?: Record<string, unknown>;
  [k: string]: unknown;
}

/** The typed-array views the backend reads (`wasm.HEAPU8` ...); kept in step with the shared memory. */
const HEAP_VIEWS = {
  HEAP8: Int8Array,
  HEAP16: Int16Array,
  HEAP32: Int32Array,
  HEAPU8: Uint8Array,
  HEAPU16: Uint16Array,
  HEAPU32: Uint32Array,
  HEAPF32: Float32Array,
  HEAPF64: Float64Array,
} as const;

/**
 * Emscripten refreshes the module's heap views when the thread that grows the memory is the main one.
 * Make every view a getter that re-creates it whenever the shared buffer has grown, wherever it grew.
 */
function keepHeapViewsFresh(mod: ThreadedModule): void {
  for (const [name, Ctor] of Object.entries(HEAP_VIEWS)) {
    let view = mod[name] as ArrayBufferView;
    Object.defineProperty(mod, name, {
      configurable: true,
      enumerable: true,
      get() {
        if (view.buffer !== mod.wasmMemory.buffer) view = new Ctor(mod.wasmMemory.buffer as ArrayBuffer);
        return view;
      },
      set(v: ArrayBufferView) {
        view = v;
      },
    });
  }
}

const PROCESS_EVENTS = ['uncaughtException', 'unhandledRejection'] as const;
type ProcessEvent = (typeof PROCESS_EVENTS)[number];
type Listener = (...args: unknown[]) => void;

function listenerSnapshot(): Map<ProcessEvent, Listener[]> {
  return new Map(PROCESS_EVENTS.map((e) => [e, process.listeners(e as 'uncaughtException') as Listener[]]));
}

/**
 * The Emscripten module adds process handlers that only re-throw (so Node's default handling is
 * unchanged), but a re-throw from its one-line minified source makes Node print that whole line,
 * hundreds of kilobytes, above any uncaught error. They are removed.
 */
function removeListenersAddedSince(before: Map<ProcessEvent, Listener[]>): void {
  for (const e of PROCESS_EVENTS) {
    for (const l of process.listeners(e as 'uncaughtException') as Listener[]) {
      if (!before.get(e)!.includes(l)) process.removeListener(e, l);
    }
  }
}

/** Start the threaded wasm module with `threads` threads in its pool (the calling thread included). */
async function startThreadedModule(threads: number): Promise<ThreadedModule> {
  const wasmOut = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js'));
  const mainScript = path.join(wasmOut, 'tfjs-backend-wasm-threaded-simd.js');
  const workerScript = path.join(__dirname, 'pthread_worker.js');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const factory = require(mainScript) as (cfg: object) => Promise<ThreadedModule>;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const os = require('os') as { cpus: () => unknown[] };
  const cpus = os.cpus;
  const cpuList = cpus();
  // The module's C++ start-up reads the core count once and halves it (see the header).
  os.cpus = () => Array.from({ length: 2 * threads }, (_, i) => cpuList[i % Math.max(1, cpuList.length)]);
  // The workers loading the module are unref'd: keep the event loop alive until it is ready.
  const keepAlive = setInterval(() => undefined, 1000);
  const before = listenerSnapshot();
  let mod: ThreadedModule;
  try {
    mod = await factory({
      locateFile: (file: string) => (file.endsWith('.worker.js') ? workerScript : path.join(wasmOut, file)),
      mainScriptUrlOrBlob: mainScript,
    });
  } finally {
    clearInterval(keepAlive);
    os.cpus = cpus;
    removeListenersAddedSince(before);
  }
  keepHeapViewsFresh(mod);
  mod.tfjs = {
    init: mod.cwrap('init', null, []),
    initWithThreadsCount: mod.cwrap('init_with_threads_count', null, ['number']),
    getThreadsCount: mod.cwrap('get_threads_count', 'number', []),
    registerTensor: mod.cwrap('register_tensor', null, ['number', 'number', 'number']),
    disposeData: mod.cwrap('dispose_data', null, ['number']),
    dispose: mod.cwrap('dispose', null, []),
  };
  return mod;
}

let registeredThreads = 0;
let registeredPool = 0;

/** The thread count the 'wasm' backend was registered with (`useWasmThreads`; 1 if never). */
export function wasmThreads(): number {
  return Math.max(1, registeredThreads);
}

/**
 * Register the 'wasm' backend on the threaded build with `threads` threads (the calling thread
 * included; capped at MAX_WASM_THREADS): this project's kernels split over all of them. XNNPACK's pool
 * gets `xnnpackThreads` (default: as many, at most MAX_XNNPACK_THREADS). One thread keeps tfjs's own
 * single-threaded registration. Call before the backend is first used: re-registering drops a backend
 * already made, and the tensors on it. Returns the thread count used.
 */
export function useWasmThreads(threads: number, xnnpackThreads?: number): number {
  const n = Math.max(1, Math.min(MAX_WASM_THREADS, Math.floor(threads)));
  const pool = Math.max(1, Math.min(n, MAX_XNNPACK_THREADS, Math.floor(xnnpackThreads ?? n)));
  if ((n === registeredThreads && pool === registeredPool) || (n === 1 && registeredThreads === 0)) return n;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const wasmPkg = require('@tensorflow/tfjs-backend-wasm') as typeof import('@tensorflow/tfjs-backend-wasm');
  if (tf.findBackendFactory('wasm')) tf.removeBackend('wasm');
  registeredThreads = n;
  registeredPool = pool;
  wasmPkg.setThreadsCount(pool);
  tf.registerBackend(
    'wasm',
    async () => {
      const mod = await startThreadedModule(pool);
      const backend = new wasmPkg.BackendWasm(mod as never);
      // The pool's workers stay running (blocked between jobs): let the program exit when it is done.
      for (const w of mod.PThread.runningWorkers) w.unref();
      return backend;
    },
    2,
  );
  return n;
}
