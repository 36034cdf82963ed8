/**
 * Forward convolutions on the wasm backend with this project's SIMD GEMM (conv_forward in
 * ./simd/kernels.c) instead of XNNPACK: FusedConv2D (conv + bias + ReLU, the whole of BasicConv2d),
 * Conv2D, and the input gradient of a stride-1 convolution (./conv_backprop.ts), which is a forward
 * convolution of dy with the flipped, transposed filter.
 *
 * XNNPACK's convolution reaches 20-24 GMAC/s on two threads here, and in training it packs the
 * filter again on every call (tfjs caches the packing per filter tensor, and the filters are new
 * tensors after every optimizer step). Ours packs the filter into 8-channel panels (a pass over the
 * filter, small next to the product), packs 32 output pixels' patches at a time by 4x4 transposes, and
 * runs a 4x8 register tile with bias and ReLU applied as the tile is stored: 27-34 GMAC/s on two threads.
 *
 * Used in training and in inference (where each filter's packed panels are kept from call to call,
 * ./packed_cache.ts). It covers NHWC, dilation 1 and output channels a multiple of 8 (every GoogLeNet
 * conv; conv1's 3 input channels are packed as runs of 21 floats per window row, with no zero channel),
 * no activation or ReLU; anything else goes to the wasm backend's own kernel.
 */
import * as tf from '../../tf';
import { BackendWasm, Info, KernelArgs, dispose, f32, memoryOffset, sizeOf, wasmKernel } from './common';
import { cachedPacking } from './packed_cache';
import { PIECES, simdKernels } from './simd/module';

/** Output pixels packed and computed together (G in kernels.c). */
const GROUP = 32;

/** Work items per thread below which a call's pixel groups are also split over W's panels. */
const ITEMS_PER_THREAD = 4;

/** Whether conv_forward covers this convolution. */
export function simdConvCovers(info: tf.backend_util.Conv2DInfo): boolean {
  return (
    info.dataFormat === 'channelsLast' &&
    info.dilationHeight === 1 &&
    info.dilationWidth === 1 &&
    info.outChannels % 8 === 0 &&
    info.batchSize * info.outHeight * info.outWidth > 0
  );
}

/**
 * y [n, oh, ow, co] = act(conv(x, filter) + bias) for a convolution `simdConvCovers` accepts. `filter`
 * is [kh, kw, ci, co]; `bias` has co elements or is null. `cacheFilter`: keep the filter's packed panels
 * for the next call with the same filter tensor (inference; ./packed_cache.ts).
 */
export function simdConv2d(
  backend: BackendWasm,
  x: Info,
  filter: Info,
  bias: Info | null,
  relu: boolean,
  info: tf.backend_util.Conv2DInfo,
  cacheFilter = false,
): Info {
  const { batchSize: n, inHeight: h, inWidth: w, outHeight: oh, outWidth: ow, outChannels: co } = info;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  const simd = simdKernels(backend);
  const m = winogradTile(info, false, !cacheFilter);
  if (m) {
    // Winograd's input transform takes 4 channels at a time: x and the filter get zero channels.
    const ci4 = Math.ceil(info.inChannels / 4) * 4;
    const x4 = ci4 === info.inChannels ? x : paddedChannels(backend, x, ci4);
    const y = winogradConv2d(backend, x4, filter, bias, relu, info, ci4, m, cacheFilter);
    dispose(backend, x4 === x ? null : x4);
    return y;
  }
  // Patches are packed 4 channels at a time, or, where the channels are not a multiple of 4 (conv1's 3),
  // as runs of kw*ci floats per window row: no zero channels (conv1: K = 147, not 196).
  const ci = info.inChannels;
  const k = kh * kw * ci;
  const pixels = n * oh * ow;
  const groups = Math.ceil(pixels / GROUP);
  // Few pixel groups (a 3x3 map, a dense layer's rows): each is also split into runs of W's panels.
  const chunks = simd.threads === 1 || groups >= ITEMS_PER_THREAD * simd.threads ? 1 : Math.min(co / 8, Math.ceil((ITEMS_PER_THREAD * simd.threads) / groups));
  const pack = () => packedFilter(backend, filter);
  const bp = cacheFilter ? cachedPacking(backend, filter.dataId, pack, 'panels') : pack();
  const out = backend.makeOutput([n, oh, ow, co], 'float32');
  const ap = backend.makeOutput([simd.threads, GROUP, k], 'float32');
  const zeros = backend.makeOutput([Math.max(ci, co)], 'float32');
  f32(backend, zeros).fill(0);
  // conv_forward(x, bp, bias, zrow, ap, y, n, h, w, ci, oh, ow, kh, kw, sh, sw, pt, pl, co, relu, part, chunks, i0, i1),
  // split over work items (pixel group x run of panels)
  simd.parallel(
    'conv_forward',
    [
      memoryOffset(backend, x), memoryOffset(backend, bp), memoryOffset(backend, bias ?? zeros), memoryOffset(backend, zeros),
      memoryOffset(backend, ap), memoryOffset(backend, out), n, h, w, ci, oh, ow, kh, kw, sh, sw, info.padInfo.top, info.padInfo.left,
      co, relu ? 1 : 0, 0, chunks, 0, 0,
    ],
    22,
    groups * chunks,
    pixels * k * co,
    1,
    20,
    PIECES,
  );
  dispose(backend, ap, zeros, cacheFilter ? null : bp);
  return out;
}

