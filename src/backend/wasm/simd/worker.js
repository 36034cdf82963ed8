// A helper thread for ./module.ts: instantiates kernels.threads.wasm (compiled by the main thread) on
// the wasm backend's shared memory and runs the share of a kernel call that the main thread hands it, then waits for the next.
// Control block (Int32Array on a SharedArrayBuffer): [0] call sequence number, [1] last finished call,
// [2] kernel index, [3] argument count, [4] 1 once ready, [5] 1 if the last call threw, [6] how many
// chunks the call's range is cut into (0: run the one share the arguments give), [8] the index of its
// bounds in the arguments; the arguments follow as float64 from byte 64. `next` (Int32Array, shared by
// the caller and all helpers), in calls split into chunks: [0] the next chunk to claim, [1 + i] where
// chunk i starts, [1 + count] the range's end.
// (No top-level `module`, `exports` or `require` bindings: Node would then load this file as an ES module.)
'use strict';
const { workerData } = require('worker_threads');

const { memory, compiled, names, control, counter } = workerData;
const kernels = new WebAssembly.Instance(compiled, { env: { memory } }).exports;
const fns = names.map((n) => kernels[n]);
const ctrl = new Int32Array(control);
const args = new Float64Array(control, 64);
const next = new Int32Array(counter);
const SEQ = 0;
const DONE = 1;
const READY = 4;
const FAILED = 5;
const CHUNKS = 6;
const AT = 8;
// After a call, spin this long for the next one before sleeping: a training step calls the kernels
// back to back, and waking a sleeping thread costs far more on a virtual machine (its idle CPU halts)
// than the gaps between two calls. Small 7x7 and 4x4 layers went from 19 to 30-40 GMAC/s on two
// threads; a whole 112 px step, over three alternating runs each, from 18.0 to 20-21 img/s (0.3-2 ms).
const SPIN_MS = 0.5;
let seen = Atomics.load(ctrl, SEQ);
Atomics.store(ctrl, READY, 1);
for (;;) {
  const until = performance.now() + SPIN_MS;
  while (Atomics.load(ctrl, SEQ) === seen && performance.now() < until);
  Atomics.wait(ctrl, SEQ, seen);
  seen = Atomics.load(ctrl, SEQ);
  const n = ctrl[3];
  const a = new Array(n);
  for (let i = 0; i < n; i++) a[i] = args[i];
  try {
    const fn = fns[ctrl[2]];
    const chunks = ctrl[CHUNKS];
    if (chunks > 0) {
      // Claim chunks of the loop until none is left (see SimdKernels.parallel in ./module.ts).
      const at = ctrl[AT];
      for (;;) {
        const i = Atomics.add(next, 0, 1);
        if (i >= chunks) break;
        a[at] = next[1 + i];
        a[at + 1] = next[2 + i];
        fn(...a);
      }
    } else {
      fn(...a);
    }
    ctrl[FAILED] = 0;
  } catch {
    ctrl[FAILED] = 1;
  }
  Atomics.store(ctrl, DONE, seen);
  Atomics.notify(ctrl, DONE);
}
