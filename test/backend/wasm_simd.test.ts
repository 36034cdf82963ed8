/**
 * The SIMD kernels of src/backend/wasm/simd (kernels.c and its thread pool), on a memory of their own:
 * each kernel of both builds (plain SIMD and FMA) against a plain JavaScript reference, on tfjs's two kinds of memory (not shared: one
 * thread; shared: calls split over helper threads), at the shapes GoogLeNet uses and at awkward ones
 * (3 input channels, channel counts that are not multiples of 4 or 8, strides, padding, ceil-mode pool
 * windows hanging over the edge). And: the committed binaries are what build.sh makes of kernels.c.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PIECES, SimdKernels, fmaSupported } from '../../src/backend/wasm/simd/module';
import { WINOGRAD_PAD } from '../../src/backend/wasm/conv';
import { Rng } from '../../src/util/rng';

const SIMD_DIR = path.join(__dirname, '..', '..', 'src', 'backend', 'wasm', 'simd');

interface WasmMemory {
  buffer: ArrayBufferLike;
  grow(pages: number): number;
}
const WASM = (globalThis as unknown as { WebAssembly: { Memory: new (d: object) => WasmMemory } }).WebAssembly;

/**
 * A memory with a bump allocator; `f32(ptr, n)` views floats at a byte offset. Every allocation is
 * followed by a guard of GUARD bytes of a fixed pattern (and the first 1024 bytes hold it too):
 * `assertGuards` fails if a kernel wrote outside what it was given (in the backend such a write lands
 * on a neighbouring tensor or the allocator's own records).
 */
const GUARD = 64;
const GUARD_BYTE = 0xa5;
class Heap {
  readonly memory: WasmMemory;
  private top = 1024;
  private readonly guards: [number, number][] = [[0, 1024]];
  constructor(shared: boolean) {
    this.memory = new WASM.Memory(shared ? { initial: 2048, maximum: 65536, shared: true } : { initial: 2048 });
    new Uint8Array(this.memory.buffer, 0, 1024).fill(GUARD_BYTE);
  }
  alloc(n: number): number {
    const p = this.top;
    const end = p + Math.ceil((4 * n) / 16) * 16;
    const short = end + GUARD - this.memory.buffer.byteLength;
    if (short > 0) this.memory.grow(Math.ceil(short / 65536));
    new Uint8Array(this.memory.buffer, end, GUARD).fill(GUARD_BYTE);
    this.guards.push([end, end + GUARD]);
    this.top = end + GUARD;
    return p;
  }
  /** Every guard still holds its pattern. */
  assertGuards(what: string): void {
    const bytes = new Uint8Array(this.memory.buffer);
    for (const [a, b] of this.guards) {
      for (let i = a; i < b; i++) assert.equal(bytes[i], GUARD_BYTE, `${what}: a kernel wrote at byte ${i}, in the guard [${a}, ${b}) after an allocation`);
    }
  }
  f32(ptr: number, n: number): Float32Array {
    return new Float32Array(this.memory.buffer, ptr, n);
  }
  put(values: ArrayLike<number>): number {
    const p = this.alloc(values.length);
    this.f32(p, values.length).set(values);
    return p;
  }
}

function randn(n: number, seed: number, zeros = 0): Float32Array {
  const rng = new Rng(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.next() < zeros ? 0 : rng.uniform(-2, 2);
  return a;
}

function maxRelErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / Math.max(den, 1e-12);
}

interface Conv {
  n: number; h: number; w: number; ci: number; co: number; kh: number; kw: number; sh: number; sw: number; pt: number; pl: number; oh: number; ow: number;
}

function conv(n: number, h: number, w: number, ci: number, co: number, k: number, s: number, p: number): Conv {
  return { n, h, w, ci, co, kh: k, kw: k, sh: s, sw: s, pt: p, pl: p, oh: Math.floor((h + 2 * p - k) / s) + 1, ow: Math.floor((w + 2 * p - k) / s) + 1 };
}

/** dW [kh, kw, ci, co] = sum over pixels of x patches times dy, in float64. */
function filterGradRef(x: Float32Array, dy: Float32Array, g: Conv): Float64Array {
  const out = new Float64Array(g.kh * g.kw * g.ci * g.co);
  for (let b = 0; b < g.n; b++)
    for (let oy = 0; oy < g.oh; oy++)
      for (let ox = 0; ox < g.ow; ox++)
        for (let ky = 0; ky < g.kh; ky++)
          for (let kx = 0; kx < g.kw; kx++) {
            const iy = oy * g.sh + ky - g.pt;
            const ix = ox * g.sw + kx - g.pl;
            if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) continue;
            for (let c = 0; c < g.ci; c++) {
              const xv = x[((b * g.h + iy) * g.w + ix) * g.ci + c];
              const o = ((ky * g.kw + kx) * g.ci + c) * g.co;
              const d = ((b * g.oh + oy) * g.ow + ox) * g.co;
              for (let j = 0; j < g.co; j++) out[o + j] += xv * dy[d + j];
            }
          }
  return out;
}

/**
 * What simdFilterGrad does with the module: the product's rows in blocks of 4 (conv1's 147 as 37, from
 * runs of x's window rows), its columns padded to 8-column panels, then dW's rows taken back out.
 */