/** Tiles per block in winograd_conv (WT in kernels.c). */
const WINOGRAD_TILES = 16;

/** Floats after each position's block in the Winograd kernels' transformed operands (XPAD in kernels.c). */
export const WINOGRAD_PAD = 16;

/** The smallest share of the 2x2 tiles' outputs that must lie inside the map for F(2x2, 3x3) to pay. */
const WINOGRAD_MIN_USE = 0.7;

let winogradOn = true;

/**
 * Whether 3x3 and 5x5 stride-1 convolutions (forward, input and filter gradients) run by Winograd's
 * minimal filtering (on by default; false: the direct GEMM). For tests and benchmarks comparing the two.
 */
export function setWinograd(on: boolean): void {
  winogradOn = on;
}

/**
 * Whether F(2x2, 3x3) pays for this convolution: 3x3, stride 1 (dilation 1 and the channel counts as
 * simdConvCovers asks), on a map that the 2x2 output tiles cover with little waste (7x7 uses 49 of 64
 * tile outputs and is taken; a 3x3 map, 9 of 16, is not).
 */
function winogradCovers(info: tf.backend_util.Conv2DInfo): boolean {
  const { outHeight: oh, outWidth: ow } = info;
  return winograd3x3(info) && (oh * ow) / (4 * Math.ceil(oh / 2) * Math.ceil(ow / 2)) >= WINOGRAD_MIN_USE;
}

/** Whether Winograd is on and this is an r x r stride-1 convolution that simdConvCovers. */
function winogradSquare(info: tf.backend_util.Conv2DInfo, r: number): boolean {
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  return winogradOn && kh === r && kw === r && sh === 1 && sw === 1 && simdConvCovers(info);
}

function winograd3x3(info: tf.backend_util.Conv2DInfo): boolean {
  return winogradSquare(info, 3);
}

/**
 * The largest share of the direct sum's products (25 per output) that F(2x2, 5x5)'s (36 per 2x2 tile,
 * over the tiles that cover the map) may reach for it to be taken: its transforms cost more than
 * F(4x4, 3x3)'s per product (36 positions for 4 outputs), so it must save a third at least. 14x14 and
 * 28x28: 0.36; 7x7: 0.47; 3x3 (inception5 at 112 px): 0.64; a 1x1 map, 1.44, stays direct.
 */
const WINOGRAD5_MAX_COST = 0.7;

/**
 * The same for F(5x5, 2x2), the filter gradient: its output transform and the transform of dy per tile
 * weigh more on small maps; on a 3x3 map (0.64) it ran no faster than the direct GEMM, on 7x7 1.2x.
 */
const WINOGRAD5_GRAD_MAX_COST = 0.5;

/** The smallest share of the 4x4 tiles' outputs that must lie inside the map for F(4x4, 3x3) to pay. */
const WINOGRAD4_MIN_USE = 0.55;

