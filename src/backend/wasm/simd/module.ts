/**
 * The SIMD kernels of ./kernels.c, instantiated on a wasm backend's own memory, and a way to run one
 * call over several threads.
 *
 * The module imports tfjs's wasm memory and reads and writes tensors in place (pointers are byte
 * offsets on the heap, as `memoryOffset` gives them). tfjs's single-threaded build gets kernels.wasm;
 * the threaded build (shared memory) gets kernels.threads.wasm, plus helper threads (./worker.js) that
 * instantiate the same module on the same memory: a call is split over a range of its outermost loop,
 * the main thread runs the first share, each helper one of the others. XNNPACK's own pool is idle
 * meanwhile (the wasm backend runs one kernel at a time), so the cores are free.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Worker } from 'worker_threads';
import type { BackendWasm } from '../common';
import { wasmThreads } from '../threads';

/** The exported functions (see kernels.c for what each argument means). */
export const KERNEL_NAMES = [
  'max_pool_grad',
  'avg_pool_grad',
  'adaptive_avg_pool',
  'adaptive_avg_pool_grad',
  'transpose',
  'flip_transpose_filter',
  'dilate',
  'pack_b8',
  'conv_filter_grad',
  'sum_rows',
  'adam_step',
  'conv_forward',
  'dense_forward',
  'dense_product',
  'copy_rows',
  'copy_block',
  'add_arrays',
  'max_pool',
  'relu_grad_sum',
  'bn_stats',
  'bn_apply',
  'bn_grad_sums',
  'bn_grad_input',
  'winograd_filter',
  'winograd_conv',
  'winograd_filter_grad',
  'join_rows',
] as const;
export type KernelName = (typeof KERNEL_NAMES)[number];

type Fn = (...args: number[]) => void;

/** WebAssembly, typed structurally (tslab compiles without the WebAssembly lib). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, Fn> };
  validate(bytes: Uint8Array): boolean;
}
const WASM = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** (func (param v128 v128 v128) (result v128) local.get 0 local.get 1 local.get 2 f32x4.relaxed_madd) */
const RELAXED_MADD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x01, 0x60, 0x03, 0x7b, 0x7b, 0x7b, 0x01, 0x7b, 0x03, 0x02, 0x01, 0x00,
  0x0a, 0x0d, 0x01, 0x0b, 0x00, 0x20, 0x00, 0x20, 0x01, 0x20, 0x02, 0xfd, 0x85, 0x02, 0x0b,
]);

let fmaState: boolean | undefined;

/**
 * Whether this engine runs relaxed SIMD's fused multiply-add (then the kernels load the FMA build,
 * kernels*.fma.wasm). Node 22's V8 has relaxed SIMD on; Node 20's (V8 11.3) has it behind
 * --experimental-wasm-relaxed-simd, which is switched on here, before the first kernel module is
 * compiled, so that whatever starts the process (CLI, notebooks, tests, scripts) gets it without a
 * command-line flag. V8 reads its wasm feature flags when it validates a module, so setting the flag at
 * run time works; a tiny relaxed module is validated to check, and the plain build is used if it fails.
 */
export function fmaSupported(): boolean {
  if (fmaState !== undefined) return fmaState;
  fmaState = WASM.validate(RELAXED_MADD_PROBE);
  if (!fmaState && typeof process !== 'undefined' && process.versions?.node) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      (require('v8') as { setFlagsFromString(flags: string): void }).setFlagsFromString('--experimental-wasm-relaxed-simd');
      fmaState = WASM.validate(RELAXED_MADD_PROBE);
    } catch {
      fmaState = false;
    }
  }
  return fmaState;
}

interface Memory {
  buffer: ArrayBufferLike;
}

interface Helper {
  worker: Worker;
  ctrl: Int32Array;
  args: Float64Array;
}

const SEQ = 0;
const DONE = 1;
const KERNEL = 2;
const COUNT = 3;
const READY = 4;
const FAILED = 5;
const CHUNKS = 6;
const AT = 8;
const MAX_ARGS = 24;

/** The most chunks a call is cut into (SimdKernels.parallel's `pieces`). */
const MAX_CHUNKS = 64;

/** How long the caller spins for a helper to finish before sleeping (see worker.js). */
const SPIN_MS = 0.5;

/**
 * The smallest chunk of a call that claims chunks (SimdKernels.parallel's `pieces`) is 1/(threads x
 * PIECES) of its range: the chunks shrink as the range is used up (each 1/(2 x threads) of what is
 * left), so that a thread that loses its core for a while leaves work the others take, and the last
 * chunks, which a thread that finished early waits for, are small; a claim (an atomic add and a call
 * into wasm) costs well under a microsecond. Against 4 equal chunks per thread, evaluation at 112 px
 * (batch 16, 2 threads, the two alternating batch by batch in one process, 20 each): median 195 vs
 * 201 ms and 183 vs 189 ms; a training step the same within the noise.
 */