function filterGrad(k: SimdKernels, heap: Heap, x: Float32Array, dy: Float32Array, g: Conv, kc: number): Float32Array {
  const pixels = g.n * g.oh * g.ow;
  const m = g.kh * g.kw * g.ci;
  const m4 = Math.ceil(m / 4);
  const n8 = Math.ceil(g.co / 8);
  const pdy = heap.put(dy);
  const bp = heap.alloc(k.threads * Math.min(kc, pixels) * (n8 * 8 + 1)); // dy's panels and kc window offsets per thread
  const ap = heap.alloc(m4 * 4 * Math.min(kc, pixels));
  const c = heap.alloc(m4 * 4 * n8 * 8);
  k.parallel(
    'conv_filter_grad',
    [heap.put(x), pdy, bp, ap, c, n8 * 8, g.n, g.h, g.w, g.ci, g.oh, g.ow, g.kh, g.kw, g.sh, g.sw, g.pt, g.pl, g.co, Math.min(kc, pixels), 0, 0, 0],
    21,
    m4,
    m * g.co * pixels,
    1,
    20,
  );
  const padded = heap.f32(c, m4 * 4 * n8 * 8);
  const out = new Float32Array(m * g.co);
  for (let r = 0; r < m; r++) out.set(padded.subarray(r * n8 * 8, r * n8 * 8 + g.co), r * g.co);
  return out;
}

/** y [n, oh, ow, co] = relu?(conv(x, W) + bias), in float64. */
function convRef(x: Float32Array, wt: Float32Array, bias: Float32Array, relu: boolean, g: Conv): Float64Array {
  const out = new Float64Array(g.n * g.oh * g.ow * g.co);
  for (let b = 0; b < g.n; b++)
    for (let oy = 0; oy < g.oh; oy++)
      for (let ox = 0; ox < g.ow; ox++) {
        const o = ((b * g.oh + oy) * g.ow + ox) * g.co;
        for (let j = 0; j < g.co; j++) out[o + j] = bias[j];
        for (let ky = 0; ky < g.kh; ky++)
          for (let kx = 0; kx < g.kw; kx++) {
            const iy = oy * g.sh + ky - g.pt;
            const ix = ox * g.sw + kx - g.pl;
            if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) continue;
            for (let c = 0; c < g.ci; c++) {
              const xv = x[((b * g.h + iy) * g.w + ix) * g.ci + c];
              const wo = ((ky * g.kw + kx) * g.ci + c) * g.co;
              for (let j = 0; j < g.co; j++) out[o + j] += xv * wt[wo + j];
            }
          }
        if (relu) for (let j = 0; j < g.co; j++) out[o + j] = Math.max(0, out[o + j]);
      }
  return out;
}

/**
 * What ../../src/backend/wasm/conv.ts does with the module: pack W, then conv_forward over work items,
 * each pixel group split into `chunks` runs of W's 8-channel panels.
 */
function convForward(
  k: SimdKernels,
  heap: Heap,
  x: Float32Array,
  wt: Float32Array,
  bias: Float32Array,
  relu: boolean,
  g: Conv,
  chunks: number,
  pieces = 0,
): Float32Array {
  const K = g.kh * g.kw * g.ci;
  const pixels = g.n * g.oh * g.ow;
  const bp = heap.alloc(K * g.co);
  const ap = heap.alloc(k.threads * 32 * K);
  const zeros = heap.put(new Float32Array(Math.max(g.ci, g.co)));
  const y = heap.put(new Float32Array(pixels * g.co).fill(5)); // must be overwritten
  k.parallel('pack_b8', [heap.put(wt), bp, K, g.co, 0, 0], 4, g.co / 8, K * g.co);
  k.parallel(
    'conv_forward',
    [heap.put(x), bp, heap.put(bias), zeros, ap, y, g.n, g.h, g.w, g.ci, g.oh, g.ow, g.kh, g.kw, g.sh, g.sw, g.pt, g.pl, g.co, relu ? 1 : 0, 0, chunks, 0, 0],
    22,
    Math.ceil(pixels / 32) * chunks,
    pixels * K * g.co,
    1,
    20,
    pieces,
  );
  return heap.f32(y, pixels * g.co).slice();
}

/**
 * What ../../src/backend/wasm/conv.ts does for an r x r stride-1 convolution by F(m x m, r x r) (r the
 * case's kh): transform W (winograd_filter), then winograd_conv over work items, each block of 16 tiles
 * split into `chunks` runs of W's panels.
 */