/**
 * The output tile winograd_conv takes for this forward convolution (or input gradient), m for
 * F(m x m, r x r), and the tile of dy winograd_filter_grad takes for its filter gradient, F(r x r, m x m)
 * (the same products per tile), or 0 for the direct GEMM. 5x5 stride-1 convolutions: 2, F(2x2, 5x5),
 * where it pays (WINOGRAD5_MAX_COST; `filterGrad`: the filter gradient's, WINOGRAD5_GRAD_MAX_COST). 3x3 ones: 4 where the 4x4 tiles are used enough (a 3x3 map: 9 of 16
 * outputs, 36 products against the direct sum's 81) and their 36 products per tile cost less over the
 * map than F(2x2, 3x3)'s 16 per 2x2 tile (28x28: 1.78x fewer; 14x14 and 7x7, where the 4x4 tiles hang
 * over the edge: 1.36x and 1.78x); else 2 where winogradCovers; else 0. `perCall`: the filter's
 * transform is made for this call alone (training): a 3x3 convolution on a 3x3 map (inception5 at
 * 112 px: one 4x4 tile per image, 9 of its 16 outputs used) then stays direct, since its 36-position
 * transform of the whole filter costs about what the tile saves (batch 16, fresh filter, alternating;
 * 192 -> 384: forward 2.92 against 3.15 ms, input gradient 3.18 against 3.64; 160 -> 320: forward
 * 2.08 against 2.35, input gradient 2.18 against 2.2-6.8 in runs that moved).
 */
export function winogradTile(info: tf.backend_util.Conv2DInfo, filterGrad = false, perCall = false): 0 | 2 | 4 {
  const { outHeight: oh, outWidth: ow } = info;
  if (winogradSquare(info, 5)) {
    const cost = (36 * Math.ceil(oh / 2) * Math.ceil(ow / 2)) / (25 * oh * ow);
    return cost <= (filterGrad ? WINOGRAD5_GRAD_MAX_COST : WINOGRAD5_MAX_COST) ? 2 : 0;
  }
  if (!winograd3x3(info)) return 0;
  if (perCall && !filterGrad && oh <= 3 && ow <= 3) return 0;
  const cost = (m: number) => (m + 2) ** 2 * Math.ceil(oh / m) * Math.ceil(ow / m);
  if ((oh * ow) / (16 * Math.ceil(oh / 4) * Math.ceil(ow / 4)) >= WINOGRAD4_MIN_USE && cost(4) < cost(2)) return 4;
  return winogradCovers(info) ? 2 : 0;
}

/**
 * y = act(conv(x, filter) + bias) by F(m x m, r x r), m from winogradTile, r the filter's size
 * (winograd_conv in ./simd/kernels.c); x has ci4 channels (a multiple of 4), the filter is padded to
 * match. The filter's transform U [(m+r-1)^2][co/8][ci4][8] (a pad after each position's block) is
 * made per call in training and kept per filter tensor (and tile) in inference, as the direct path's
 * panels are.
 */
function winogradConv2d(
  backend: BackendWasm,
  x: Info,
  filter: Info,
  bias: Info | null,
  relu: boolean,
  info: tf.backend_util.Conv2DInfo,
  ci4: number,
  m: 2 | 4,
  cacheFilter: boolean,
): Info {
  const { batchSize: n, inHeight: h, inWidth: w, outHeight: oh, outWidth: ow, outChannels: co } = info;
  const simd = simdKernels(backend);
  const r = info.filterHeight;
  const positions = (m + r - 1) ** 2;
  const transform = () => {
    const f4 = ci4 === info.inChannels ? filter : paddedChannels(backend, filter, ci4, 2);
    const u = backend.makeOutput([positions, ci4 * co + WINOGRAD_PAD], 'float32');
    // winograd_filter(w, u, ci, co, m, r, cb0, cb1), split over 8-channel panels
    simd.parallel('winograd_filter', [memoryOffset(backend, f4), memoryOffset(backend, u), ci4, co, m, r, 0, 0], 6, co / 8, positions * ci4 * co);
    dispose(backend, f4 === filter ? null : f4);
    return u;
  };
  const u = cacheFilter ? cachedPacking(backend, filter.dataId, transform, `winograd${m}x${r}`) : transform();
  const tiles = n * Math.ceil(oh / m) * Math.ceil(ow / m);
  const blocks = Math.ceil(tiles / WINOGRAD_TILES);
  const chunks = simd.threads === 1 || blocks >= ITEMS_PER_THREAD * simd.threads ? 1 : Math.min(co / 8, Math.ceil((ITEMS_PER_THREAD * simd.threads) / blocks));
  const out = backend.makeOutput([n, oh, ow, co], 'float32');
  const scratch = backend.makeOutput([simd.threads, positions * (WINOGRAD_TILES * (ci4 + 8) + WINOGRAD_PAD)], 'float32');
  const zeros = bias ? null : backend.makeOutput([co], 'float32');
  if (zeros) f32(backend, zeros).fill(0);
  // winograd_conv(x, u, bias, scratch, y, n, h, w, ci, oh, ow, pt, pl, co, m, r, relu, part, chunks, i0, i1),
  // split over work items (tile block x run of panels)
  simd.parallel(
    'winograd_conv',
    [
      memoryOffset(backend, x), memoryOffset(backend, u), memoryOffset(backend, bias ?? zeros!), memoryOffset(backend, scratch), memoryOffset(backend, out),
      n, h, w, ci4, oh, ow, info.padInfo.top, info.padInfo.left, co, m, r, relu ? 1 : 0, 0, chunks, 0, 0,
    ],
    19,
    blocks * chunks,
    positions * tiles * ci4 * co,
    1,
    17,
    PIECES,
  );
  dispose(backend, scratch, zeros, cacheFilter ? null : u);
  return out;
}