export const PIECES = 16;

/** Work below this many elements (roughly) is not worth waking a helper for (~20 µs). */
const MIN_PARALLEL_WORK = 32768;

export class SimdKernels {
  private readonly fns: Record<KernelName, Fn>;
  private readonly helpers: Helper[] = [];
  /**
   * In a call split into chunks (shared with the helpers): [0] the next chunk to claim, [1 + i] where
   * chunk i starts (and [1 + count] the range's end).
   */
  private readonly next = new Int32Array(typeof SharedArrayBuffer !== 'undefined' ? new SharedArrayBuffer(4 * (MAX_CHUNKS + 2)) : new ArrayBuffer(4 * (MAX_CHUNKS + 2)));
  /** Calls that were split over more than one thread (for tests and benchmarks). */
  splitCalls = 0;

  /** Whether this instance runs the FMA build. */
  readonly fma: boolean;

  /**
   * `memory`: the wasm memory to work on; helper threads are started only if it is shared. `fma`: load
   * the FMA build (default: where the engine supports it, `fmaSupported`); false forces the plain one.
   */
  constructor(memory: Memory, helperThreads: number, fma = fmaSupported()) {
    const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
    if (fma && !fmaSupported()) throw new Error('this engine has no relaxed SIMD: the FMA build of the SIMD kernels cannot load');
    this.fma = fma;
    const bytes = fs.readFileSync(path.join(__dirname, `kernels${shared ? '.threads' : ''}${fma ? '.fma' : ''}.wasm`));
    const module = new WASM.Module(bytes);
    const instance = new WASM.Instance(module, { env: { memory } });
    this.fns = Object.fromEntries(KERNEL_NAMES.map((n) => [n, instance.exports[n]])) as Record<KernelName, Fn>;
    if (!shared) return;
    for (let i = 0; i < helperThreads; i++) {
      const control = new SharedArrayBuffer(64 + 8 * MAX_ARGS);
      const worker = new Worker(path.join(__dirname, 'worker.js'), {
        // The compiled module itself, not its bytes: V8 shares its code between threads, so the helpers
        // run the optimised code as soon as the main thread's calls have made it (rather than starting
        // again from the baseline compiler, which is about twice as slow here).
        workerData: { memory, compiled: module, names: KERNEL_NAMES, control, counter: this.next.buffer },
      });
      worker.unref();
      // A helper that fails to start never becomes ready, so no call waits for it.
      worker.on('error', () => undefined);
      this.helpers.push({ worker, ctrl: new Int32Array(control), args: new Float64Array(control, 64, MAX_ARGS) });
    }
  }

  /** Threads a call can be split over (the calling one included). */
  get threads(): number {
    return 1 + this.helpers.length;
  }

  /** The helper threads started and waiting for work. */
  private ready(): Helper[] {
    return this.helpers.filter((h) => Atomics.load(h.ctrl, READY) === 1);
  }

  /** How many helper threads are started and waiting for work. */
  readyHelpers(): number {
    return this.ready().length;
  }

  /** Resolves once every helper thread is ready (or `timeoutMs` passed); the count ready. */
  async whenReady(timeoutMs = 10_000): Promise<number> {
    const t0 = Date.now();
    while (this.readyHelpers() < this.helpers.length && Date.now() - t0 < timeoutMs) await new Promise((r) => setTimeout(r, 5));
    return this.readyHelpers();
  }

  /**
   * Cuts [0, total) into chunks for a call split over `parts` threads (see PIECES), each a multiple of
   * `align` but the last, their starts into this.next[1..]; returns how many.
   */
  private schedule(total: number, parts: number, pieces: number, align: number): number {
    const smallest = Math.max(align, Math.ceil(total / (parts * pieces) / align) * align);
    let n = 0;
    let lo = 0;
    while (lo < total && n < MAX_CHUNKS) {
      this.next[1 + n++] = lo;
      lo = Math.min(total, lo + Math.max(smallest, Math.ceil((total - lo) / (2 * parts) / align) * align));
    }
    this.next[1 + n] = total;
    return n;
  }