function winogradForward(m: 2 | 4): typeof convForward {
  return (k, heap, x, wt, bias, relu, g, chunks, pieces = 0) => {
    const pixels = g.n * g.oh * g.ow;
    const r = g.kh;
    const positions = (m + r - 1) ** 2;
    const u = heap.alloc(positions * (g.ci * g.co + WINOGRAD_PAD));
    const scratch = heap.alloc(k.threads * positions * (16 * (g.ci + 8) + WINOGRAD_PAD));
    const y = heap.put(new Float32Array(pixels * g.co).fill(5)); // must be overwritten
    k.parallel('winograd_filter', [heap.put(wt), u, g.ci, g.co, m, r, 0, 0], 6, g.co / 8, positions * g.ci * g.co);
    const blocks = Math.ceil((g.n * Math.ceil(g.oh / m) * Math.ceil(g.ow / m)) / 16);
    k.parallel(
      'winograd_conv',
      [heap.put(x), u, heap.put(bias), scratch, y, g.n, g.h, g.w, g.ci, g.oh, g.ow, g.pt, g.pl, g.co, m, r, relu ? 1 : 0, 0, chunks, 0, 0],
      19,
      blocks * chunks,
      pixels * r * r * g.ci * g.co,
      1,
      17,
      pieces,
    );
    return heap.f32(y, pixels * g.co).slice();
  };
}

/**
 * What ../../src/backend/wasm/conv_backprop.ts does for an r x r stride-1 filter gradient by
 * F(r x r, mt x mt) (r the case's kh; ci a multiple of 4).
 */
function winogradFilterGrad(k: SimdKernels, heap: Heap, x: Float32Array, dy: Float32Array, g: Conv, mt: 2 | 4): Float32Array {
  const r = g.kh;
  const positions = (mt + r - 1) ** 2;
  const vp = heap.alloc(positions * (g.ci * 64 + WINOGRAD_PAD));
  const up = heap.alloc(k.threads * positions * (g.co * 64 + WINOGRAD_PAD));
  const m = heap.alloc(positions * (g.ci * g.co + WINOGRAD_PAD));
  const dw = heap.put(new Float32Array(r * r * g.ci * g.co).fill(5)); // must be overwritten
  const tiles = g.n * Math.ceil(g.oh / mt) * Math.ceil(g.ow / mt);
  k.parallel(
    'winograd_filter_grad',
    [heap.put(x), heap.put(dy), vp, up, m, dw, g.n, g.h, g.w, g.ci, g.oh, g.ow, g.pt, g.pl, g.co, mt, r, 0, 0, 0],
    18,
    g.ci / 4,
    positions * tiles * g.ci * g.co,
    1,
    17,
  );
  return heap.f32(dw, r * r * g.ci * g.co).slice();
}

const WINOGRAD_CASES: [string, Conv][] = [
  ['3x3 pad 1, 64 -> 192 on 28x28 (conv2, 14x14 tiles a map)', conv(2, 28, 28, 64, 192, 3, 1, 1)],
  ['3x3 pad 1, 160 -> 320 on 7x7 (inception4e: odd map, tiles over the edge)', conv(3, 7, 7, 160, 320, 3, 1, 1)],
  ['3x3 pad 1, 384 -> 192 on 5x6 (an input gradient of 5b: reduction over 2 blocks of 256)', conv(2, 5, 6, 384, 192, 3, 1, 1)],
  ['3x3 valid, 8 -> 16 on 9x7 (no padding, odd output)', conv(1, 9, 7, 8, 16, 3, 1, 0)],
  ['3x3 pad 2, 4 -> 8 on 3x3 (more padding than k-1-p: whole tiles in the padding)', conv(2, 3, 3, 4, 8, 3, 1, 2)],
];

// 5x5 stride-1 convolutions by F(2x2, 5x5) (forward) and F(5x5, 2x2) (filter gradient): inception3b's
// branch3 (14x14), 4e's (7x7: tiles over the edge), 5b's at 112 px (3x3), and an input gradient's shape
// (pad 2 on a map that is not square, reduction over 2 blocks of 256 channels).
const WINOGRAD5_CASES: [string, Conv][] = [
  ['5x5 pad 2, 32 -> 96 on 14x14 (inception3b branch3)', conv(2, 14, 14, 32, 96, 5, 1, 2)],
  ['5x5 pad 2, 32 -> 128 on 7x7 (inception4e: odd map, tiles over the edge)', conv(3, 7, 7, 32, 128, 5, 1, 2)],
  ['5x5 pad 2, 48 -> 128 on 3x3 (inception5b at 112 px)', conv(2, 3, 3, 48, 128, 5, 1, 2)],
  ['5x5 pad 2, 384 -> 16 on 5x6 (an input gradient: reduction over 2 blocks of 256)', conv(2, 5, 6, 384, 16, 5, 1, 2)],
  ['5x5 valid, 8 -> 16 on 9x8 (no padding, odd output)', conv(1, 9, 8, 8, 16, 5, 1, 0)],
];

const FORWARD_CASES: [string, Conv][] = [
  ['3x3 pad 1, 64 -> 192 on 28x28 (conv2), K = 576 over 3 blocks', conv(2, 28, 28, 64, 192, 3, 1, 1)],
  ['1x1, 832 -> 384 on 4x4 (inception5b), 3 reduction blocks', conv(3, 4, 4, 832, 384, 1, 1, 0)],
  ['5x5 pad 2, 16 -> 48 on 7x7 (pixels not a multiple of 32)', conv(3, 7, 7, 16, 48, 5, 1, 2)],
  ['3x3/2 valid, 12 -> 16 on 17x17', conv(2, 17, 17, 12, 16, 3, 2, 0)],
  ['7x7/2 pad 3, 3 -> 64 on 40x40 (conv1: runs of 21 floats per window row, K = 147)', conv(2, 40, 40, 3, 64, 7, 2, 3)],
  ['3x3 pad 1, 6 -> 16 on 9x9 (runs of 18)', conv(3, 9, 9, 6, 16, 3, 1, 1)],
];