/** filter [kh, kw, ci, co] packed as bp [co/8][kh*kw*ci][8] (pack_b8). */
function packedFilter(backend: BackendWasm, filter: Info): Info {
  const [kh, kw, ci, co] = filter.shape;
  const k = kh * kw * ci;
  const bp = backend.makeOutput([co / 8, k, 8], 'float32');
  // pack_b8(filter [k, co], bp, k, co, cb0, cb1)
  simdKernels(backend).parallel('pack_b8', [memoryOffset(backend, filter), memoryOffset(backend, bp), k, co, 0, 0], 4, co / 8, k * co);
  return bp;
}

/**
 * Whether a gradient tape records (training). In training every filter is a new tensor after each
 * optimizer step, so it is packed on each call; outside training (evaluation, prediction, the
 * validation pass) the packed panels are kept per filter tensor (XNNPACK, which tfjs used there, keeps
 * its own packing the same way).
 */
function recording(): boolean {
  return tf.engine().state.gradientDepth > 0;
}

/**
 * `t` with its channel axis (`axis`, NHWC's last by default; 2 for a [kh, kw, ci, co] filter) padded
 * with zeros to `channels` (copy_rows in ./simd/kernels.c, split over the threads).
 */
export function paddedChannels(backend: BackendWasm, t: Info, channels: number, axis = t.shape.length - 1): Info {
  const shape = t.shape.slice();
  const rows = shape[axis];
  const groups = sizeOf(shape.slice(0, axis));
  const width = sizeOf(shape.slice(axis + 1));
  shape[axis] = channels;
  const out = backend.makeOutput(shape, 'float32');
  // copy_rows(src, dst, src_rows, dst_rows, width, g0, g1)
  simdKernels(backend).parallel('copy_rows', [memoryOffset(backend, t), memoryOffset(backend, out), rows, channels, width, 0, 0], 5, groups, sizeOf(shape));
  return out;
}

interface ConvAttrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dilations: [number, number] | number;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  activation?: string;
}

function convInfo(x: Info, filter: Info, attrs: ConvAttrs): tf.backend_util.Conv2DInfo {
  const { strides, pad, dataFormat, dilations, dimRoundingMode } = attrs;
  const format = tf.backend_util.convertConv2DDataFormat(dataFormat);
  return tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filter.shape as [number, number, number, number],
    strides,
    dilations,
    pad,
    dimRoundingMode,
    false,
    format,
  );
}

export function fusedConv2D(args: KernelArgs): Info {
  const original = () => wasmKernel('FusedConv2D').kernelFunc(args as never) as Info;
  const backend = args.backend as unknown as BackendWasm;
  const { x, filter, bias, preluActivationWeights } = args.inputs as { x: Info; filter: Info; bias?: Info; preluActivationWeights?: Info };
  const attrs = args.attrs as unknown as ConvAttrs;
  const activation = attrs.activation ?? 'linear';
  const info = convInfo(x, filter, attrs);
  const ok =
    x.dtype === 'float32' &&
    (activation === 'linear' || activation === 'relu') &&
    !preluActivationWeights &&
    (!bias || sizeOf(bias.shape) === info.outChannels) &&
    simdConvCovers(info);
  if (!ok) return original();
  return simdConv2d(backend, x, filter, bias ?? null, activation === 'relu', info, !recording());
}

export function conv2D(args: KernelArgs): Info {
  const original = () => wasmKernel('Conv2D').kernelFunc(args as never) as Info;
  const backend = args.backend as unknown as BackendWasm;
  const { x, filter } = args.inputs as { x: Info; filter: Info };
  const info = convInfo(x, filter, args.attrs as unknown as ConvAttrs);
  if (x.dtype !== 'float32' || !simdConvCovers(info)) return original();
  return simdConv2d(backend, x, filter, null, false, info, !recording());
}
