#!/usr/bin/env node
// The project's Jupyter kernel: tslab (TypeScript), started so that notebooks can import `src`.
// `npm run kernel:install` registers it; Jupyter runs:  node scripts/tslab-kernel.js --config-path <connection file>
//
// Three things differ from a plain `tslab kernel`, each because a lesson needs it:
// 1. The working directory is the repository root, not the notebook's folder. tslab compiles a cell and
//    the local .ts files it imports with `rootDir` = the working directory and refuses files outside it
//    ("File '.../src/tf.ts' is not under 'rootDir'"), so `import ... from '../src/...'` cannot work from
//    notebooks/. From the root, every notebook (lessons and exercises alike) imports `./src/...`, and
//    relative data paths (data_set/, runs/) mean the same as on the command line. The notebook's own
//    folder is kept in GOOGLENET_NOTEBOOK_DIR.
// 2. tsx's require hook is registered: src/tf.ts imports tfjs-core's gradient and chained-op modules,
//    which tfjs ships only as ES modules; tsx turns them into CommonJS on the fly, as it does for the CLI.
// 3. tslab runs the TypeScript compiler in watch mode with a fake one-slot timer and throws
//    "Unexpected pending rebuildTimer" when a watched directory (node_modules, src) changes between two
//    cells, after which the kernel is unusable. We let the slot hold several pending callbacks.
// 4. Jupyter's stop button (interrupt: SIGINT to the kernel). tslab answers it by abandoning the running
//    cell's promise at once: the kernel reports idle while the cell's async work (a training loop) goes
//    on in the background, drawing into whatever cell runs next. Code that stops cleanly on SIGINT (the
//    lessons' TrainingCharts: training stops after its step and saves its last state) listens for it
//    itself; while such a listener exists, we give the running cell up to INTERRUPT_GRACE_MS to end on
//    its own before letting tslab abandon it, so "idle" means the work really stopped.
// 5. That stop needs SIGINT to reach those listeners, and Node can lose it: tslab runs a cell's code with
//    vm.runInThisContext({ breakOnSigint: true }). While it runs, Node's SIGINT watchdog holds the signal;
//    when it ends, Node sets SIGINT's handler back to "exit", and only re-registers the listeners' own
//    handler when the listener count rises from zero. A cell that adds a listener during its synchronous
//    part (new TrainingCharts() before its first await) leaves the count above zero, so the next SIGINT,
//    the stop button, killed the kernel ("restarting kernel"). After every such run the listeners are
//    removed and added back, which re-registers the handler.
'use strict';
const path = require('path');

const root = path.resolve(__dirname, '..');
/** How long a cell whose code listens for SIGINT may take to stop on its own (a training step and a save). */
const INTERRUPT_GRACE_MS = 15000;
const args = process.argv.slice(2);
const at = args.indexOf('--config-path');
const configPath = at >= 0 ? args[at + 1] : '';
if (!configPath) {
  process.stderr.write('usage: node scripts/tslab-kernel.js --config-path <connection file> (Jupyter runs this)\n');
  process.exit(2);
}

process.env.GOOGLENET_NOTEBOOK_DIR = process.env.GOOGLENET_NOTEBOOK_DIR || process.cwd();
process.env.GOOGLENET_KERNEL = '1';
process.chdir(root);

const tslabDir = path.dirname(require.resolve('tslab/package.json', { paths: [root] }));
const ts = require(require.resolve('@tslab/typescript-for-tslab', { paths: [tslabDir] }));
patchWatchTimers(ts.sys);
const { startKernel } = require(path.join(tslabDir, 'dist', 'main.js'));
require(require.resolve('tsx/cjs', { paths: [root] }));
const running = countRunningCells(require(path.join(tslabDir, 'dist', 'jupyter.js')));
keepSigintListened();
startKernel({ configPath, enableFindLocal: false, jsKernel: false, globalVersion: '' });
deferInterrupt(running);

/** Re-register SIGINT's handler after each breakOnSigint run (point 5 above). */
function keepSigintListened() {
  const vm = require('vm');
  const run = vm.runInThisContext;
  vm.runInThisContext = function runInThisContext(code, options) {
    try {
      return run.call(this, code, options);
    } finally {
      if (options && options.breakOnSigint) {
        const listeners = process.rawListeners('SIGINT');
        process.removeAllListeners('SIGINT');
        for (const l of listeners) process.on('SIGINT', l);
      }
    }
  };
}

/** Wrap tslab's cell execution to count the cells running now (one at most: tslab queues them). */
function countRunningCells(jupyter) {
  const state = { cells: 0 };
  const proto = jupyter.JupyterHandlerImpl.prototype;
  const execute = proto.handleExecuteImpl;
  proto.handleExecuteImpl = async function (...a) {
    state.cells++;
    try {
      return await execute.apply(this, a);
    } finally {
      state.cells--;
    }
  };
  return state;
}

/** Replace tslab's SIGINT handler (registered by startKernel) by one that lets cooperative code stop first. */
function deferInterrupt(running) {
  const tslabHandlers = process.listeners('SIGINT');
  for (const h of tslabHandlers) process.removeListener('SIGINT', h);
  const abandon = () => tslabHandlers.forEach((h) => h('SIGINT'));
  process.on('SIGINT', () => {
    const cooperative = process.listenerCount('SIGINT') > 1;
    if (!cooperative || running.cells === 0) return abandon();
    const deadline = Date.now() + INTERRUPT_GRACE_MS;
    const poll = () => {
      if (running.cells === 0) return;
      if (Date.now() >= deadline) return abandon();
      setTimeout(poll, 100);
    };
    poll();
  });
}

/**
 * tslab's converter builds its compiler host on `Object.create(ts.sys)` and assigns its own
 * setTimeout/clearTimeout, which keep a single pending timer. The TypeScript watcher schedules two
 * kinds of timers (program update, invalidated module resolutions); when both are pending tslab throws.
 * Accessors on ts.sys intercept tslab's assignment and merge pending callbacks into one slot.
 */
function patchWatchTimers(base) {
  const plainSet = base.setTimeout;
  const plainClear = base.clearTimeout;
  const state = (o) => {
    if (!Object.prototype.hasOwnProperty.call(o, '__googlenetTimers')) {
      Object.defineProperty(o, '__googlenetTimers', { value: { set: null, clear: null, pending: null } });
    }
    return o.__googlenetTimers;
  };
  Object.defineProperty(base, 'setTimeout', {
    configurable: true,
    get() {
      if (this === base || !state(this).set) return plainSet;
      const s = state(this);
      return (callback) => {
        const prev = s.pending;
        if (prev) s.clear.call(this, prev.handle);
        const entry = { handle: null, run: prev ? () => { prev.run(); callback(); } : () => callback() };
        s.pending = entry;
        entry.handle = s.set.call(this, () => {
          if (s.pending === entry) s.pending = null;
          entry.run();
        });
        return entry;
      };
    },
    set(fn) {
      state(this).set = fn;
    },
  });
  Object.defineProperty(base, 'clearTimeout', {
    configurable: true,
    get() {
      if (this === base || !state(this).clear) return plainClear;
      const s = state(this);
      return (handle) => {
        if (handle && s.pending === handle) {
          s.pending = null;
          s.clear.call(this, handle.handle);
        }
      };
    },
    set(fn) {
      state(this).clear = fn;
    },
  });
}