const FILTER_CASES: [string, Conv][] = [
  ['3x3 pad 1, 64 -> 192 on 28x28 (conv2)', conv(4, 28, 28, 64, 192, 3, 1, 1)],
  ['1x1, 256 -> 128 on 14x14', conv(4, 14, 14, 256, 128, 1, 1, 0)],
  ['5x5 pad 2, 16 -> 48 on 7x7', conv(8, 7, 7, 16, 48, 5, 1, 2)],
  ['7x7/2 pad 3, 3 -> 64 (conv1: 147 patch rows)', conv(2, 40, 40, 3, 64, 7, 2, 3)],
  ['3x3/2 valid, 6 -> 12 (rows and columns off the tile grid)', conv(3, 17, 17, 6, 12, 3, 2, 0)],
];

test('SIMD kernels: this engine runs the FMA build (relaxed SIMD, switched on at run time in Node 20)', () => {
  assert.equal(fmaSupported(), true);
  const k = new SimdKernels(new Heap(false).memory, 0);
  assert.equal(k.fma, true, 'the FMA build is the default where the engine has it');
  assert.equal(new SimdKernels(new Heap(false).memory, 0, false).fma, false);
});

// Every kernel on both builds (FMA changes the products' rounding; the tolerances are the same).
for (const [fma, shared] of [false, true].flatMap((f) => [false, true].map((s) => [f, s]))) {
  const label = `${fma ? 'FMA build' : 'plain build'}, ${shared ? 'shared memory, 1 helper thread' : 'unshared memory, 1 thread'}`;

  test(`SIMD kernels (${label}): conv filter gradient (direct, and by Winograd F(3x3, 2x2), F(3x3, 4x4) and F(5x5, 2x2)) matches a float64 reference`, async () => {
    const heap = new Heap(shared);
    const k = new SimdKernels(heap.memory, 1, fma);
    assert.equal(await k.whenReady(), shared ? 1 : 0);
    for (const [name, g] of FILTER_CASES) {
      const x = randn(g.n * g.h * g.w * g.ci, 1, 0.3);
      const dy = randn(g.n * g.oh * g.ow * g.co, 2);
      const want = filterGradRef(x, dy, g);
      for (const kc of [512, 37]) {
        const e = maxRelErr(filterGrad(k, heap, x, dy, g, kc), want);
        assert.ok(e < 1e-5, `${name}, slices of ${kc} pixels: relative error ${e}`);
      }
    }
    // By F(3x3, 2x2) and F(3x3, 4x4): the Winograd cases (the 28x28 one spans 7 slices of 64 tiles with
    // 2x2 tiles, 4 with 4x4 ones; the last slice is partial). F(3x3, 4x4) has F(4x4, 3x3)'s coefficients,
    // inside the same tolerance.
    for (const [name, g] of WINOGRAD_CASES) {
      const x = randn(g.n * g.h * g.w * g.ci, 3, 0.3);
      const dy = randn(g.n * g.oh * g.ow * g.co, 4);
      const want = filterGradRef(x, dy, g);
      for (const mt of [2, 4] as const) {
        const e = maxRelErr(winogradFilterGrad(k, heap, x, dy, g, mt), want);
        assert.ok(e < 1e-5, `Winograd filter gradient F(3x3, ${mt}x${mt}), ${name}: relative error ${e}`);
      }
    }
    // F(5x5, 2x2): F(2x2, 5x5)'s points, its G5's first two columns on dy and the points' powers on M.
    for (const [name, g] of WINOGRAD5_CASES) {
      const x = randn(g.n * g.h * g.w * g.ci, 5, 0.3);
      const dy = randn(g.n * g.oh * g.ow * g.co, 6);
      const e = maxRelErr(winogradFilterGrad(k, heap, x, dy, g, 2), filterGradRef(x, dy, g));
      assert.ok(e < 1e-5, `Winograd filter gradient F(5x5, 2x2), ${name}: relative error ${e}`);
    }
    heap.assertGuards(label);
    assert.ok(shared ? k.splitCalls > 0 : k.splitCalls === 0, `split calls: ${k.splitCalls}`);
  });

  /**
   * A forward-convolution kernel (`run`: conv_forward or winograd_conv, as the backend calls them)
   * against the float64 reference, with and without ReLU, its work split 1 and 5 ways per pixel block
   * (5: uneven, 24 panels as 5+5+5+5+4, or more runs than panels, 16 channels: 2); and with the items
   * claimed in chunks (`pieces`, as the backend runs them), which must give the same floats.
   */
  const forwardMatches = async (cases: [string, Conv][], run: typeof convForward, seed: number) => {
    const heap = new Heap(shared);
    const k = new SimdKernels(heap.memory, 1, fma);
    await k.whenReady();
    for (const [name, g] of cases) {
      const x = randn(g.n * g.h * g.w * g.ci, seed, 0.3);
      const wt = randn(g.kh * g.kw * g.ci * g.co, seed + 1);
      const bias = randn(g.co, seed + 2);
      for (const relu of [false, true]) {
        const want = convRef(x, wt, bias, relu, g);
        for (const chunks of [1, 5]) {
          const got = run(k, heap, x, wt, bias, relu, g, chunks);
          const e = maxRelErr(got, want);
          assert.ok(e < 1e-5, `${name}, relu ${relu}, ${chunks} runs of panels: relative error ${e}`);
          const claimed = run(k, heap, x, wt, bias, relu, g, chunks, PIECES);
          assert.ok(claimed.every((v, i) => v === got[i]), `${name}, relu ${relu}, ${chunks} runs of panels: chunks claimed, not the same floats`);
          if (relu) assert.ok(got.some((v) => v === 0) && got.every((v) => v >= 0), `${name}: ReLU applied`);
        }
      }
    }
    heap.assertGuards(label);
    assert.ok(shared ? k.splitCalls > 0 : k.splitCalls === 0, `split calls: ${k.splitCalls}`);
  };

  test(`SIMD kernels (${label}): forward convolution with bias and ReLU matches a float64 reference`, () => forwardMatches(FORWARD_CASES, convForward, 15));

  // Winograd's transforms add and subtract (and halve W): a few float32 roundings more than a direct
  // sum, inside the same tolerance.
  test(`SIMD kernels (${label}): 3x3 convolutions by Winograd F(2x2, 3x3) with bias and ReLU match a float64 reference`, () =>
    forwardMatches(WINOGRAD_CASES, winogradForward(2), 25));

  // F(4x4, 3x3)'s transforms have larger coefficients (up to 8 in A, 5/2 in B): about 10x
  // F(2x2, 3x3)'s float32 error, still inside the direct kernels' tolerance.
  test(`SIMD kernels (${label}): 3x3 convolutions by Winograd F(4x4, 3x3) with bias and ReLU match a float64 reference`, () =>
    forwardMatches(WINOGRAD_CASES, winogradForward(4), 35));

  // F(2x2, 5x5) shares F(4x4, 3x3)'s input transform; its G5 reaches 16/15 and A^T 2.
  test(`SIMD kernels (${label}): 5x5 convolutions by Winograd F(2x2, 5x5) with bias and ReLU match a float64 reference`, () =>
    forwardMatches(WINOGRAD5_CASES, winogradForward(2), 45));

  test(`SIMD kernels (${label}): BatchNorm statistics, normalisation with ReLU and its two gradient passes match a float64 reference`, async () => {
    const heap = new Heap(shared);
    const k = new SimdKernels(heap.memory, 1, fma);
    await k.whenReady();
    // 3000 rows of 30 channels (off the 4-lane grid), mean about 4: x = 1.5 u + 4.
    const [rows, c] = [3000, 30];
    const x = randn(rows * c, 40).map((v) => 1.5 * v + 4);
    const px = heap.put(x);
    const parts = () => Array.from({ length: c * 2 }, (_, j) => Array.from({ length: k.threads }, (_, p) => new Float64Array(heap.memory.buffer, acc, 2 * k.threads * c)[p * 2 * c + j]).reduce((a, b) => a + b));
    const acc = heap.alloc(4 * k.threads * c);
    heap.f32(acc, 4 * k.threads * c).fill(0);
    k.parallel('bn_stats', [px, acc, c, 0, 0, 0], 4, rows, rows * c, 1, 3);
    const sums = parts();
    const want = new Float64Array(2 * c);
    for (let r = 0; r < rows; r++) for (let j = 0; j < c; j++) [want[j], want[c + j]] = [want[j] + x[r * c + j], want[c + j] + x[r * c + j] ** 2];
    assert.ok(maxRelErr(sums, want) < 1e-12, `bn_stats: ${maxRelErr(sums, want)}`);

    const mean = Float32Array.from({ length: c }, (_, j) => want[j] / rows);
    const scale = randn(c, 41).map((v) => v + 0.1 * Math.sign(v));
    const beta = randn(c, 42);
    const pm = heap.put(mean);
    const pout = heap.alloc(rows * c);
    for (const relu of [0, 1]) {
      k.parallel('bn_apply', [px, pm, heap.put(scale), heap.put(beta), pout, c, relu, 0, 0], 7, rows, rows * c);
      const wantOut = x.map((v, i) => {
        const y = (v - mean[i % c]) * scale[i % c] + beta[i % c];
        return relu ? Math.max(0, y) : y;
      });
      assert.ok(maxRelErr(heap.f32(pout, rows * c), wantOut) < 1e-6, `bn_apply relu ${relu}`);
    }
    const out = Float32Array.from(heap.f32(pout, rows * c)); // with ReLU
    assert.ok(out.some((v) => v === 0) && out.some((v) => v > 0));

    const dy = randn(rows * c, 43);
    const pdy = heap.put(dy);
    const pout2 = heap.put(out);
    for (const relu of [0, 1]) {
      const g = dy.map((v, i) => (relu && !(out[i] > 0) ? 0 : v));
      heap.f32(acc, 4 * k.threads * c).fill(0);
      k.parallel('bn_grad_sums', [pdy, pout2, px, pm, acc, c, relu, 0, 0, 0], 8, rows, rows * c, 1, 7);
      const got = parts();
      const wantG = new Float64Array(2 * c);
      for (let i = 0; i < rows * c; i++) [wantG[i % c], wantG[c + (i % c)]] = [wantG[i % c] + g[i], wantG[c + (i % c)] + g[i] * Math.fround(x[i] - mean[i % c])]; // x - mean in float32, as the kernel
      assert.ok(maxRelErr(got, wantG) < 1e-9, `bn_grad_sums relu ${relu}: ${maxRelErr(got, wantG)}`);

      const [a, b, kk] = [randn(c, 44), randn(c, 45), randn(c, 46)];
      const pdx = heap.put(new Float32Array(rows * c).fill(5)); // must be overwritten
      k.parallel('bn_grad_input', [pdy, pout2, px, pm, heap.put(a), heap.put(b), heap.put(kk), pdx, c, relu, 0, 0], 10, rows, rows * c);
      const wantDx = g.map((v, i) => a[i % c] * v + b[i % c] * (x[i] - mean[i % c]) + kk[i % c]);
      assert.ok(maxRelErr(heap.f32(pdx, rows * c), wantDx) < 1e-6, `bn_grad_input relu ${relu}: ${maxRelErr(heap.f32(pdx, rows * c), wantDx)}`);
    }
    heap.assertGuards(label);
    assert.ok(shared ? k.splitCalls >= 6 : k.splitCalls === 0, `split calls: ${k.splitCalls}`);
  });

  test(`SIMD kernels (${label}): max- and average-pool gradients, sum over rows, ReLU gradient with bias sums, transposes, dilation, channel padding, Adam`, async () => {
    const heap = new Heap(shared);
    const k = new SimdKernels(heap.memory, 1, fma);
    await k.whenReady();

    // MaxPoolGrad, 3x3/2 ceil mode on 15x15 (the last window hangs over), ReLU-like input with tied zeros.
    const [n, h, w, c, oh, ow, f, s] = [8, 15, 15, 36, 8, 8, 3, 2];
    const x = randn(n * h * w * c, 3, 0.5).map((v) => Math.max(0, v));
    const y = new Float32Array(n * oh * ow * c);
    const dy = randn(y.length, 4);
    const wantMax = new Float32Array(x.length);
    for (let b = 0; b < n; b++)
      for (let oy = 0; oy < oh; oy++)
        for (let ox = 0; ox < ow; ox++)
          for (let ch = 0; ch < c; ch++) {
            let best = -Infinity;
            let at = -1;
            for (let iy = oy * s; iy < Math.min(h, oy * s + f); iy++)
              for (let ix = ox * s; ix < Math.min(w, ox * s + f); ix++) {
                const o = ((b * h + iy) * w + ix) * c + ch;
                if (x[o] > best) [best, at] = [x[o], o];
              }
            const d = ((b * oh + oy) * ow + ox) * c + ch;
            y[d] = best;
            wantMax[at] += dy[d];
          }
    const px = heap.put(x);
    const py = heap.put(y);
    const pdy = heap.put(dy);
    const pdx = heap.put(new Float32Array(x.length).fill(7)); // must be overwritten
    k.parallel('max_pool_grad', [px, py, pdy, pdx, 0, 0, h, w, c, oh, ow, f, f, s, s, 0, 0], 4, n, x.length);
    assert.deepEqual(Array.from(heap.f32(pdx, x.length)), Array.from(wantMax));

    // AvgPoolGrad, 5/3 (the aux heads) on 14x14 -> 4x4.
    const [ah, aoh, af, as] = [14, 4, 5, 3];
    const ady = randn(n * aoh * aoh * c, 5);
    const wantAvg = new Float64Array(n * ah * ah * c);
    for (let b = 0; b < n; b++)
      for (let oy = 0; oy < aoh; oy++)
        for (let ox = 0; ox < aoh; ox++)
          for (let iy = oy * as; iy < oy * as + af; iy++)
            for (let ix = ox * as; ix < ox * as + af; ix++)
              for (let ch = 0; ch < c; ch++) wantAvg[((b * ah + iy) * ah + ix) * c + ch] += ady[((b * aoh + oy) * aoh + ox) * c + ch] / (af * af);
    const pady = heap.put(ady);
    const padx = heap.alloc(wantAvg.length);
    k.parallel('avg_pool_grad', [pady, padx, 0, 0, ah, ah, c, aoh, aoh, af, af, as, as, 0, 0, 1 / (af * af)], 2, n, wantAvg.length);
    assert.ok(maxRelErr(heap.f32(padx, wantAvg.length), wantAvg) < 1e-6);

    // Sum over rows (bias gradients): [outer, inner] -> [inner], inner not a multiple of 4.
    const [outer, inner] = [3000, 30];
    const m = randn(outer * inner, 6);
    const wantSum = new Float64Array(inner);
    for (let r = 0; r < outer; r++) for (let j = 0; j < inner; j++) wantSum[j] += m[r * inner + j];
    const pm = heap.put(m);
    const psum = heap.alloc(inner);
    k.parallel('sum_rows', [pm, psum, outer, inner, 0, 0], 4, inner, outer * inner, 4);
    assert.ok(maxRelErr(heap.f32(psum, inner), wantSum) < 1e-6);

    // ReLU gradient and bias sum in one pass: g = y > 0 ? dy : 0, and each thread's float64 column sums.
    {
      const yr = randn(outer * inner, 8, 0.2).map((v) => Math.max(0, v)); // ReLU output, with zeros
      const pg = heap.alloc(outer * inner);
      const acc = heap.alloc(2 * k.threads * inner);
      heap.f32(acc, 2 * k.threads * inner).fill(0);
      k.parallel('relu_grad_sum', [pm, heap.put(yr), pg, acc, inner, 0, 0, 0], 6, outer, outer * inner, 1, 5);
      const wantG = m.map((v, i) => (yr[i] > 0 ? v : 0));
      assert.deepEqual(heap.f32(pg, outer * inner), wantG);
      const parts = new Float64Array(heap.memory.buffer, acc, k.threads * inner);
      const got = Array.from({ length: inner }, (_, j) => Array.from({ length: k.threads }, (_, p) => parts[p * inner + j]).reduce((a, b) => a + b));
      const want = new Float64Array(inner);
      for (let r = 0; r < outer; r++) for (let j = 0; j < inner; j++) want[j] += wantG[r * inner + j];
      assert.ok(maxRelErr(got, want) < 1e-9, `relu_grad_sum bias sums: ${maxRelErr(got, want)}`);
    }

    // Transpose [rows, cols] -> [cols, rows], sizes off the 4x4 and 32x32 blocks.
    const [rows, cols] = [301, 259];
    const t = randn(rows * cols, 7);
    const pt = heap.put(t);
    const ptt = heap.alloc(rows * cols);
    k.parallel('transpose', [pt, ptt, rows, cols, cols, rows, 0, 0], 6, rows, rows * cols, 32);
    const tt = heap.f32(ptt, rows * cols);
    for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) assert.equal(tt[j * rows + r], t[r * cols + j]);

    // Flipped, transposed filter: W [kh, kw, ci, co] -> [kh, kw, co, ci] flipped in space.
    const [fh, fw, fci, fco] = [3, 5, 6, 10];
    const wf = randn(fh * fw * fci * fco, 8);
    const pw = heap.put(wf);
    const pwf = heap.alloc(wf.length);
    k.parallel('flip_transpose_filter', [pw, pwf, fh, fw, fci, fco, 0, 0], 6, fh * fw, wf.length);
    const got = heap.f32(pwf, wf.length);
    for (let yy = 0; yy < fh; yy++)
      for (let xx = 0; xx < fw; xx++)
        for (let i = 0; i < fci; i++)
          for (let o = 0; o < fco; o++)
            assert.equal(got[((yy * fw + xx) * fco + o) * fci + i], wf[(((fh - 1 - yy) * fw + (fw - 1 - xx)) * fci + i) * fco + o]);

    // Dilation by 2 (the input gradient of a stride-2 conv).
    const [dn, dh, dw, dc] = [3, 5, 6, 7];
    const dd = randn(dn * dh * dw * dc, 9);
    const pd = heap.put(dd);
    const [eh, ew] = [2 * dh - 1, 2 * dw - 1];
    const pdd = heap.put(new Float32Array(dn * eh * ew * dc).fill(3));
    k.parallel('dilate', [pd, pdd, dn, dh, dw, dc, 2, 2, 0, 0], 8, dn, 1 << 20);
    const dil = heap.f32(pdd, dn * eh * ew * dc);
    for (let b = 0; b < dn; b++)
      for (let yy = 0; yy < eh; yy++)
        for (let xx = 0; xx < ew; xx++)
          for (let ch = 0; ch < dc; ch++) {
            const v = dil[((b * eh + yy) * ew + xx) * dc + ch];
            const want = yy % 2 || xx % 2 ? 0 : dd[((b * dh + yy / 2) * dw + xx / 2) * dc + ch];
            assert.equal(v, want);
          }

    // Channel padding (conv1's 3 input channels to 4): groups of 3 rows of 5 floats -> 4 rows, last zero.
    const [groups, width] = [1001, 5];
    const src = randn(groups * 3 * width, 18);
    const pdst = heap.put(new Float32Array(groups * 4 * width).fill(9));
    k.parallel('copy_rows', [heap.put(src), pdst, 3, 4, width, 0, 0], 5, groups, 1 << 20);
    const padded = heap.f32(pdst, groups * 4 * width);
    for (let gi = 0; gi < groups; gi++) {
      assert.deepEqual(Array.from(padded.subarray(gi * 20, gi * 20 + 15)), Array.from(src.subarray(gi * 15, gi * 15 + 15)));
      assert.deepEqual(Array.from(padded.subarray(gi * 20 + 15, gi * 20 + 20)), [0, 0, 0, 0, 0]);
    }

    // Adam: one step, 10,003 elements (a tail off the 4-lane grid).
    const size = 10003;
    const [pv, g, m0, v0] = [randn(size, 10), randn(size, 11), randn(size, 12), randn(size, 13).map(Math.abs)];
    const [b1, b2, lr, eps, c1, c2] = [0.9, 0.999, 3e-4, 1e-8, 1 - 0.9 ** 3, 1 - 0.999 ** 3];
    const ptrs = [pv, g, m0, v0].map((a) => heap.put(a));
    const outs = [0, 1, 2].map(() => heap.alloc(size));
    k.parallel('adam_step', [...ptrs, ...outs, 0, 0, b1, b2, 1 - b1, 1 - b2, lr / c1, Math.sqrt(c2), eps], 7, size, 4 * size, 4);
    const [x1, m1, v1] = outs.map((p) => heap.f32(p, size));
    for (let i = 0; i < size; i++) {
      const mi = b1 * m0[i] + (1 - b1) * g[i];
      const vi = b2 * v0[i] + (1 - b2) * g[i] * g[i];
      const xi = pv[i] - ((lr / c1) * mi) / (Math.sqrt(vi) / Math.sqrt(c2) + eps);
      assert.ok(Math.abs(m1[i] - mi) <= 1e-6 * Math.max(1, Math.abs(mi)), `m[${i}]`);
      assert.ok(Math.abs(v1[i] - vi) <= 1e-6 * Math.max(1, Math.abs(vi)), `v[${i}]`);
      assert.ok(Math.abs(x1[i] - xi) <= 1e-6 * Math.max(1, Math.abs(xi)), `x[${i}]: ${x1[i]} vs ${xi}`);
    }
    heap.assertGuards(label);
    assert.ok(shared ? k.splitCalls >= 7 : k.splitCalls === 0, `split calls: ${k.splitCalls}`);
  });
}

