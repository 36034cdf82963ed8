// The script each wasm thread (an Emscripten pthread, a Node worker_thread) starts with.
//
// tfjs-backend-wasm ships its pthread worker only as a string (`wasmWorkerContents`), which it turns
// into a Blob URL in browsers; Node's worker_threads cannot start a Blob URL, and tfjs therefore keeps
// wasm threads off in Node (tensorflow/tfjs#3830). This file is a real script that runs that string.
// The string expects `require` and `__filename` as globals, as in a classic script.
'use strict';
const { wasmWorkerContents } = require('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js');

global.require = require;
global.__filename = __filename;
// The string was written for a Blob: its "\n" escapes were turned into newlines by the template
// literal it is stored in, inside JavaScript string literals; put the escapes back before running it.
(0, eval)(wasmWorkerContents.replace(/\n/g, '\\n'));