  /**
   * Run `name` over the range [0, total) of the loop whose bounds are args[at] and args[at + 1]
   * (placeholders in `args`), split into one share per thread, each a multiple of `align`. `work` is
   * the call's size in elements, to decide whether splitting pays. If `partAt` is given, args[partAt]
   * is set to the share's index (0 on this thread), for kernels that keep per-thread scratch.
   *
   * `pieces` > 0: the range is cut into chunks that shrink towards its end (the smallest 1/(parts x
   * pieces) of it; see PIECES), which the threads claim one after another until none is left, in
   * place of one fixed share each. On a shared virtual machine a
   * core is taken away for milliseconds at a time (steal time) and the two cores do not run at one speed;
   * with fixed shares the call lasts as long as the slowest, with chunks the others take its work. Only
   * for kernels whose items are independent and cost the same wherever they run (no per-call setup that
   * each chunk would repeat, no per-thread partial sums, whose order would then change from run to run).
   */
  parallel(name: KernelName, args: number[], at: number, total: number, work: number, align = 1, partAt = -1, pieces = 0): void {
    // Helpers still starting up (the first calls) are not waited for: their share runs here.
    const ready = this.ready();
    const parts = Math.min(1 + ready.length, work >= MIN_PARALLEL_WORK ? Math.ceil(total / align) : 1);
    if (parts <= 1) {
      args[at] = 0;
      args[at + 1] = total;
      if (partAt >= 0) args[partAt] = 0;
      this.fns[name](...args);
      return;
    }
    if (args.length > MAX_ARGS) throw new Error(`${name}: ${args.length} arguments, the helpers take at most ${MAX_ARGS}`);
    const step = Math.ceil(total / parts / align) * align;
    const chunks = pieces > 0 ? this.schedule(total, parts, pieces, align) : 0;
    if (chunks > 0) Atomics.store(this.next, 0, 0);
    const kernel = KERNEL_NAMES.indexOf(name);
    const started: Helper[] = [];
    for (let p = 1; p < parts; p++) {
      const lo = Math.min(total, p * step);
      const hi = Math.min(total, lo + step);
      if (lo >= hi) break;
      const h = ready[p - 1];
      for (let i = 0; i < args.length; i++) h.args[i] = args[i];
      h.args[at] = lo;
      h.args[at + 1] = hi;
      if (partAt >= 0) h.args[partAt] = p;
      h.ctrl[KERNEL] = kernel;
      h.ctrl[COUNT] = args.length;
      h.ctrl[CHUNKS] = chunks;
      h.ctrl[AT] = at;
      Atomics.add(h.ctrl, SEQ, 1);
      Atomics.notify(h.ctrl, SEQ);
      started.push(h);
    }
    args[at] = 0;
    args[at + 1] = Math.min(total, step);
    if (partAt >= 0) args[partAt] = 0;
    let failed = false;
    try {
      if (chunks > 0) {
        for (;;) {
          const i = Atomics.add(this.next, 0, 1);
          if (i >= chunks) break;
          args[at] = this.next[1 + i];
          args[at + 1] = this.next[2 + i];
          this.fns[name](...args);
        }
      } else {
        this.fns[name](...args);
      }
    } finally {
      // Even if this thread's share threw: never return while a helper still writes to the heap.
      for (const h of started) {
        const seq = Atomics.load(h.ctrl, SEQ);
        // The helper's share is about as long as this thread's: spin a little before sleeping.
        const until = performance.now() + SPIN_MS;
        while (Atomics.load(h.ctrl, DONE) !== seq && performance.now() < until);
        for (;;) {
          const done = Atomics.load(h.ctrl, DONE);
          if (done === seq) break;
          Atomics.wait(h.ctrl, DONE, done);
        }
        failed ||= h.ctrl[FAILED] === 1;
      }
    }
    this.splitCalls++;
    if (failed) throw new Error(`the wasm SIMD kernel ${name} failed on a helper thread`);
  }
}

const instances = new WeakMap<object, SimdKernels>();

/** The wasm backend's memory: the threaded build keeps it as `wasmMemory`, the other one exports it. */
function memoryOf(backend: BackendWasm): Memory {
  const mod = backend.wasm as unknown as { wasmMemory?: Memory; asm?: { memory?: Memory } };
  const memory = mod.wasmMemory ?? mod.asm?.memory;
  if (!memory) throw new Error('cannot find the wasm backend memory');
  return memory;
}

/** The SIMD kernels on this backend's memory (made once per backend). */
export function simdKernels(backend: BackendWasm): SimdKernels {
  let k = instances.get(backend);
  if (!k) {
    // As many threads as the backend was registered with (../threads.ts), which may be more than
    // XNNPACK's pool has; the single-threaded build's memory is not shared, and gets no helpers.
    const tfjs = backend.wasm.tfjs as unknown as { getThreadsCount?: () => number };
    const threads = tfjs.getThreadsCount ? Math.max(tfjs.getThreadsCount(), wasmThreads()) : 1;
    k = new SimdKernels(memoryOf(backend), Math.max(0, threads - 1));
    instances.set(backend, k);
  }
  return k;
}