test('SIMD kernels: a call split into claimed chunks runs each item once, over 3 helper threads', async () => {
  const heap = new Heap(true);
  const k = new SimdKernels(heap.memory, 3);
  assert.equal(await k.whenReady(), 3);
  // a += b in place: an element missed stays 0, one run twice becomes 2. Sizes that do not divide into
  // chunks of 16 (add_arrays' alignment), one smaller than a chunk per thread; and, with 64 times
  // PIECES, more chunks than the schedule holds (the last one takes the rest).
  for (const [size, pieces] of [[100_003, PIECES], [65_536, PIECES], [33_000, PIECES], [100_003, 64 * PIECES]]) {
    const a = heap.put(new Float32Array(size));
    const b = heap.put(new Float32Array(size).fill(1));
    for (let round = 0; round < 3; round++) {
      k.parallel('add_arrays', [a, b, a, 0, 0], 3, size, size, 16, -1, pieces);
      const got = heap.f32(a, size);
      const wrong = got.findIndex((v) => v !== round + 1);
      assert.equal(wrong, -1, `size ${size}, round ${round}: element ${wrong} is ${got[wrong]}`);
    }
  }
  heap.assertGuards('claimed chunks');
  assert.ok(k.splitCalls >= 12, `split calls: ${k.splitCalls}`);
});

