/**
 * The wasm backend on several threads in Node (src/backend/wasm/threads.ts): the pool has the threads
 * asked for, results are right, the heap grows, a program using it ends by itself, and an uncaught error
 * prints as usual (not the Emscripten module's minified source). Each case runs in its own process.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as path from 'path';
import { ROOT } from '../helpers';
import { MAX_XNNPACK_THREADS } from '../../src/backend/wasm/threads';

const CHILD = path.join(__dirname, 'fixtures', 'wasm_threads_child.ts');

function child(threads: number, mode: string, stock = false) {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, ['--import', 'tsx', CHILD, String(threads), mode, ...(stock ? ['stock'] : [])], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  const seconds = (Date.now() - t0) / 1000;
  const line = r.stdout.trim().split('\n').pop() ?? '';
  return { status: r.status, signal: r.signal, stderr: r.stderr, seconds, out: line ? (JSON.parse(line) as Record<string, unknown>) : {} };
}

// 12: more than XNNPACK's pool of 8 (MAX_XNNPACK_THREADS); this project's kernels still get all 12.
// With the project's kernels XNNPACK keeps one thread (its pool's spinning worker took a core from the
// kernels' helpers); with tfjs's shipped kernels only, its pool gets the threads, at most 8.
for (const [threads, stock] of [[1, false], [2, false], [3, false], [12, false], [3, true], [12, true]] as [number, boolean][]) {
  test(`wasm with ${threads} thread(s)${stock ? ', shipped kernels' : ''}: the kernels have them, a conv and its gradients are right, the program ends by itself`, () => {
    const r = child(threads, 'conv', stock);
    assert.equal(r.signal, null, `the child did not end by itself (killed by ${r.signal} after ${r.seconds}s)`);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.out.backend, 'wasm');
    assert.equal(r.out.device, `${threads} CPU thread${threads === 1 ? '' : 's'}`);
    assert.equal(r.out.poolThreads, stock ? Math.min(threads, MAX_XNNPACK_THREADS) : 1);
    assert.equal(r.out.simdThreads, threads);
    assert.equal(r.out.simdReady, threads - 1, 'every helper thread started');
    // The shipped kernels never call the project's, so nothing is split over its helpers.
    assert.ok(threads === 1 || stock ? r.out.splitCalls === 0 : (r.out.splitCalls as number) > 0, `split calls: ${r.out.splitCalls}`);
    assert.deepEqual(r.out.shape, [4, 32, 32, 32]);
    assert.equal(r.out.min, 144);
    assert.equal(r.out.max, 144);
    assert.deepEqual([r.out.dwMin, r.out.dwMax], [4096, 4096]);
    // The input gradient of this 32x32 map runs by F(4x4, 3x3), whose transforms have thirds and
    // fifteenths: exact up to float32 rounding (the forward pass and the filter gradient are exact).
    for (const [got, want] of [[r.out.dxCorner, 32], [r.out.dxMiddle, 288]] as [number, number][]) {
      assert.ok(Math.abs(got - want) <= 1e-5 * 288, `input gradient ${got}, want ${want}`);
    }
  });
}

test('threaded wasm: the shared heap grows by hundreds of MB and reads back right', () => {
  const r = child(2, 'grow');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.out.min, 2);
  assert.equal(r.out.max, 2);
  assert.deepEqual(r.out.tail, new Array(24).fill(2));
  assert.ok((r.out.startMB as number) < 128 && (r.out.heapMB as number) >= 256, `heap ${r.out.startMB} -> ${r.out.heapMB} MB`);
});

test('threaded wasm: an uncaught error prints briefly (exit 1, the message, no minified module source)', () => {
  const r = child(2, 'throw');
  assert.equal(r.status, 1);
  assert.equal(r.out.device, '2 CPU threads');
  assert.match(r.stderr, /an error from the program/);
  assert.ok(r.stderr.length < 5000, `stderr is ${r.stderr.length} characters`);
  assert.doesNotMatch(r.stderr, /GROWABLE_HEAP/);
});