test('SIMD kernels: a kernel that traps on a helper thread throws on the caller (no hang)', async () => {
  const heap = new Heap(true);
  const k = new SimdKernels(heap.memory, 1);
  assert.equal(await k.whenReady(), 1);
  // A transpose whose second half reads far past the end of the memory: the helper's share traps.
  const rows = 1 << 12;
  const src = heap.alloc(rows * 16);
  assert.throws(() => k.parallel('transpose', [src, heap.alloc(rows * 16), rows, 16, 1 << 24, rows, 0, 0], 6, rows, 1 << 20, 32), /out of bounds|failed on a helper thread/);
  // The pool still works afterwards.
  const t = randn(64 * 64, 14);
  const pt = heap.put(t);
  const ptt = heap.alloc(t.length);
  k.parallel('transpose', [pt, ptt, 64, 64, 64, 64, 0, 0], 6, 64, 1 << 20, 32);
  assert.equal(heap.f32(ptt, t.length)[1], t[64]);
});

test('the committed SIMD binaries are what build.sh makes of kernels.c', (t) => {
  // Another clang version makes other (equally valid) binaries: the check needs the one build.sh names.
  const tools = spawnSync('bash', ['-c', 'command -v clang-16; command -v wasm-ld-16'], { encoding: 'utf8' });
  if (tools.stdout.trim().split('\n').filter(Boolean).length < 2) {
    // CI installs clang and lld (.ci/run); elsewhere the check needs them.
    assert.ok(!process.env.CI, 'clang-16 and wasm-ld-16 are needed to check the SIMD binaries');
    t.skip('clang-16 and lld-16 are not installed');
    return;
  }
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'simd-build-'));
  try {
    const r = spawnSync('bash', [path.join(SIMD_DIR, 'build.sh'), out], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    for (const f of ['kernels.wasm', 'kernels.threads.wasm', 'kernels.fma.wasm', 'kernels.threads.fma.wasm']) {
      assert.ok(fs.readFileSync(path.join(out, f)).equals(fs.readFileSync(path.join(SIMD_DIR, f))), `${f} differs from a fresh build: run src/backend/wasm/simd/build.sh`);
    }
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});
