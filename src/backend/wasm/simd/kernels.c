/*
 * The data-movement and elementwise parts of a training step on the wasm backend, in wasm SIMD.
 *
 * This module has no memory of its own: it imports the tfjs wasm module's memory (shared in the
 * threaded build) and works in place on tensors there, addressed by their byte offsets. It must never
 * touch memory it was not given: no data segments, no globals and no stack frames (the build,
 * ./build.sh, refuses a binary that reads its stack pointer). Every function takes a range of its
 * outermost loop ([lo, hi)), so that two threads can share one call (./pool.ts).
 *
 * Layouts are tfjs's: NHWC feature maps, [kh, kw, ci, co] filters, row-major matrices.
 */
#include <wasm_simd128.h>

#define EXPORT(name) __attribute__((export_name(#name)))

typedef float f32;

static inline int imin(int a, int b) { return a < b ? a : b; }
static inline int imax(int a, int b) { return a > b ? a : b; }

static void zero(f32 *p, int n) {
  int i = 0;
  v128_t z = wasm_f32x4_splat(0.0f);
  for (; i + 4 <= n; i += 4) wasm_v128_store(p + i, z);
  for (; i < n; i++) p[i] = 0.0f;
}

static void copy(f32 *dst, const f32 *src, int n) {
  int i = 0;
  for (; i + 4 <= n; i += 4) wasm_v128_store(dst + i, wasm_v128_load(src + i));
  for (; i < n; i++) dst[i] = src[i];
}

/*
 * MaxPoolGrad for images [b0, b1): dx [n, h, w, c] = 0, then each output pixel's dy goes, channel by
 * channel, to the first input pixel of its window (scan order) that holds the window's maximum (the
 * forward output y). Windows are clipped to the input (padding never wins).
 */
EXPORT(max_pool_grad)
void max_pool_grad(const f32 *x, const f32 *y, const f32 *dy, f32 *dx, int b0, int b1, int h, int w, int c,
                   int oh, int ow, int fh, int fw, int sh, int sw, int top, int left) {
  zero(dx + b0 * h * w * c, (b1 - b0) * h * w * c);
  for (int b = b0; b < b1; b++) {
    for (int oy = 0; oy < oh; oy++) {
      int y0 = oy * sh - top;
      int ya = imax(0, y0), yb = imin(h, y0 + fh);
      for (int ox = 0; ox < ow; ox++) {
        int x0 = ox * sw - left;
        int xa = imax(0, x0), xb = imin(w, x0 + fw);
        int d = ((b * oh + oy) * ow + ox) * c;
        int ch = 0;
        for (; ch + 4 <= c; ch += 4) {
          v128_t m = wasm_v128_load(y + d + ch);
          v128_t g = wasm_v128_load(dy + d + ch);
          v128_t open = wasm_i32x4_splat(-1); /* lanes still looking for their maximum */
          /* No branches on the data: with ReLU's zeros, ties (and so where a lane's search ends) are
             unpredictable, and a mispredicted exit costs more than finishing the window. */
          for (int iy = ya; iy < yb; iy++) {
            for (int ix = xa; ix < xb; ix++) {
              int o = ((b * h + iy) * w + ix) * c + ch;
              v128_t hit = wasm_v128_and(wasm_f32x4_eq(wasm_v128_load(x + o), m), open);
              wasm_v128_store(dx + o, wasm_f32x4_add(wasm_v128_load(dx + o), wasm_v128_and(g, hit)));
              open = wasm_v128_andnot(open, hit);
            }
          }
        }
        for (; ch < c; ch++) {
          f32 m = y[d + ch];
          for (int iy = ya; iy < yb; iy++) {
            for (int ix = xa; ix < xb; ix++) {
              int o = ((b * h + iy) * w + ix) * c + ch;
              if (x[o] == m) {
                dx[o] += dy[d + ch];
                goto done;
              }
            }
          }
        done:;
        }
      }
    }
  }
}

/* nn.AdaptiveAvgPool2d's window along one axis: output i of n -> inputs [floor(i*size/n), ceil((i+1)*size/n)). */
static inline void adaptive_window(int i, int size, int n, int *lo, int *hi) {
  *lo = i * size / n;
  *hi = ((i + 1) * size + n - 1) / n;
}

/*
 * nn.AdaptiveAvgPool2d((oh, ow)) (the aux heads' pooling to 4x4 where AvgPool 5/3 does not give it)
 * for output rows [r0, r1) of y [n, oh, ow, c] (r = image * oh + a): each window's sum over NHWC rows,
 * four channels at a time, times 1 / its size.
 */
EXPORT(adaptive_avg_pool)
void adaptive_avg_pool(const f32 *x, f32 *y, int h, int w, int c, int oh, int ow, int r0, int r1) {
  for (int r = r0; r < r1; r++) {
    int b = r / oh, a = r - b * oh, ya, yb;
    adaptive_window(a, h, oh, &ya, &yb);
    for (int o = 0; o < ow; o++) {
      int xa, xb;
      adaptive_window(o, w, ow, &xa, &xb);
      f32 scale = 1.0f / (f32)((yb - ya) * (xb - xa));
      f32 *d = y + (r * ow + o) * c;
      int ch = 0;
      for (; ch + 4 <= c; ch += 4) {
        v128_t acc = wasm_f32x4_splat(0.0f);
        for (int iy = ya; iy < yb; iy++)
          for (int ix = xa; ix < xb; ix++) acc = wasm_f32x4_add(acc, wasm_v128_load(x + ((b * h + iy) * w + ix) * c + ch));
        wasm_v128_store(d + ch, wasm_f32x4_mul(acc, wasm_f32x4_splat(scale)));
      }
      for (; ch < c; ch++) {
        f32 acc = 0.0f;
        for (int iy = ya; iy < yb; iy++)
          for (int ix = xa; ix < xb; ix++) acc += x[((b * h + iy) * w + ix) * c + ch];
        d[ch] = acc * scale;
      }
    }
  }
}

/*
 * Its gradient for input rows [r0, r1) of dx [n, h, w, c] (r = image * h + i): each input pixel's
 * channels are zeroed, then get, over the (overlapping) windows that hold it, dy times 1 / the
 * window's size, while they are in L1 (dx is not swept once per window).
 */
EXPORT(adaptive_avg_pool_grad)
void adaptive_avg_pool_grad(const f32 *dy, f32 *dx, int h, int w, int c, int oh, int ow, int r0, int r1) {
  for (int r = r0; r < r1; r++) {
    int b = r / h, i = r - b * h;
    for (int j = 0; j < w; j++) {
      f32 *d = dx + (r * w + j) * c;
      zero(d, c);
      for (int a = 0; a < oh; a++) {
        int ya, yb;
        adaptive_window(a, h, oh, &ya, &yb);
        if (i < ya || i >= yb) continue;
        for (int o = 0; o < ow; o++) {
          int xa, xb;
          adaptive_window(o, w, ow, &xa, &xb);
          if (j < xa || j >= xb) continue;
          v128_t scale = wasm_f32x4_splat(1.0f / (f32)((yb - ya) * (xb - xa)));
          const f32 *g = dy + ((b * oh + a) * ow + o) * c;
          int ch = 0;
          for (; ch + 4 <= c; ch += 4)
            wasm_v128_store(d + ch, wasm_f32x4_add(wasm_v128_load(d + ch), wasm_f32x4_mul(wasm_v128_load(g + ch), scale)));
          for (; ch < c; ch++) d[ch] += g[ch] * (1.0f / (f32)((yb - ya) * (xb - xa)));
        }
      }
    }
  }
}

/* AvgPoolGrad for images [b0, b1): each dy pixel, times `scale`, is added over its window (clipped). */
EXPORT(avg_pool_grad)
void avg_pool_grad(const f32 *dy, f32 *dx, int b0, int b1, int h, int w, int c, int oh, int ow, int fh, int fw,
                   int sh, int sw, int top, int left, f32 scale) {
  zero(dx + b0 * h * w * c, (b1 - b0) * h * w * c);
  v128_t s = wasm_f32x4_splat(scale);
  for (int b = b0; b < b1; b++) {
    for (int oy = 0; oy < oh; oy++) {
      int y0 = oy * sh - top;
      int ya = imax(0, y0), yb = imin(h, y0 + fh);
      for (int ox = 0; ox < ow; ox++) {
        int x0 = ox * sw - left;
        int xa = imax(0, x0), xb = imin(w, x0 + fw);
        const f32 *g = dy + ((b * oh + oy) * ow + ox) * c;
        for (int iy = ya; iy < yb; iy++) {
          for (int ix = xa; ix < xb; ix++) {
            f32 *o = dx + ((b * h + iy) * w + ix) * c;
            int ch = 0;
            for (; ch + 4 <= c; ch += 4)
              wasm_v128_store(o + ch, wasm_f32x4_add(wasm_v128_load(o + ch), wasm_f32x4_mul(wasm_v128_load(g + ch), s)));
            for (; ch < c; ch++) o[ch] += g[ch] * scale;
          }
        }
      }
    }
  }
}

/* 4x4 block transpose: rows s, s+ss, s+2ss, s+3ss -> rows d, d+ds, ... */
static inline void transpose4x4(const f32 *s, int ss, f32 *d, int ds) {
  v128_t r0 = wasm_v128_load(s), r1 = wasm_v128_load(s + ss), r2 = wasm_v128_load(s + 2 * ss), r3 = wasm_v128_load(s + 3 * ss);
  v128_t t0 = wasm_i32x4_shuffle(r0, r1, 0, 4, 1, 5); /* a0 b0 a1 b1 */
  v128_t t1 = wasm_i32x4_shuffle(r0, r1, 2, 6, 3, 7); /* a2 b2 a3 b3 */
  v128_t t2 = wasm_i32x4_shuffle(r2, r3, 0, 4, 1, 5); /* c0 d0 c1 d1 */
  v128_t t3 = wasm_i32x4_shuffle(r2, r3, 2, 6, 3, 7); /* c2 d2 c3 d3 */
  wasm_v128_store(d, wasm_i32x4_shuffle(t0, t2, 0, 1, 4, 5));
  wasm_v128_store(d + ds, wasm_i32x4_shuffle(t0, t2, 2, 3, 6, 7));
  wasm_v128_store(d + 2 * ds, wasm_i32x4_shuffle(t1, t3, 0, 1, 4, 5));
  wasm_v128_store(d + 3 * ds, wasm_i32x4_shuffle(t1, t3, 2, 3, 6, 7));
}

/*
 * dst [cols, rows] = src [rows, cols]^T, for source rows [r0, r1). Strides let the matrices be
 * windows of larger ones: source row r starts at src + r * sstride, destination row c at dst + c * dstride.
 */
EXPORT(transpose)
void transpose(const f32 *src, f32 *dst, int rows, int cols, int sstride, int dstride, int r0, int r1) {
  (void)rows;
  const int B = 32;
  for (int rb = r0; rb < r1; rb += B) {
    int re = imin(r1, rb + B);
    for (int cb = 0; cb < cols; cb += B) {
      int ce = imin(cols, cb + B);
      int r = rb;
      for (; r + 4 <= re; r += 4) {
        int c = cb;
        for (; c + 4 <= ce; c += 4) transpose4x4(src + r * sstride + c, sstride, dst + c * dstride + r, dstride);
        for (; c < ce; c++)
          for (int i = 0; i < 4; i++) dst[c * dstride + r + i] = src[(r + i) * sstride + c];
      }
      for (; r < re; r++)
        for (int c = cb; c < ce; c++) dst[c * dstride + r] = src[r * sstride + c];
    }
  }
}

/*
 * W [kh, kw, ci, co] -> flipped in space and transposed to [kh, kw, co, ci], for taps [t0, t1) of the
 * output (tap = y * kw + x).
 */
EXPORT(flip_transpose_filter)
void flip_transpose_filter(const f32 *src, f32 *dst, int kh, int kw, int ci, int co, int t0, int t1) {
  int tap = ci * co;
  for (int t = t0; t < t1; t++) {
    int y = t / kw, x = t - y * kw;
    const f32 *s = src + ((kh - 1 - y) * kw + (kw - 1 - x)) * tap;
    transpose(s, dst + t * tap, ci, co, co, ci, 0, ci);
  }
}

/* dy [n, h, w, c] -> out [n, (h-1)*sh+1, (w-1)*sw+1, c], zeros between the pixels; images [b0, b1). */
EXPORT(dilate)
void dilate(const f32 *dy, f32 *out, int n, int h, int w, int c, int sh, int sw, int b0, int b1) {
  (void)n;
  int dh = (h - 1) * sh + 1, dw = (w - 1) * sw + 1;
  zero(out + b0 * dh * dw * c, (b1 - b0) * dh * dw * c);
  for (int b = b0; b < b1; b++)
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++) copy(out + ((b * dh + y * sh) * dw + x * sw) * c, dy + ((b * h + y) * w + x) * c, c);
}

/*
 * Groups [g0, g1) of src [groups][src_rows][width] -> dst [groups][dst_rows][width]: the first
 * min(src_rows, dst_rows) rows are copied, rows past src_rows are zero. Pads conv1's 3 input channels to
 * 4 (x, W) and takes the 3 back out of its filter gradient.
 */
EXPORT(copy_rows)
void copy_rows(const f32 *src, f32 *dst, int src_rows, int dst_rows, int width, int g0, int g1) {
  int keep = imin(src_rows, dst_rows) * width;
  for (int g = g0; g < g1; g++) {
    f32 *d = dst + g * dst_rows * width;
    copy(d, src + g * src_rows * width, keep);
    zero(d + keep, dst_rows * width - keep);
  }
}

/* Rows [r0, r1): dst[r * dstride ..][0, cols) = src[r * sstride ..][0, cols) (concat and split on the channel axis). */
EXPORT(copy_block)
void copy_block(const f32 *src, f32 *dst, int cols, int sstride, int dstride, int r0, int r1) {
  for (int r = r0; r < r1; r++) copy(dst + r * dstride, src + r * sstride, cols);
}

/*
 * Rows [r0, r1) of a concat or split on the last axis in one pass: wide [rows, c] holds the parts side
 * by side; table [2 * parts] ints: part i's byte offset in the heap and its columns. gather = 1: each
 * row of wide is made from the parts' rows (Concat); 0: the parts' rows are cut from it (SplitV). The
 * wide row is written or read front to back, once.
 */
EXPORT(join_rows)
void join_rows(f32 *wide, const int *table, int parts, int c, int gather, int r0, int r1) {
  for (int r = r0; r < r1; r++) {
    f32 *row = wide + r * c;
    for (int i = 0; i < parts; i++) {
      int n = table[2 * i + 1];
      f32 *part = (f32 *)table[2 * i] + r * n;
      if (gather)
        copy(row, part, n);
      else
        copy(part, row, n);
      row += n;
    }
  }
}

/* out[i] = a[i] + b[i] for i in [i0, i1). */
EXPORT(add_arrays)
void add_arrays(const f32 *a, const f32 *b, f32 *out, int i0, int i1) {
  int i = i0;
  for (; i + 4 <= i1; i += 4) wasm_v128_store(out + i, wasm_f32x4_add(wasm_v128_load(a + i), wasm_v128_load(b + i)));
  for (; i < i1; i++) out[i] = a[i] + b[i];
}

/*
 * MaxPool for images [b0, b1): y [n, oh, ow, c] = the maximum over each window, clipped to the input
 * (padding never wins), four channels at a time. A NaN in the input is passed over, as the cpu
 * backend's comparison (pixel > max) does. Windows up to 3x3 (GoogLeNet's 3x3 and 2x2) read 3 rows
 * x 3 columns fixed once per output pixel (a clipped or smaller window repeats its last row or column,
 * which leaves the maximum as it is), so that the channel loop is 9 loads and maxima with no index
 * arithmetic: 4-7x faster than looping over the window per channel group.
 */
EXPORT(max_pool)
void max_pool(const f32 *x, f32 *y, int b0, int b1, int h, int w, int c, int oh, int ow, int fh, int fw, int sh, int sw, int top,
              int left) {
  const v128_t lowest = wasm_f32x4_splat(-__builtin_inff());
  for (int b = b0; b < b1; b++) {
    for (int oy = 0; oy < oh; oy++) {
      int y0 = oy * sh - top;
      int ya = imax(0, y0), yb = imin(h, y0 + fh);
      for (int ox = 0; ox < ow; ox++) {
        int x0 = ox * sw - left;
        int xa = imax(0, x0), xb = imin(w, x0 + fw);
        f32 *d = y + ((b * oh + oy) * ow + ox) * c;
        int ch = 0;
        if (fh <= 3 && fw <= 3) {
          /* rows and columns past the clipped window repeat its last one */
          const f32 *r0 = x + (b * h + ya) * w * c, *r1 = x + (b * h + imin(ya + 1, yb - 1)) * w * c,
                    *r2 = x + (b * h + imin(ya + 2, yb - 1)) * w * c;
          int c0 = xa * c, c1 = imin(xa + 1, xb - 1) * c, c2 = imin(xa + 2, xb - 1) * c;
          for (; ch + 4 <= c; ch += 4) {
            v128_t m = wasm_f32x4_pmax(lowest, wasm_v128_load(r0 + c0 + ch));
            m = wasm_f32x4_pmax(m, wasm_v128_load(r0 + c1 + ch));
            m = wasm_f32x4_pmax(m, wasm_v128_load(r0 + c2 + ch));
            m = wasm_f32x4_pmax(m, wasm_v128_load(r1 + c0 + ch));
            m = wasm_f32x4_pmax(m, wasm_v128_load(r1 + c1 + ch));
            m = wasm_f32x4_pmax(m, wasm_v128_load(r1 + c2 + ch));
            m = wasm_f32x4_pmax(m, wasm_v128_load(r2 + c0 + ch));
            m = wasm_f32x4_pmax(m, wasm_v128_load(r2 + c1 + ch));
            m = wasm_f32x4_pmax(m, wasm_v128_load(r2 + c2 + ch));
            wasm_v128_store(d + ch, m);
          }
        } else {
          for (; ch + 4 <= c; ch += 4) {
            v128_t m = lowest;
            for (int iy = ya; iy < yb; iy++)
              for (int ix = xa; ix < xb; ix++) m = wasm_f32x4_pmax(m, wasm_v128_load(x + ((b * h + iy) * w + ix) * c + ch));
            wasm_v128_store(d + ch, m);
          }
        }
        for (; ch < c; ch++) {
          f32 m = -__builtin_inff();
          for (int iy = ya; iy < yb; iy++)
            for (int ix = xa; ix < xb; ix++) {
              f32 v = x[((b * h + iy) * w + ix) * c + ch];
              if (v > m) m = v;
            }
          d[ch] = m;
        }
      }
    }
  }
}

/*
 * The filter gradient of a convolution as one matrix product,
 *
 *   dW [M = kh*kw*ci, N = co] = P^T dy,   P [K = n*oh*ow, M] the im2col matrix of x, dy [K, N],
 *
 * on a 4x8 register tile (tile4x8: 8 accumulators; A's 4 values come as broadcast loads, ~10% faster
 * than a vector load and 4 lane shuffles; a 6x8 tile runs out of registers and is 4x slower). Both
 * operands are first repacked, kc pixels at a time, so that the tile's loads are sequential: dy as
 * bp [N/8][kc][8] (pack_b8), P as ap [M/4][kc][4], built straight from x (no im2col matrix is ever
 * stored whole). One thread reaches 17-20 GMAC/s here, against 11-13 for XNNPACK's
 * fully-connected GEMM with its weight packing.
 */
#ifdef __wasm_relaxed_simd__
/* The FMA build (-mrelaxed-simd): one fused multiply-add where the engine has it (x86 FMA3, ARM). */
#define MADD(acc, a, b) acc = __builtin_wasm_relaxed_madd_f32x4(a, b, acc)
#else
#define MADD(acc, a, b) acc = wasm_f32x4_add(acc, wasm_f32x4_mul(a, b))
#endif

/*
 * c [rows x 8] (row stride ldc) = (accumulate ? c : 0) + sum over k < kk of A[0..4][k] B[k][0..8],
 * then, if last, + bias and ReLU if relu; rows <= 4. A[r][k] = a[r * rs + k * ks]: packed panels
 * [k][4] have rs = 1, ks = 4; four rows of a matrix with row stride lda have rs = lda, ks = 1 (the
 * strides are constants at each call, so the loads keep fixed offsets once inlined). B[k][j] = b[k * bs + j]:
 * bs = 8 for packed panels [k][8], the row stride for an unpacked matrix (dense_forward).
 */
static inline void tile4x8(const f32 *a, int rs, int ks, const f32 *b, int bs, int kk, f32 *c, int ldc, int accumulate, int last,
                           const f32 *bias, int relu, int rows) {
  v128_t c0a = wasm_f32x4_splat(0.0f), c0b = c0a, c1a = c0a, c1b = c0a, c2a = c0a, c2b = c0a, c3a = c0a, c3b = c0a;
  for (int k = 0; k < kk; k++) {
    v128_t b0 = wasm_v128_load(b), b1 = wasm_v128_load(b + 4), s;
    s = wasm_v128_load32_splat(a); MADD(c0a, s, b0); MADD(c0b, s, b1);
    s = wasm_v128_load32_splat(a + rs); MADD(c1a, s, b0); MADD(c1b, s, b1);
    s = wasm_v128_load32_splat(a + 2 * rs); MADD(c2a, s, b0); MADD(c2b, s, b1);
    s = wasm_v128_load32_splat(a + 3 * rs); MADD(c3a, s, b0); MADD(c3b, s, b1);
    a += ks;
    b += bs;
  }
  v128_t z = wasm_f32x4_splat(0.0f);
  v128_t ba = last ? wasm_v128_load(bias) : z, bb = last ? wasm_v128_load(bias + 4) : z;
#define OUT(r, lo, hi)                                                    \
  if (rows > r) {                                                         \
    f32 *o = c + (r) * ldc;                                               \
    if (accumulate) {                                                     \
      lo = wasm_f32x4_add(lo, wasm_v128_load(o));                         \
      hi = wasm_f32x4_add(hi, wasm_v128_load(o + 4));                     \
    }                                                                     \
    lo = wasm_f32x4_add(lo, ba);                                          \
    hi = wasm_f32x4_add(hi, bb);                                          \
    if (last && relu) {                                                   \
      lo = wasm_f32x4_pmax(lo, z);                                        \
      hi = wasm_f32x4_pmax(hi, z);                                        \
    }                                                                     \
    wasm_v128_store(o, lo);                                               \
    wasm_v128_store(o + 4, hi);                                           \
  }
  OUT(0, c0a, c0b)
  OUT(1, c1a, c1b)
  OUT(2, c2a, c2b)
  OUT(3, c3a, c3b)
#undef OUT
}

/* bp [n/8][k][8] = b [k, n] for column blocks [cb0, cb1); columns past n are zero. */
EXPORT(pack_b8)
void pack_b8(const f32 *b, f32 *bp, int k, int n, int cb0, int cb1) {
  for (int cb = cb0; cb < cb1; cb++) {
    f32 *d = bp + cb * k * 8;
    int c0 = cb * 8;
    if (c0 + 8 <= n) {
      const f32 *s = b + c0;
      for (int i = 0; i < k; i++, s += n, d += 8) {
        wasm_v128_store(d, wasm_v128_load(s));
        wasm_v128_store(d + 4, wasm_v128_load(s + 4));
      }
    } else {
      for (int i = 0; i < k; i++, d += 8)
        for (int j = 0; j < 8; j++) d[j] = c0 + j < n ? b[i * n + c0 + j] : 0.0f;
    }
  }
}

/* Geometry of a convolution, as the filter gradient needs it. */
struct conv {
  int n, h, w, ci, oh, ow, kh, kw, sh, sw, pt, pl;
};

/*
 * base [k] for pixels p = p0 + k, k < kk (p = (b*oh + oy)*ow + ox): the offset in x of the first float
 * of the pixel's window (its top-left tap) where the whole window lies inside x, else -1. Made once per
 * slice, so that the packers below step through the pixels with one load and one compare each in place
 * of the pixel's coordinates and four bounds checks per row block.
 */
static void window_bases(const struct conv *g, int p0, int kk, int *base) {
  int b = p0 / (g->oh * g->ow), rest = p0 - b * g->oh * g->ow;
  int oy = rest / g->ow, ox = rest - oy * g->ow;
  for (int k = 0; k < kk; k++) {
    int iy0 = oy * g->sh - g->pt, ix0 = ox * g->sw - g->pl;
    int inside = iy0 >= 0 && iy0 + g->kh <= g->h && ix0 >= 0 && ix0 + g->kw <= g->w;
    base[k] = inside ? ((b * g->h + iy0) * g->w + ix0) * g->ci : -1;
    if (++ox == g->ow) {
      ox = 0;
      if (++oy == g->oh) {
        oy = 0;
        b++;
      }
    }
  }
}

/* Image, and the top-left tap's row and column in x, of the window of pixel p (a window base[] marks -1). */
static inline void window_at(const struct conv *g, int p, int *b, int *iy0, int *ix0) {
  *b = p / (g->oh * g->ow);
  int rest = p - *b * g->oh * g->ow, oy = rest / g->ow;
  *iy0 = oy * g->sh - g->pt;
  *ix0 = (rest - oy * g->ow) * g->sw - g->pl;
}

/*
 * ap [rb0..rb1)[kc][4] (the first kk of kc): rows r = 4 rb + i (r = (ky*kw + kx)*ci + c) of P for pixels
 * [p0, p0 + kk), base from window_bases; zero outside x (padding). ci is a multiple of 4, so a block's
 * 4 rows are 4 channels of one tap: one vector per pixel.
 */
static void pack_patches(const f32 *x, f32 *ap, int kc, const struct conv *g, const int *base, int p0, int kk, int rb0, int rb1) {
  int ci = g->ci, kwci = g->kw * ci;
  for (int rb = rb0; rb < rb1; rb++) {
    f32 *d = ap + rb * kc * 4; /* fixed stride: a thread on a shorter last slice stays in its rows */
    int r = rb * 4;
    int ky = r / kwci, kx = (r - ky * kwci) / ci, ch = r - ky * kwci - kx * ci;
    int off = (ky * g->w + kx) * ci + ch; /* from the window's first float */
    for (int k = 0; k < kk; k++, d += 4) {
      if (base[k] >= 0) {
        wasm_v128_store(d, wasm_v128_load(x + base[k] + off));
      } else {
        int b, iy0, ix0;
        window_at(g, p0 + k, &b, &iy0, &ix0);
        int iy = iy0 + ky, ix = ix0 + kx;
        if (iy >= 0 && iy < g->h && ix >= 0 && ix < g->w)
          wasm_v128_store(d, wasm_v128_load(x + ((b * g->h + iy) * g->w + ix) * ci + ch));
        else
          wasm_v128_store(d, wasm_f32x4_splat(0.0f));
      }
    }
  }
}

/*
 * pack_patches for ci not a multiple of 4 (conv1's 3 channels), rows in (ky, kx, c) order with no zero
 * channel (conv1: m = 147, in 37 blocks, the last one's fourth row zero). A block's 4 rows that lie in
 * one window row are 4 consecutive floats of x (one load per pixel) where the window is inside x;
 * otherwise (a block across two window rows, the padding) they are gathered one by one.
 */
static void pack_patch_runs(const f32 *x, f32 *ap, int kc, const struct conv *g, const int *base, int p0, int kk, int rb0, int rb1) {
  int ci = g->ci, L = g->kw * ci, m = g->kh * L, wc = g->w * ci;
  for (int rb = rb0; rb < rb1; rb++) {
    f32 *d = ap + rb * kc * 4;
    int r = rb * 4;
    /* the 4 rows' window row, column and channel (row m and past: none) */
    int ry0 = r / L, ry1 = (r + 1) / L, ry2 = (r + 2) / L, ry3 = (r + 3) / L;
    int rx0 = (r - ry0 * L) / ci, rx1 = (r + 1 - ry1 * L) / ci, rx2 = (r + 2 - ry2 * L) / ci, rx3 = (r + 3 - ry3 * L) / ci;
    int rc0 = (r - ry0 * L) % ci, rc1 = (r + 1 - ry1 * L) % ci, rc2 = (r + 2 - ry2 * L) % ci, rc3 = (r + 3 - ry3 * L) % ci;
    int live1 = r + 1 < m, live2 = r + 2 < m, live3 = r + 3 < m;
    /* a block within one window row: its rows are x's floats j..j+3 from the window's first column */
    int j = r - ry0 * L, run = j + 4 <= L;
    /* the rows' offsets from the window's first float, for windows inside x */
    int off0 = ry0 * wc + rx0 * ci + rc0, off1 = ry1 * wc + rx1 * ci + rc1, off2 = ry2 * wc + rx2 * ci + rc2, off3 = ry3 * wc + rx3 * ci + rc3;
    for (int k = 0; k < kk; k++, d += 4) {
      if (base[k] >= 0) {
        const f32 *o = x + base[k];
        if (run) {
          wasm_v128_store(d, wasm_v128_load(o + off0));
        } else {
          d[0] = o[off0];
          d[1] = live1 ? o[off1] : 0.0f;
          d[2] = live2 ? o[off2] : 0.0f;
          d[3] = live3 ? o[off3] : 0.0f;
        }
        continue;
      }
      int b, iy0, ix0;
      window_at(g, p0 + k, &b, &iy0, &ix0);
      const f32 *xb = x + b * g->h * wc;
      int iy = iy0 + ry0;
      if (run && iy >= 0 && iy < g->h && ix0 + rx0 >= 0 && ix0 + rx3 < g->w) {
        wasm_v128_store(d, wasm_v128_load(xb + iy * wc + ix0 * ci + j));
      } else {
#define AT(ry, rx, rc, live)                                                                          \
  ((live) && iy0 + (ry) >= 0 && iy0 + (ry) < g->h && ix0 + (rx) >= 0 && ix0 + (rx) < g->w ? xb[(iy0 + (ry)) * wc + (ix0 + (rx)) * ci + (rc)] \
                                                                                        : 0.0f)
        d[0] = AT(ry0, rx0, rc0, 1);
        d[1] = AT(ry1, rx1, rc1, live1);
        d[2] = AT(ry2, rx2, rc2, live2);
        d[3] = AT(ry3, rx3, rc3, live3);
#undef AT
      }
    }
  }
}

/*
 * Row blocks [rb0, rb1) of dW: c [4 * ceil(m / 4), ldc] = P^T dy, m = kh*kw*ci, dy [pixels, co]. Per slice of kc pixels,
 * the thread packs the slice of dy into its own bp region (part: kc * n8 * 8 floats, then kc ints for
 * window_bases; both threads pack the same slice, which costs 2/m of the product and keeps no dy-sized
 * copy) and its rows of P into ap (m/4 blocks of kc pixels, shared, each thread writing its own row blocks).
 */
EXPORT(conv_filter_grad)
void conv_filter_grad(const f32 *x, const f32 *dy, f32 *bp, f32 *ap, f32 *c, int ldc, int n, int h, int w, int ci, int oh,
                      int ow, int kh, int kw, int sh, int sw, int pt, int pl, int co, int kc, int part, int rb0, int rb1) {
  struct conv g = {n, h, w, ci, oh, ow, kh, kw, sh, sw, pt, pl};
  int total = n * oh * ow, n8 = (co + 7) / 8;
  f32 *mine = bp + part * kc * (n8 * 8 + 1);
  int *base = (int *)(mine + kc * n8 * 8);
  for (int p0 = 0; p0 < total; p0 += kc) {
    int kk = imin(kc, total - p0);
    pack_b8(dy + p0 * co, mine, kk, co, 0, n8);
    window_bases(&g, p0, kk, base);
    if (ci % 4)
      pack_patch_runs(x, ap, kc, &g, base, p0, kk, rb0, rb1);
    else
      pack_patches(x, ap, kc, &g, base, p0, kk, rb0, rb1);
    /* panel by panel: its kk x 8 floats of dy (16 KB) stay in L1 over the row blocks, each read once */
    for (int cb = 0; cb < n8; cb++)
      for (int rb = rb0; rb < rb1; rb++)
        tile4x8(ap + rb * kc * 4, 1, 4, mine + cb * kk * 8, 8, kk, c + rb * 4 * ldc + cb * 8, ldc, p0 > 0, 0, c, 0, 4);
  }
}

/*
 * A forward convolution (NHWC, dilation 1, co a multiple of 8), with bias and ReLU:
 *
 *   y [pixels, co] = relu(P [pixels, K = kh*kw*ci] . W [K, co] + bias)
 *
 * on the same 4x8 tile, rows now being 4 output pixels. W comes packed as bp [co/8][K][8] (pack_b8).
 * Pixels go in groups of G: a group's patches are packed into ap [G/4][K][4] by 4x4 transposes of the
 * 4 pixels' channel runs (zrow, ci zeros, stands for taps in the padding and pixels past the end; with
 * ci not a multiple of 4, of their window rows' runs, pack_pixel_runs), then every 8-channel panel of W is swept over the group's tiles. Each thread has its own ap region
 * (G*K floats, region `part`). The input gradient of a stride-1 convolution is such a convolution too.
 */
#define G 32
#define KB 256

/* Image, row and column of the 4 output pixels from q (a tile), and whether each is before `total`. */
static inline void tile_pixels(const struct conv *g, int q, int total, int *b, int *oy, int *ox, int *ok) {
  for (int i = 0; i < 4; i++, q++) {
    ok[i] = q < total;
    b[i] = q / (g->oh * g->ow);
    int rest = q - b[i] * g->oh * g->ow;
    oy[i] = rest / g->ow;
    ox[i] = rest - oy[i] * g->ow;
  }
}

/* d [4][4] = the 4 floats at px[i] + j of each of the 4 pixels, transposed (pixel fastest). */
static inline void store_transposed(const f32 *const *px, int j, f32 *d) {
  v128_t r0 = wasm_v128_load(px[0] + j), r1 = wasm_v128_load(px[1] + j);
  v128_t r2 = wasm_v128_load(px[2] + j), r3 = wasm_v128_load(px[3] + j);
  v128_t t0 = wasm_i32x4_shuffle(r0, r1, 0, 4, 1, 5), t1 = wasm_i32x4_shuffle(r0, r1, 2, 6, 3, 7);
  v128_t t2 = wasm_i32x4_shuffle(r2, r3, 0, 4, 1, 5), t3 = wasm_i32x4_shuffle(r2, r3, 2, 6, 3, 7);
  wasm_v128_store(d, wasm_i32x4_shuffle(t0, t2, 0, 1, 4, 5));
  wasm_v128_store(d + 4, wasm_i32x4_shuffle(t0, t2, 2, 3, 6, 7));
  wasm_v128_store(d + 8, wasm_i32x4_shuffle(t1, t3, 0, 1, 4, 5));
  wasm_v128_store(d + 12, wasm_i32x4_shuffle(t1, t3, 2, 3, 6, 7));
}

/* ap [G/4][K][4]: the patches of pixels [q0, q0 + G) (pixels >= total read zrow). */
static void pack_pixels(const f32 *x, const f32 *zrow, f32 *ap, const struct conv *g, int q0, int total) {
  int ci = g->ci, K = g->kh * g->kw * ci;
  for (int t = 0; t < G / 4; t++) {
    const f32 *px[4];
    int b[4], oy[4], ox[4], ok[4];
    tile_pixels(g, q0 + 4 * t, total, b, oy, ox, ok);
    f32 *d = ap + t * K * 4;
    for (int ky = 0; ky < g->kh; ky++) {
      for (int kx = 0; kx < g->kw; kx++) {
        for (int i = 0; i < 4; i++) {
          int iy = oy[i] * g->sh + ky - g->pt, ix = ox[i] * g->sw + kx - g->pl;
          px[i] = ok[i] && iy >= 0 && iy < g->h && ix >= 0 && ix < g->w ? x + ((b[i] * g->h + iy) * g->w + ix) * ci : zrow;
        }
        for (int c = 0; c < ci; c += 4, d += 16) store_transposed(px, c, d);
      }
    }
  }
}

/*
 * pack_pixels for ci not a multiple of 4 (conv1's 3 channels), with no channel padding: K = kh*kw*ci
 * in (ky, kx, c) order, so that for one ky a pixel's patch is the run of kw*ci floats of x from its
 * window's first column (21 for conv1). Four pixels' runs go in by 4x4 transposes; a tile with a pixel
 * whose window row leaves x (padding) or that lies past the end is packed element by element.
 */
static void pack_pixel_runs(const f32 *x, f32 *ap, const struct conv *g, int q0, int total) {
  int ci = g->ci, L = g->kw * ci, K = g->kh * L;
  for (int t = 0; t < G / 4; t++) {
    int b[4], oy[4], ox[4], ok[4];
    tile_pixels(g, q0 + 4 * t, total, b, oy, ox, ok);
    for (int ky = 0; ky < g->kh; ky++) {
      f32 *d = ap + (t * K + ky * L) * 4;
      const f32 *px[4];
      int inside = 1;
      for (int i = 0; i < 4; i++) {
        int iy = oy[i] * g->sh + ky - g->pt, ix = ox[i] * g->sw - g->pl;
        inside &= ok[i] && iy >= 0 && iy < g->h && ix >= 0 && ix + g->kw <= g->w;
        px[i] = x + ((b[i] * g->h + iy) * g->w + ix) * ci;
      }
      if (inside) {
        int j = 0;
        for (; j + 4 <= L; j += 4, d += 16) store_transposed(px, j, d);
        for (; j < L; j++, d += 4)
          for (int i = 0; i < 4; i++) d[i] = px[i][j];
      } else {
        /* tap by tap, with no division in the loop (a tenth of conv1's tiles at 112 px come here) */
        for (int i = 0; i < 4; i++) {
          int iy = oy[i] * g->sh + ky - g->pt, ix0 = ox[i] * g->sw - g->pl;
          int row = ok[i] && iy >= 0 && iy < g->h;
          const f32 *src = x + (b[i] * g->h + (row ? iy : 0)) * g->w * ci;
          f32 *o = d + i;
          for (int kx = 0; kx < g->kw; kx++) {
            int ix = ix0 + kx, in = row && ix >= 0 && ix < g->w;
            for (int c = 0; c < ci; c++, o += 4) *o = in ? src[ix * ci + c] : 0.0f;
          }
        }
      }
    }
  }
}

/* Panels [cb0, cb1) of y for the pixel group at q0, whose patches ap holds (pack_pixels). */
__attribute__((noinline)) static void conv_forward_panels(const f32 *ap, const f32 *bp, const f32 *bias, f32 *y, int K, int co, int relu,
                                                          int q0, int total, int cb0, int cb1) {
  /* The reduction in blocks of KB: a tile's A and B blocks (4 KB + 8 KB) stay in L1. */
  for (int k0 = 0; k0 < K; k0 += KB) {
    int kk = imin(KB, K - k0), last = k0 + kk == K;
    for (int cb = cb0; cb < cb1; cb++) {
      for (int t = 0; t < G / 4; t++) {
        int q = q0 + 4 * t;
        if (q >= total) break;
        tile4x8(ap + (t * K + k0) * 4, 1, 4, bp + (cb * K + k0) * 8, 8, kk, y + q * co + cb * 8, co, k0 > 0, last, bias + cb * 8, relu,
                imin(4, total - q));
      }
    }
  }
}

/*
 * Work items [i0, i1) of y; see above. Item i is pixel group i / chunks and the i % chunks'th of
 * `chunks` runs of W's 8-channel panels, so that a call with few pixel groups (a 3x3 map, a dense
 * layer's 16 rows) still splits evenly over the threads; a thread packs a group's patches once for
 * its consecutive items of that group. bias: co floats (zeros for none).
 */
EXPORT(conv_forward)
void conv_forward(const f32 *x, const f32 *bp, const f32 *bias, const f32 *zrow, f32 *ap, f32 *y, int n, int h, int w,
                  int ci, int oh, int ow, int kh, int kw, int sh, int sw, int pt, int pl, int co, int relu, int part,
                  int chunks, int i0, int i1) {
  struct conv g = {n, h, w, ci, oh, ow, kh, kw, sh, sw, pt, pl};
  int total = n * oh * ow, K = kh * kw * ci, panels = co / 8, per = (panels + chunks - 1) / chunks, packed = -1;
  f32 *mine = ap + part * G * K;
  for (int i = i0; i < i1; i++) {
    int gi = i / chunks, cb0 = (i - gi * chunks) * per;
    if (gi != packed) {
      if (ci % 4)
        pack_pixel_runs(x, mine, &g, gi * G, total);
      else
        pack_pixels(x, zrow, mine, &g, gi * G, total);
      packed = gi;
    }
    conv_forward_panels(mine, bp, bias, y, K, co, relu, gi * G, total, cb0, imin(panels, cb0 + per));
  }
}

/*
 * A dense layer's forward product with few rows (a batch), y [m, n] = relu(a [m, k] . b [k, n] + bias),
 * b unpacked (n a multiple of 8), for panels [cb0, cb1) of 8 output columns. Packing b into panels
 * (pack_b8) would read and write all of it once more for a product that reads it once: with 16 rows, a
 * 2048x1024 aux-head layer is a pass over its 8 MB of weights. The tile reads a's rows in place (the
 * last, partial block of 4 rows from a zero-padded copy in scratch, 4k floats per thread, region
 * `part`) and b's rows with stride n; in blocks of DKB rows of b, so that the block's cache lines stay
 * in L1 for the other row tiles and for the neighbouring panel, which shares them.
 */
#define DKB 128

EXPORT(dense_forward)
void dense_forward(const f32 *a, const f32 *b, const f32 *bias, f32 *scratch, f32 *y, int m, int k, int n, int relu, int part,
                   int cb0, int cb1) {
  int tiles = (m + 3) / 4, rem = m - (tiles - 1) * 4;
  const f32 *tail = a + (tiles - 1) * 4 * k;
  if (rem < 4) {
    f32 *s = scratch + part * 4 * k;
    copy(s, tail, rem * k);
    zero(s + rem * k, (4 - rem) * k);
    tail = s;
  }
  for (int k0 = 0; k0 < k; k0 += DKB) {
    int kk = imin(DKB, k - k0), last = k0 + kk == k;
    for (int cb = cb0; cb < cb1; cb++)
      for (int t = 0; t < tiles; t++)
        tile4x8((t == tiles - 1 ? tail : a + t * 4 * k) + k0, k, 1, b + k0 * n + cb * 8, n, kk, y + t * 4 * n + cb * 8, n, k0 > 0, last,
                bias + cb * 8, relu, imin(4, m - 4 * t));
  }
}

/*
 * A product with a short side, y [m, n] (row stride n) = a [m, k] (row stride lda) . b [k, n] (row
 * stride n), m a multiple of 4 and n of 8, both operands read in place: a dense layer's products with a
 * batch of rows (the aux heads' 2048 -> 1024 layer at batch 16: the forward product, 16 rows; the input
 * gradient computed transposed, W dy^T, 16 columns; the weight gradient x^T dy, 16 as the inner size).
 * Work item i is group i / pairs of DG row tiles (4 rows each) and pair i % pairs of 8-column panels.
 * The thread's items go k block by k block (DK rows of b): per item, the block's 16 columns of b are
 * copied into a contiguous scratch [2][kk][8] (DK * 16 floats per thread, region `part`) and the
 * group's tiles run from it; the copy reads each of b's rows once per pair, where reading b in place
 * from every tile would make each of its rows (4 KB apart for 1024 columns) a new page and the
 * block's lines one L1 set for every tile, and pairs that share a group or a k block reuse a's rows and
 * b's block from cache. y is written at k0 = 0 and accumulated over later blocks.
 */
#define DG 16
#define DK 256

EXPORT(dense_product)
void dense_product(const f32 *a, int lda, const f32 *b, f32 *scratch, f32 *y, int m, int k, int n, int part, int i0, int i1) {
  int tiles = m / 4, panels = n / 8, pairs = (panels + 1) / 2;
  f32 *bp = scratch + part * DK * 16;
  for (int k0 = 0; k0 < k; k0 += DK) {
    int kk = imin(DK, k - k0), packed = -1;
    for (int i = i0; i < i1; i++) {
      int grp = i / pairs, pair = i - grp * pairs, cb = 2 * pair, two = cb + 1 < panels;
      if (pair != packed) {
        const f32 *s = b + k0 * n + cb * 8;
        for (int r = 0; r < kk; r++, s += n) {
          wasm_v128_store(bp + r * 8, wasm_v128_load(s));
          wasm_v128_store(bp + r * 8 + 4, wasm_v128_load(s + 4));
          if (two) {
            wasm_v128_store(bp + (kk + r) * 8, wasm_v128_load(s + 8));
            wasm_v128_store(bp + (kk + r) * 8 + 4, wasm_v128_load(s + 12));
          }
        }
        packed = pair;
      }
      for (int t = grp * DG; t < imin(tiles, grp * DG + DG); t++)
        for (int h = 0; h <= two; h++)
          tile4x8(a + t * 4 * lda + k0, lda, 1, bp + h * kk * 8, 8, kk, y + t * 4 * n + (cb + h) * 8, n, k0 > 0, 0, a, 0, 4);
    }
  }
}

/*
 * 3x3 stride-1 convolutions by Winograd's minimal filtering F(2x2, 3x3) (Lavin & Gray 2016): each 2x2
 * block of outputs ("tile") comes from a 4x4 block of input d, as
 *
 *   Y = A^T [ (G g G^T) * (B^T d B) ] A      (* elementwise over the 16 positions xi of the 4x4 block)
 *
 * per input and output channel, the sum over input channels being a matrix product per position:
 * M[xi] [tiles, co] = V[xi] [tiles, ci] . U[xi] [ci, co], with V = B^T d B and U = G g G^T. That is
 * 16 multiplications per tile and channel pair where the direct convolution has 36 (2.25x fewer), plus
 * the transforms (adds only, for B and A), which cost about ci + co vector operations per tile.
 *
 *   B^T = | 1  0 -1  0 |    G = | 1    0    0   |    A^T = | 1  1  1  0 |
 *         | 0  1  1  0 |        | 1/2  1/2  1/2 |          | 0  1 -1 -1 |
 *         | 0 -1  1  0 |        | 1/2 -1/2  1/2 |
 *         | 0  1  0 -1 |        | 0    0    1   |
 *
 * u = U packed as [16][co/8][ci][8] (winograd_filter). Tiles go in blocks of WT: a block's V [16][WT][ci]
 * is made once per thread and block, then for each 8-channel panel of W the 16 products run on the 4x8
 * tile (4 tiles x 8 channels, its rows read from V with a stride) into M [16][WT][8], and the
 * output transform adds the bias, applies ReLU and writes y.
 */
#define WT 16

/*
 * Floats after each position's block in U (winograd_filter) and V (winograd_input), and in the filter
 * gradient's up, vp and m: the blocks are often a multiple of 4 KB (ci * co, WT * ci with ci a multiple
 * of 64, 64 * co), so that without it the 16 or 36 rows a transform writes or reads at once would all
 * fall in one L1 set (12 ways) and evict each other.
 */
#define XPAD 16

/* a * b + c: one fused multiply-add in the FMA build. */
static inline v128_t madd(v128_t a, v128_t b, v128_t c) {
#ifdef __wasm_relaxed_simd__
  return __builtin_wasm_relaxed_madd_f32x4(a, b, c);
#else
  return wasm_f32x4_add(wasm_f32x4_mul(a, b), c);
#endif
}

/* F(2x2, 3x3): u [16][co/8][ci][8] = G g G^T for each (ci, co) of w [3][3][ci][co], panels [cb0, cb1) of 8 channels. */
static void winograd_filter2(const f32 *w, f32 *u, int ci, int co, int cb0, int cb1) {
  v128_t half = wasm_f32x4_splat(0.5f);
  int tap = ci * co;
  for (int cb = cb0; cb < cb1; cb++) {
    for (int c = 0; c < ci; c++) {
      for (int h = 0; h < 8; h += 4) {
        const f32 *g = w + c * co + cb * 8 + h;
        v128_t t[4][3];
        for (int kx = 0; kx < 3; kx++) {
          v128_t g0 = wasm_v128_load(g + kx * tap), g1 = wasm_v128_load(g + (3 + kx) * tap), g2 = wasm_v128_load(g + (6 + kx) * tap);
          t[0][kx] = g0;
          t[1][kx] = wasm_f32x4_mul(wasm_f32x4_add(wasm_f32x4_add(g0, g1), g2), half);
          t[2][kx] = wasm_f32x4_mul(wasm_f32x4_add(wasm_f32x4_sub(g0, g1), g2), half);
          t[3][kx] = g2;
        }
        f32 *o = u + (cb * ci + c) * 8 + h;
        int xs = ci * co + XPAD; /* from one position xi to the next */
        for (int i = 0; i < 4; i++) {
          v128_t r0 = t[i][0], r1 = t[i][1], r2 = t[i][2];
          wasm_v128_store(o + (4 * i + 0) * xs, r0);
          wasm_v128_store(o + (4 * i + 1) * xs, wasm_f32x4_mul(wasm_f32x4_add(wasm_f32x4_add(r0, r1), r2), half));
          wasm_v128_store(o + (4 * i + 2) * xs, wasm_f32x4_mul(wasm_f32x4_add(wasm_f32x4_sub(r0, r1), r2), half));
          wasm_v128_store(o + (4 * i + 3) * xs, r2);
        }
      }
    }
  }
}

/* One row or column of G g G^T for F(4x4, 3x3): u0..u5 from g0..g2 (the matrix G above, 4 lanes). */
static inline void filter_row4(v128_t g0, v128_t g1, v128_t g2, v128_t *u) {
  v128_t third = wasm_f32x4_splat(1.0f / 3.0f), fifteenth = wasm_f32x4_splat(1.0f / 15.0f);
  v128_t s = wasm_f32x4_add(g0, g2);
  u[0] = g0;
  u[1] = wasm_f32x4_mul(wasm_f32x4_add(s, g1), third);
  u[2] = wasm_f32x4_mul(wasm_f32x4_sub(g1, s), third);
  /* -(16 g0 + 8 g1 + 4 g2) / 15 and (g0 - 2 g1 + 4 g2) / 15 */
  v128_t two = wasm_f32x4_splat(2.0f), four = wasm_f32x4_splat(4.0f);
  v128_t a = wasm_f32x4_add(wasm_f32x4_add(wasm_f32x4_mul(four, g0), wasm_f32x4_mul(two, g1)), g2);
  u[3] = wasm_f32x4_mul(wasm_f32x4_mul(a, four), wasm_f32x4_neg(fifteenth));
  u[4] = wasm_f32x4_mul(wasm_f32x4_add(wasm_f32x4_sub(g0, wasm_f32x4_mul(two, g1)), wasm_f32x4_mul(four, g2)), fifteenth);
  u[5] = g2;
}

/* F(4x4, 3x3): u [36][co/8][ci][8] = G g G^T for each (ci, co) of w [3][3][ci][co], panels [cb0, cb1). */
static void winograd_filter4(const f32 *w, f32 *u, int ci, int co, int cb0, int cb1) {
  int tap = ci * co, xs = ci * co + XPAD; /* xs: from one position xi to the next */
  for (int cb = cb0; cb < cb1; cb++) {
    for (int c = 0; c < ci; c++) {
      for (int h = 0; h < 8; h += 4) {
        const f32 *g = w + c * co + cb * 8 + h;
        v128_t t[3][6]; /* t[kx] = G applied down column kx */
        for (int kx = 0; kx < 3; kx++) filter_row4(wasm_v128_load(g + kx * tap), wasm_v128_load(g + (3 + kx) * tap), wasm_v128_load(g + (6 + kx) * tap), t[kx]);
        f32 *o = u + (cb * ci + c) * 8 + h;
        for (int i = 0; i < 6; i++) {
          v128_t r[6];
          filter_row4(t[0][i], t[1][i], t[2][i], r);
          for (int j = 0; j < 6; j++) wasm_v128_store(o + (6 * i + j) * xs, r[j]);
        }
      }
    }
  }
}

/*
 * One row or column of G g G^T for F(2x2, 5x5): u0..u5 from g0..g4 (G5 below winograd_output4; the
 * rows of F(4x4, 3x3)'s G extended to 5 taps: the same points and scale factors).
 */
static inline void filter_row25(const v128_t *g, v128_t *u) {
  v128_t third = wasm_f32x4_splat(1.0f / 3.0f), fifteenth = wasm_f32x4_splat(1.0f / 15.0f), two = wasm_f32x4_splat(2.0f);
  v128_t even = wasm_f32x4_add(wasm_f32x4_add(g[0], g[2]), g[4]), odd = wasm_f32x4_add(g[1], g[3]);
  u[0] = g[0];
  u[1] = wasm_f32x4_mul(wasm_f32x4_add(even, odd), third);
  u[2] = wasm_f32x4_mul(wasm_f32x4_sub(odd, even), third);
  /* -(16 g0 + 8 g1 + 4 g2 + 2 g3 + g4) / 15 and (g0 - 2 g1 + 4 g2 - 8 g3 + 16 g4) / 15, by Horner */
  v128_t a = madd(two, madd(two, madd(two, madd(two, g[0], g[1]), g[2]), g[3]), g[4]);
  v128_t m2 = wasm_f32x4_splat(-2.0f);
  v128_t b = madd(m2, madd(m2, madd(m2, madd(m2, g[4], g[3]), g[2]), g[1]), g[0]);
  u[3] = wasm_f32x4_mul(a, wasm_f32x4_neg(fifteenth));
  u[4] = wasm_f32x4_mul(b, fifteenth);
  u[5] = g[4];
}

/* F(2x2, 5x5): u [36][co/8][ci][8] = G5 g G5^T for each (ci, co) of w [5][5][ci][co], panels [cb0, cb1). */
static void winograd_filter25(const f32 *w, f32 *u, int ci, int co, int cb0, int cb1) {
  int tap = ci * co, xs = ci * co + XPAD;
  for (int cb = cb0; cb < cb1; cb++) {
    for (int c = 0; c < ci; c++) {
      for (int h = 0; h < 8; h += 4) {
        const f32 *g = w + c * co + cb * 8 + h;
        v128_t t[5][6]; /* t[kx] = G5 applied down column kx */
        #pragma clang loop unroll(full)
        for (int kx = 0; kx < 5; kx++) {
          v128_t col[5];
          #pragma clang loop unroll(full)
          for (int ky = 0; ky < 5; ky++) col[ky] = wasm_v128_load(g + (5 * ky + kx) * tap);
          filter_row25(col, t[kx]);
        }
        f32 *o = u + (cb * ci + c) * 8 + h;
        #pragma clang loop unroll(full)
        for (int i = 0; i < 6; i++) {
          v128_t row[5] = {t[0][i], t[1][i], t[2][i], t[3][i], t[4][i]}, r[6];
          filter_row25(row, r);
          #pragma clang loop unroll(full)
          for (int j = 0; j < 6; j++) wasm_v128_store(o + (6 * i + j) * xs, r[j]);
        }
      }
    }
  }
}

/*
 * W's transform for F(m x m, r x r): F(2x2, 3x3), F(4x4, 3x3) or F(2x2, 5x5): u [(m+r-1)^2][co/8][ci][8],
 * each position's block followed by XPAD floats, panels [cb0, cb1).
 */
EXPORT(winograd_filter)
void winograd_filter(const f32 *w, f32 *u, int ci, int co, int m, int r, int cb0, int cb1) {
  if (r == 5)
    winograd_filter25(w, u, ci, co, cb0, cb1);
  else if (m == 4)
    winograd_filter4(w, u, ci, co, cb0, cb1);
  else
    winograd_filter2(w, u, ci, co, cb0, cb1);
}

/*
 * The 4 channels at c of input pixel (y0 + i, x0 + j), base pointing at (y0, x0) of the image, or
 * zeros where that pixel lies outside the h x w map (padding); `inside`: the whole block is in the map.
 */
static inline v128_t block_pixel(const f32 *base, int h, int w, int ci, int y0, int x0, int i, int j, int c, int inside) {
  return inside || (y0 + i >= 0 && y0 + i < h && x0 + j >= 0 && x0 + j < w) ? wasm_v128_load(base + (i * w + j) * ci + c) : wasm_f32x4_splat(0.0f);
}

/* v [16][WT][ci] (XPAD floats after each position's block) row tt = B^T d B of tile q's 4x4 input block (zeros outside x), 4 channels at a time. */
static void winograd_input(const f32 *x, f32 *v, const struct conv *g, int th, int tw, int q, int tt) {
  int ci = g->ci, b = q / (th * tw), r = q - b * th * tw, ty = r / tw, tx = r - ty * tw;
  int y0 = 2 * ty - g->pt, x0 = 2 * tx - g->pl;
  int inside = y0 >= 0 && x0 >= 0 && y0 + 4 <= g->h && x0 + 4 <= g->w;
  const f32 *base = x + ((b * g->h + y0) * g->w + x0) * ci;
  for (int c = 0; c < ci; c += 4) {
    v128_t d[4][4];
    for (int i = 0; i < 4; i++)
      for (int j = 0; j < 4; j++)
        d[i][j] = block_pixel(base, g->h, g->w, ci, y0, x0, i, j, c, inside);
    v128_t t[4][4];
    for (int j = 0; j < 4; j++) {
      t[0][j] = wasm_f32x4_sub(d[0][j], d[2][j]);
      t[1][j] = wasm_f32x4_add(d[1][j], d[2][j]);
      t[2][j] = wasm_f32x4_sub(d[2][j], d[1][j]);
      t[3][j] = wasm_f32x4_sub(d[1][j], d[3][j]);
    }
    f32 *o = v + tt * ci + c;
    int xs = WT * ci + XPAD;
    for (int i = 0; i < 4; i++) {
      wasm_v128_store(o + (4 * i + 0) * xs, wasm_f32x4_sub(t[i][0], t[i][2]));
      wasm_v128_store(o + (4 * i + 1) * xs, wasm_f32x4_add(t[i][1], t[i][2]));
      wasm_v128_store(o + (4 * i + 2) * xs, wasm_f32x4_sub(t[i][2], t[i][1]));
      wasm_v128_store(o + (4 * i + 3) * xs, wasm_f32x4_sub(t[i][1], t[i][3]));
    }
  }
}

/* y's 2x2 block of tile q, channels o0..o0+4: A^T M A from m [16][WT][8] row tt at lane offset h, + bias, ReLU. */
static void winograd_output(const f32 *m, const f32 *bias, f32 *y, const struct conv *g, int co, int th, int tw, int q, int tt,
                            int o0, int h, int relu) {
  int b = q / (th * tw), r = q - b * th * tw, ty = r / tw, tx = r - ty * tw;
  v128_t mm[4][4];
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 4; j++) mm[i][j] = wasm_v128_load(m + ((4 * i + j) * WT + tt) * 8 + h);
  v128_t r0[4], r1[4];
  for (int j = 0; j < 4; j++) {
    r0[j] = wasm_f32x4_add(wasm_f32x4_add(mm[0][j], mm[1][j]), mm[2][j]);
    r1[j] = wasm_f32x4_sub(wasm_f32x4_sub(mm[1][j], mm[2][j]), mm[3][j]);
  }
  v128_t bv = wasm_v128_load(bias + o0), z = wasm_f32x4_splat(0.0f);
  v128_t out[2][2];
  out[0][0] = wasm_f32x4_add(wasm_f32x4_add(wasm_f32x4_add(r0[0], r0[1]), r0[2]), bv);
  out[0][1] = wasm_f32x4_add(wasm_f32x4_sub(wasm_f32x4_sub(r0[1], r0[2]), r0[3]), bv);
  out[1][0] = wasm_f32x4_add(wasm_f32x4_add(wasm_f32x4_add(r1[0], r1[1]), r1[2]), bv);
  out[1][1] = wasm_f32x4_add(wasm_f32x4_sub(wasm_f32x4_sub(r1[1], r1[2]), r1[3]), bv);
  for (int a = 0; a < 2; a++) {
    int oy = 2 * ty + a;
    if (oy >= g->oh) break;
    for (int c = 0; c < 2; c++) {
      int ox = 2 * tx + c;
      if (ox >= g->ow) break;
      v128_t val = relu ? wasm_f32x4_pmax(out[a][c], z) : out[a][c];
      wasm_v128_store(y + ((b * g->oh + oy) * g->ow + ox) * co + o0, val);
    }
  }
}

/*
 * F(4x4, 3x3): each 4x4 block of outputs from a 6x6 block of input, by the same three steps with
 * 36 positions (2.25 multiplications per output where F(2x2, 3x3) has 4 and the direct sum 9),
 * from the points 0, 1, -1, 1/2, -2 and infinity (Toom-Cook; 1/2 and -2 in place of the usual 2 and -2
 * keep float32's error about 2.5x smaller: 4e-6 of the largest output over 192 channels, against 4e-7
 * for F(2x2, 3x3)):
 *
 *   B^T = | 1 -3/2  -2   3/2  1  0 |   G = |  1      0      0    |   A^T = | 1  1  1  1    1  0 |
 *         | 0  -1   1/2  5/2  1  0 |       |  1/3    1/3    1/3  |         | 0  1 -1  1/2 -2  0 |
 *         | 0   1  -5/2  1/2  1  0 |       | -1/3    1/3   -1/3  |         | 0  1  1  1/4  4  0 |
 *         | 0  -2  -1    2    1  0 |       | -16/15 -8/15  -4/15 |         | 0  1 -1  1/8 -8  1 |
 *         | 0  1/2 -1   -1/2  1  0 |       |  1/15  -2/15   4/15 |
 *         | 0   1  -3/2 -2   3/2 1 |       |  0      0      1    |
 */

/* t = B^T d for one row or column d0..d5 of a 6x6 block (F(4x4, 3x3)). */
static inline void input_row4(const v128_t *d, v128_t *t) {
  v128_t p = wasm_f32x4_sub(d[3], d[1]), q = wasm_f32x4_sub(d[4], d[2]);
  v128_t h3 = wasm_f32x4_splat(1.5f), two = wasm_f32x4_splat(2.0f), half = wasm_f32x4_splat(0.5f);
  t[0] = madd(h3, p, wasm_f32x4_add(wasm_f32x4_sub(d[0], d[2]), q));
  t[1] = madd(h3, wasm_f32x4_add(d[2], d[3]), wasm_f32x4_add(q, p));
  t[2] = madd(h3, wasm_f32x4_sub(d[3], d[2]), wasm_f32x4_sub(q, p));
  t[3] = madd(two, p, q);
  t[4] = wasm_f32x4_sub(q, wasm_f32x4_mul(half, p));
  t[5] = madd(h3, q, wasm_f32x4_sub(wasm_f32x4_sub(d[5], d[1]), wasm_f32x4_mul(two, p)));
}

/*
 * B^T d B of the 6x6 block d of x at (y0, x0) (base pointing there; zeros outside the h x w map),
 * 4 channels at c, its 36 positions stored at o, s floats apart (F(4x4, 3x3) and F(3x3, 4x4)).
 */
static inline void input_tile4(const f32 *base, int h, int w, int ci, int y0, int x0, int c, int inside, f32 *o, int s) {
  v128_t t[6][6]; /* t[j] = B^T applied down column j */
  #pragma clang loop unroll(full)
  for (int j = 0; j < 6; j++) {
    v128_t d[6];
    #pragma clang loop unroll(full)
    for (int i = 0; i < 6; i++) d[i] = block_pixel(base, h, w, ci, y0, x0, i, j, c, inside);
    input_row4(d, t[j]);
  }
  #pragma clang loop unroll(full)
  for (int i = 0; i < 6; i++) {
    v128_t row[6], out[6];
    #pragma clang loop unroll(full)
    for (int j = 0; j < 6; j++) row[j] = t[j][i];
    input_row4(row, out);
    #pragma clang loop unroll(full)
    for (int j = 0; j < 6; j++) wasm_v128_store(o + (6 * i + j) * s, out[j]);
  }
}

/*
 * v [36][WT][ci] (XPAD floats after each position's block) row tt = B^T d B of tile q's 6x6 input block
 * (zeros outside x), 4 channels at a time; tiles m apart (F(4x4, 3x3): 4, F(2x2, 5x5): 2).
 */
static void winograd_input6(const f32 *x, f32 *v, const struct conv *g, int th, int tw, int q, int tt, int m) {
  int ci = g->ci, b = q / (th * tw), r = q - b * th * tw, ty = r / tw, tx = r - ty * tw;
  int y0 = m * ty - g->pt, x0 = m * tx - g->pl;
  int inside = y0 >= 0 && x0 >= 0 && y0 + 6 <= g->h && x0 + 6 <= g->w;
  const f32 *base = x + ((b * g->h + y0) * g->w + x0) * ci;
  for (int c = 0; c < ci; c += 4) input_tile4(base, g->h, g->w, ci, y0, x0, c, inside, v + tt * ci + c, WT * ci + XPAD);
}

/* o = A^T m for one row or column m0..m5 (F(4x4, 3x3)). */
static inline void output_row4(const v128_t *m, v128_t *o) {
  v128_t s = wasm_f32x4_add(m[1], m[2]), d = wasm_f32x4_sub(m[1], m[2]);
  o[0] = wasm_f32x4_add(wasm_f32x4_add(m[0], s), wasm_f32x4_add(m[3], m[4]));
  o[1] = madd(wasm_f32x4_splat(-2.0f), m[4], madd(wasm_f32x4_splat(0.5f), m[3], d));
  o[2] = madd(wasm_f32x4_splat(4.0f), m[4], madd(wasm_f32x4_splat(0.25f), m[3], s));
  o[3] = madd(wasm_f32x4_splat(-8.0f), m[4], madd(wasm_f32x4_splat(0.125f), m[3], wasm_f32x4_add(d, m[5])));
}

/* y's 4x4 block of tile q, channels o0..o0+4: A^T M A from m [36][WT][8] row tt at lane offset h, + bias, ReLU. */
static void winograd_output4(const f32 *m, const f32 *bias, f32 *y, const struct conv *g, int co, int th, int tw, int q, int tt,
                             int o0, int h, int relu) {
  int b = q / (th * tw), r = q - b * th * tw, ty = r / tw, tx = r - ty * tw;
  v128_t t[6][4]; /* t[j] = A^T applied down column j */
  #pragma clang loop unroll(full)
  for (int j = 0; j < 6; j++) {
    v128_t col[6];
    #pragma clang loop unroll(full)
    for (int i = 0; i < 6; i++) col[i] = wasm_v128_load(m + ((6 * i + j) * WT + tt) * 8 + h);
    output_row4(col, t[j]);
  }
  v128_t bv = wasm_v128_load(bias + o0), z = wasm_f32x4_splat(0.0f);
  #pragma clang loop unroll(full)
  for (int a = 0; a < 4; a++) {
    int oy = 4 * ty + a;
    if (oy >= g->oh) break;
    v128_t row[6], out[4];
    #pragma clang loop unroll(full)
    for (int j = 0; j < 6; j++) row[j] = t[j][a];
    output_row4(row, out);
    #pragma clang loop unroll(full)
    for (int c = 0; c < 4; c++) {
      int ox = 4 * tx + c;
      if (ox >= g->ow) break;
      v128_t val = wasm_f32x4_add(out[c], bv);
      wasm_v128_store(y + ((b * g->oh + oy) * g->ow + ox) * co + o0, relu ? wasm_f32x4_pmax(val, z) : val);
    }
  }
}

/*
 * F(2x2, 5x5): each 2x2 block of outputs from a 6x6 block of input, with F(4x4, 3x3)'s points and so
 * its B^T (36 multiplications per 2x2 block where the direct sum has 100: 2.78x fewer); G5 is G
 * extended to 5 taps (rows: the points' powers times the same scale factors) and A^T the first two
 * rows of F(4x4, 3x3)'s:
 *
 *   G5 = |  1      0      0      0      0    |   A^T = | 1  1  1  1    1  0 |
 *        |  1/3    1/3    1/3    1/3    1/3  |         | 0  1 -1  1/2 -2  1 |
 *        | -1/3    1/3   -1/3    1/3   -1/3  |
 *        | -16/15 -8/15  -4/15  -2/15  -1/15 |
 *        |  1/15  -2/15   4/15  -8/15  16/15 |
 *        |  0      0      0      0      1    |
 */

/* o = A^T m for one row or column m0..m5 (F(2x2, 5x5)). */
static inline void output_row25(const v128_t *m, v128_t *o) {
  o[0] = wasm_f32x4_add(wasm_f32x4_add(wasm_f32x4_add(m[0], m[1]), wasm_f32x4_add(m[2], m[3])), m[4]);
  o[1] = madd(wasm_f32x4_splat(-2.0f), m[4], madd(wasm_f32x4_splat(0.5f), m[3], wasm_f32x4_add(wasm_f32x4_sub(m[1], m[2]), m[5])));
}

/* y's 2x2 block of tile q, channels o0..o0+4: A^T M A from m [36][WT][8] row tt at lane offset h, + bias, ReLU (F(2x2, 5x5)). */
static void winograd_output25(const f32 *m, const f32 *bias, f32 *y, const struct conv *g, int co, int th, int tw, int q, int tt,
                              int o0, int h, int relu) {
  int b = q / (th * tw), r = q - b * th * tw, ty = r / tw, tx = r - ty * tw;
  v128_t t[6][2]; /* t[j] = A^T applied down column j */
  #pragma clang loop unroll(full)
  for (int j = 0; j < 6; j++) {
    v128_t col[6];
    #pragma clang loop unroll(full)
    for (int i = 0; i < 6; i++) col[i] = wasm_v128_load(m + ((6 * i + j) * WT + tt) * 8 + h);
    output_row25(col, t[j]);
  }
  v128_t bv = wasm_v128_load(bias + o0), z = wasm_f32x4_splat(0.0f);
  #pragma clang loop unroll(full)
  for (int a = 0; a < 2; a++) {
    int oy = 2 * ty + a;
    if (oy >= g->oh) break;
    v128_t row[6], out[2];
    #pragma clang loop unroll(full)
    for (int j = 0; j < 6; j++) row[j] = t[j][a];
    output_row25(row, out);
    #pragma clang loop unroll(full)
    for (int c = 0; c < 2; c++) {
      int ox = 2 * tx + c;
      if (ox >= g->ow) break;
      v128_t val = wasm_f32x4_add(out[c], bv);
      wasm_v128_store(y + ((b * g->oh + oy) * g->ow + ox) * co + o0, relu ? wasm_f32x4_pmax(val, z) : val);
    }
  }
}

/*
 * Work items [i0, i1) of an r x r stride-1 convolution y [n, oh, ow, co] = act(conv(x, w) + bias) by
 * F(m x m, r x r): F(2x2, 3x3), F(4x4, 3x3) or F(2x2, 5x5) (see above), with P = (m+r-1)^2 positions:
 * item i is tile block i / chunks and the i % chunks'th run of W's 8-channel panels. ci a multiple of
 * 4, co of 8; u from winograd_filter with the same m and r; scratch: P * (WT * (ci + 8) + XPAD) floats
 * per thread (region `part`).
 */
EXPORT(winograd_conv)
void winograd_conv(const f32 *x, const f32 *u, const f32 *bias, f32 *scratch, f32 *y, int n, int h, int w, int ci, int oh, int ow,
                   int pt, int pl, int co, int m, int r, int relu, int part, int chunks, int i0, int i1) {
  struct conv g = {n, h, w, ci, oh, ow, r, r, 1, 1, pt, pl};
  int th = (oh + m - 1) / m, tw = (ow + m - 1) / m, tiles = n * th * tw, P = (m + r - 1) * (m + r - 1);
  int panels = co / 8, per = (panels + chunks - 1) / chunks, made = -1;
  int vs = WT * ci + XPAD, us = ci * co + XPAD; /* from one position's block to the next in V and U */
  f32 *v = scratch + part * P * (vs + WT * 8), *mm = v + P * vs;
  for (int i = i0; i < i1; i++) {
    int bi = i / chunks, cb0 = (i - bi * chunks) * per, cb1 = imin(panels, cb0 + per);
    int q0 = bi * WT, count = imin(WT, tiles - q0);
    if (bi != made) {
      for (int tt = 0; tt < count; tt++) {
        if (P == 36)
          winograd_input6(x, v, &g, th, tw, q0 + tt, tt, m);
        else
          winograd_input(x, v, &g, th, tw, q0 + tt, tt);
      }
      for (int xi = 0; xi < P; xi++) zero(v + xi * vs + count * ci, (WT - count) * ci);
      made = bi;
    }
    for (int cb = cb0; cb < cb1; cb++) {
      for (int xi = 0; xi < P; xi++) {
        const f32 *b = u + xi * us + cb * ci * 8;
        for (int k0 = 0; k0 < ci; k0 += KB) {
          int kk = imin(KB, ci - k0);
          for (int t = 0; t < count; t += 4) tile4x8(v + xi * vs + t * ci + k0, ci, 1, b + k0 * 8, 8, kk, mm + (xi * WT + t) * 8, 8, k0 > 0, 0, bias, 0, 4);
        }
      }
      for (int tt = 0; tt < count; tt++) {
        for (int hh = 0; hh < 8; hh += 4) {
          if (r == 5)
            winograd_output25(mm, bias, y, &g, co, th, tw, q0 + tt, tt, cb * 8 + hh, hh, relu);
          else if (m == 4)
            winograd_output4(mm, bias, y, &g, co, th, tw, q0 + tt, tt, cb * 8 + hh, hh, relu);
          else
            winograd_output(mm, bias, y, &g, co, th, tw, q0 + tt, tt, cb * 8 + hh, hh, relu);
        }
      }
    }
  }
}

/*
 * The filter gradient of a 3x3 stride-1 convolution by Winograd: dW [3][3][ci][co] = sum over pixels p
 * of x[p + (u, v)] dy[p] is a correlation of x with dy, so each m x m tile of dy and its (m+2)^2 block
 * of x give, with F(3x3, m x m) (P = (m+2)^2 positions),
 *
 *   dW_tile = A_g^T [ (G_g dy G_g^T) * (B^T x B) ] A_g
 *
 * and A_g is linear, so the tiles are summed first: M[xi] [ci, co] = sum over tiles of V[xi][t]^T U[xi][t]
 * (P products reducing over tiles, on the 4x8 tile: rows 4 input channels, columns 8 output channels),
 * then dW = A_g^T M A_g once. m = 2, F(3x3, 2x2): 16 multiplications per tile and channel pair against
 * the direct sum's 36,
 *
 *   B^T = | 1  0 -1  0 |   G_g = | 1    0   |   A_g^T = | 1  1  1  0 |
 *         | 0  1  1  0 |         | 1/2  1/2 |           | 0  1 -1  0 |
 *         | 0 -1  1  0 |         | 1/2 -1/2 |           | 0  1  1  1 |
 *         | 0 -1  0  1 |         | 0    1   |
 *
 * m = 4, F(3x3, 4x4): 36 against 144. By the transposition of F(4x4, 3x3) (its linear convolution's
 * Toom-Cook factors, read the other way), its matrices are F(4x4, 3x3)'s: B^T the same, G_g = A (the
 * transpose of the forward's output transform) and A_g = G (its filter transform), from the same
 * points 0, 1, -1, 1/2, -2 and infinity.
 *
 * Tiles go in slices of FT: per slice, each thread transforms dy's tiles into its own up
 * ([P][co/8][FT][8]; every thread does all of them, ~co/(P ci) of its work) and x's tiles for its row
 * blocks of 4 input channels into vp ([P][ci/4][FT][4], shared, each thread its rows), then adds the
 * products into its rows of m ([P][ci][co]); at the end it writes its rows of dW (each of the three
 * with XPAD floats after each position's block). Row blocks [rb0, rb1) of 4 input channels; ci a
 * multiple of 4, co of 8.
 */
#define FT 64

/* The 4 output channels at o of dy pixel (oy, ox) of image b, or zeros past the map's edge. */
static inline v128_t dy_pixel(const f32 *dy, int b, int oh, int ow, int co, int oy, int ox, int o) {
  return oy < oh && ox < ow ? wasm_v128_load(dy + ((b * oh + oy) * ow + ox) * co + o) : wasm_f32x4_splat(0.0f);
}

/* F(3x3, 2x2): up's column t = G_g dy G_g^T of tile (b, ty, tx)'s 2x2 block of dy, all co channels. */
static void grad_dy2(const f32 *dy, f32 *up, int us, int oh, int ow, int co, int b, int ty, int tx, int t) {
  v128_t half = wasm_f32x4_splat(0.5f);
  for (int o = 0; o < co; o += 4) {
    v128_t a00 = dy_pixel(dy, b, oh, ow, co, 2 * ty, 2 * tx, o), a01 = dy_pixel(dy, b, oh, ow, co, 2 * ty, 2 * tx + 1, o);
    v128_t a10 = dy_pixel(dy, b, oh, ow, co, 2 * ty + 1, 2 * tx, o), a11 = dy_pixel(dy, b, oh, ow, co, 2 * ty + 1, 2 * tx + 1, o);
    v128_t rows[4][2] = {{a00, a01},
                         {wasm_f32x4_mul(wasm_f32x4_add(a00, a10), half), wasm_f32x4_mul(wasm_f32x4_add(a01, a11), half)},
                         {wasm_f32x4_mul(wasm_f32x4_sub(a00, a10), half), wasm_f32x4_mul(wasm_f32x4_sub(a01, a11), half)},
                         {a10, a11}};
    f32 *d = up + ((o / 8) * FT + t) * 8 + (o & 4);
    for (int i = 0; i < 4; i++) {
      v128_t c0 = rows[i][0], c1 = rows[i][1];
      wasm_v128_store(d + (4 * i + 0) * us, c0);
      wasm_v128_store(d + (4 * i + 1) * us, wasm_f32x4_mul(wasm_f32x4_add(c0, c1), half));
      wasm_v128_store(d + (4 * i + 2) * us, wasm_f32x4_mul(wasm_f32x4_sub(c0, c1), half));
      wasm_v128_store(d + (4 * i + 3) * us, c1);
    }
  }
}

/* One row or column of G_g dy G_g^T for F(3x3, 4x4): u0..u5 from a0..a3 (G_g = A, A^T above F(4x4, 3x3)'s kernels). */
static inline void grad_dy_row4(const v128_t *a, v128_t *u) {
  v128_t s02 = wasm_f32x4_add(a[0], a[2]), s13 = wasm_f32x4_add(a[1], a[3]);
  u[0] = a[0];
  u[1] = wasm_f32x4_add(s02, s13);
  u[2] = wasm_f32x4_sub(s02, s13);
  u[3] = madd(wasm_f32x4_splat(0.125f), a[3], madd(wasm_f32x4_splat(0.25f), a[2], madd(wasm_f32x4_splat(0.5f), a[1], a[0])));
  u[4] = madd(wasm_f32x4_splat(-8.0f), a[3], madd(wasm_f32x4_splat(4.0f), a[2], madd(wasm_f32x4_splat(-2.0f), a[1], a[0])));
  u[5] = a[3];
}

/* F(3x3, 4x4): up's column t = G_g dy G_g^T of tile (b, ty, tx)'s 4x4 block of dy, all co channels. */
static void grad_dy4(const f32 *dy, f32 *up, int us, int oh, int ow, int co, int b, int ty, int tx, int t) {
  for (int o = 0; o < co; o += 4) {
    v128_t c[4][6]; /* c[j] = G_g applied down column j */
    #pragma clang loop unroll(full)
    for (int j = 0; j < 4; j++) {
      v128_t a[4];
      #pragma clang loop unroll(full)
      for (int i = 0; i < 4; i++) a[i] = dy_pixel(dy, b, oh, ow, co, 4 * ty + i, 4 * tx + j, o);
      grad_dy_row4(a, c[j]);
    }
    f32 *d = up + ((o / 8) * FT + t) * 8 + (o & 4);
    #pragma clang loop unroll(full)
    for (int i = 0; i < 6; i++) {
      v128_t row[4] = {c[0][i], c[1][i], c[2][i], c[3][i]}, r[6];
      grad_dy_row4(row, r);
      #pragma clang loop unroll(full)
      for (int j = 0; j < 6; j++) wasm_v128_store(d + (6 * i + j) * us, r[j]);
    }
  }
}

/* One row or column of G_g dy G_g^T for F(5x5, 2x2): u0..u5 from a0, a1 (G_g = G5's first two columns). */
static inline void grad_dy_row25(v128_t a0, v128_t a1, v128_t *u) {
  v128_t third = wasm_f32x4_splat(1.0f / 3.0f);
  u[0] = a0;
  u[1] = wasm_f32x4_mul(wasm_f32x4_add(a0, a1), third);
  u[2] = wasm_f32x4_mul(wasm_f32x4_sub(a1, a0), third);
  u[3] = wasm_f32x4_mul(madd(wasm_f32x4_splat(2.0f), a0, a1), wasm_f32x4_splat(-8.0f / 15.0f));
  u[4] = wasm_f32x4_mul(madd(wasm_f32x4_splat(-2.0f), a1, a0), wasm_f32x4_splat(1.0f / 15.0f));
  u[5] = a1;
}

/* F(5x5, 2x2): up's column t = G_g dy G_g^T of tile (b, ty, tx)'s 2x2 block of dy, all co channels. */
static void grad_dy25(const f32 *dy, f32 *up, int us, int oh, int ow, int co, int b, int ty, int tx, int t) {
  for (int o = 0; o < co; o += 4) {
    v128_t c0[6], c1[6]; /* G_g applied down columns 0 and 1 */
    grad_dy_row25(dy_pixel(dy, b, oh, ow, co, 2 * ty, 2 * tx, o), dy_pixel(dy, b, oh, ow, co, 2 * ty + 1, 2 * tx, o), c0);
    grad_dy_row25(dy_pixel(dy, b, oh, ow, co, 2 * ty, 2 * tx + 1, o), dy_pixel(dy, b, oh, ow, co, 2 * ty + 1, 2 * tx + 1, o), c1);
    f32 *d = up + ((o / 8) * FT + t) * 8 + (o & 4);
    #pragma clang loop unroll(full)
    for (int i = 0; i < 6; i++) {
      v128_t r[6];
      grad_dy_row25(c0[i], c1[i], r);
      #pragma clang loop unroll(full)
      for (int j = 0; j < 6; j++) wasm_v128_store(d + (6 * i + j) * us, r[j]);
    }
  }
}

/* F(3x3, 2x2): vp's column t = B^T x B of tile (b, ty, tx)'s 4x4 block of x (zero outside), row blocks [rb0, rb1). */
static void grad_x2(const f32 *x, f32 *vp, int vs, const struct conv *g, int b, int ty, int tx, int t, int rb0, int rb1) {
  int h = g->h, w = g->w, ci = g->ci, y0 = 2 * ty - g->pt, x0 = 2 * tx - g->pl;
  int inside = y0 >= 0 && x0 >= 0 && y0 + 4 <= h && x0 + 4 <= w;
  const f32 *base = x + ((b * h + y0) * w + x0) * ci;
  for (int rb = rb0; rb < rb1; rb++) {
    int c = rb * 4;
    v128_t d[4][4];
    for (int i = 0; i < 4; i++)
      for (int j = 0; j < 4; j++) d[i][j] = block_pixel(base, h, w, ci, y0, x0, i, j, c, inside);
    v128_t tt[4][4];
    for (int j = 0; j < 4; j++) {
      tt[0][j] = wasm_f32x4_sub(d[0][j], d[2][j]);
      tt[1][j] = wasm_f32x4_add(d[1][j], d[2][j]);
      tt[2][j] = wasm_f32x4_sub(d[2][j], d[1][j]);
      tt[3][j] = wasm_f32x4_sub(d[3][j], d[1][j]);
    }
    f32 *o = vp + (rb * FT + t) * 4;
    for (int i = 0; i < 4; i++) {
      wasm_v128_store(o + (4 * i + 0) * vs, wasm_f32x4_sub(tt[i][0], tt[i][2]));
      wasm_v128_store(o + (4 * i + 1) * vs, wasm_f32x4_add(tt[i][1], tt[i][2]));
      wasm_v128_store(o + (4 * i + 2) * vs, wasm_f32x4_sub(tt[i][2], tt[i][1]));
      wasm_v128_store(o + (4 * i + 3) * vs, wasm_f32x4_sub(tt[i][3], tt[i][1]));
    }
  }
}

/*
 * F(3x3, 4x4) and F(5x5, 2x2): vp's column t = B^T x B of tile (b, ty, tx)'s 6x6 block of x (zero
 * outside), the tiles of dy being mt x mt, row blocks [rb0, rb1).
 */
static void grad_x6(const f32 *x, f32 *vp, int vs, const struct conv *g, int b, int ty, int tx, int t, int mt, int rb0, int rb1) {
  int h = g->h, w = g->w, ci = g->ci, y0 = mt * ty - g->pt, x0 = mt * tx - g->pl;
  int inside = y0 >= 0 && x0 >= 0 && y0 + 6 <= h && x0 + 6 <= w;
  const f32 *base = x + ((b * h + y0) * w + x0) * ci;
  for (int rb = rb0; rb < rb1; rb++) input_tile4(base, h, w, ci, y0, x0, rb * 4, inside, vp + (rb * FT + t) * 4, vs);
}

/* F(3x3, 2x2): dW's 3x3 taps of channels (c, o..o+4) = A_g^T M A_g, M at s with ms floats between positions. */
static void grad_out2(const f32 *s, int ms, f32 *d, int tap) {
  v128_t mm[4][4];
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 4; j++) mm[i][j] = wasm_v128_load(s + (4 * i + j) * ms);
  v128_t rr[3][4];
  for (int j = 0; j < 4; j++) {
    rr[0][j] = wasm_f32x4_add(wasm_f32x4_add(mm[0][j], mm[1][j]), mm[2][j]);
    rr[1][j] = wasm_f32x4_sub(mm[1][j], mm[2][j]);
    rr[2][j] = wasm_f32x4_add(wasm_f32x4_add(mm[1][j], mm[2][j]), mm[3][j]);
  }
  for (int u = 0; u < 3; u++) {
    wasm_v128_store(d + (3 * u + 0) * tap, wasm_f32x4_add(wasm_f32x4_add(rr[u][0], rr[u][1]), rr[u][2]));
    wasm_v128_store(d + (3 * u + 1) * tap, wasm_f32x4_sub(rr[u][1], rr[u][2]));
    wasm_v128_store(d + (3 * u + 2) * tap, wasm_f32x4_add(wasm_f32x4_add(rr[u][1], rr[u][2]), rr[u][3]));
  }
}

/* One row or column of A_g^T M A_g for F(3x3, 4x4): o0..o2 from m0..m5 (A_g = G, F(4x4, 3x3)'s filter transform). */
static inline void grad_out_row4(const v128_t *m, v128_t *o) {
  v128_t third = wasm_f32x4_splat(1.0f / 3.0f);
  v128_t p = wasm_f32x4_mul(wasm_f32x4_add(m[1], m[2]), third), q = wasm_f32x4_mul(wasm_f32x4_sub(m[1], m[2]), third);
  o[0] = madd(wasm_f32x4_splat(1.0f / 15.0f), m[4], madd(wasm_f32x4_splat(-16.0f / 15.0f), m[3], wasm_f32x4_add(m[0], q)));
  o[1] = madd(wasm_f32x4_splat(-2.0f / 15.0f), m[4], madd(wasm_f32x4_splat(-8.0f / 15.0f), m[3], p));
  o[2] = madd(wasm_f32x4_splat(4.0f / 15.0f), m[4], madd(wasm_f32x4_splat(-4.0f / 15.0f), m[3], wasm_f32x4_add(q, m[5])));
}

/* F(3x3, 4x4): dW's 3x3 taps of channels (c, o..o+4) = A_g^T M A_g, M at s with ms floats between positions. */
static void grad_out4(const f32 *s, int ms, f32 *d, int tap) {
  v128_t rr[6][3]; /* rr[j] = A_g^T applied down column j */
  #pragma clang loop unroll(full)
  for (int j = 0; j < 6; j++) {
    v128_t col[6];
    #pragma clang loop unroll(full)
    for (int i = 0; i < 6; i++) col[i] = wasm_v128_load(s + (6 * i + j) * ms);
    grad_out_row4(col, rr[j]);
  }
  #pragma clang loop unroll(full)
  for (int u = 0; u < 3; u++) {
    v128_t row[6], out[3];
    #pragma clang loop unroll(full)
    for (int j = 0; j < 6; j++) row[j] = rr[j][u];
    grad_out_row4(row, out);
    #pragma clang loop unroll(full)
    for (int v = 0; v < 3; v++) wasm_v128_store(d + (3 * u + v) * tap, out[v]);
  }
}

/* One row or column of A_g^T M A_g for F(5x5, 2x2): o0..o4 from m0..m5 (A_g^T: the points' powers 0..4, as F(4x4, 3x3)'s A^T). */
static inline void grad_out_row25(const v128_t *m, v128_t *o) {
  v128_t s = wasm_f32x4_add(m[1], m[2]), d = wasm_f32x4_sub(m[1], m[2]);
  o[0] = wasm_f32x4_add(wasm_f32x4_add(m[0], s), wasm_f32x4_add(m[3], m[4]));
  o[1] = madd(wasm_f32x4_splat(-2.0f), m[4], madd(wasm_f32x4_splat(0.5f), m[3], d));
  o[2] = madd(wasm_f32x4_splat(4.0f), m[4], madd(wasm_f32x4_splat(0.25f), m[3], s));
  o[3] = madd(wasm_f32x4_splat(-8.0f), m[4], madd(wasm_f32x4_splat(0.125f), m[3], d));
  o[4] = madd(wasm_f32x4_splat(16.0f), m[4], madd(wasm_f32x4_splat(0.0625f), m[3], wasm_f32x4_add(s, m[5])));
}

/* F(5x5, 2x2): dW's 5x5 taps of channels (c, o..o+4) = A_g^T M A_g, M at s with ms floats between positions. */
static void grad_out25(const f32 *s, int ms, f32 *d, int tap) {
  v128_t rr[6][5]; /* rr[j] = A_g^T applied down column j */
  #pragma clang loop unroll(full)
  for (int j = 0; j < 6; j++) {
    v128_t col[6];
    #pragma clang loop unroll(full)
    for (int i = 0; i < 6; i++) col[i] = wasm_v128_load(s + (6 * i + j) * ms);
    grad_out_row25(col, rr[j]);
  }
  #pragma clang loop unroll(full)
  for (int u = 0; u < 5; u++) {
    v128_t row[6], out[5];
    #pragma clang loop unroll(full)
    for (int j = 0; j < 6; j++) row[j] = rr[j][u];
    grad_out_row25(row, out);
    #pragma clang loop unroll(full)
    for (int v = 0; v < 5; v++) wasm_v128_store(d + (5 * u + v) * tap, out[v]);
  }
}

/*
 * dW [r][r][ci][co] of an r x r stride-1 convolution by F(3x3, 2x2), F(3x3, 4x4) (r = 3, mt = 2 or 4)
 * or F(5x5, 2x2) (r = 5, mt = 2), as above.
 */
EXPORT(winograd_filter_grad)
void winograd_filter_grad(const f32 *x, const f32 *dy, f32 *vp, f32 *up, f32 *m, f32 *dw, int n, int h, int w, int ci, int oh,
                          int ow, int pt, int pl, int co, int mt, int r, int part, int rb0, int rb1) {
  struct conv g = {n, h, w, ci, oh, ow, r, r, 1, 1, pt, pl};
  int th = (oh + mt - 1) / mt, tw = (ow + mt - 1) / mt, tiles = n * th * tw, panels = co / 8, P = (mt + r - 1) * (mt + r - 1);
  /* from one position's block to the next in up, vp and m (each followed by XPAD floats) */
  int us = co * FT + XPAD, vs = ci * FT + XPAD, ms = ci * co + XPAD;
  f32 *mine = up + part * P * us;
  for (int t0 = 0; t0 < tiles; t0 += FT) {
    int count = imin(FT, tiles - t0);
    for (int t = 0; t < count; t++) {
      int q = t0 + t, b = q / (th * tw), rest = q - b * th * tw, ty = rest / tw, tx = rest - ty * tw;
      if (r == 5) {
        grad_dy25(dy, mine, us, oh, ow, co, b, ty, tx, t);
        grad_x6(x, vp, vs, &g, b, ty, tx, t, mt, rb0, rb1);
      } else if (mt == 4) {
        grad_dy4(dy, mine, us, oh, ow, co, b, ty, tx, t);
        grad_x6(x, vp, vs, &g, b, ty, tx, t, mt, rb0, rb1);
      } else {
        grad_dy2(dy, mine, us, oh, ow, co, b, ty, tx, t);
        grad_x2(x, vp, vs, &g, b, ty, tx, t, rb0, rb1);
      }
    }
    for (int xi = 0; xi < P; xi++)
      for (int rb = rb0; rb < rb1; rb++)
        for (int cb = 0; cb < panels; cb++)
          tile4x8(vp + xi * vs + rb * FT * 4, 1, 4, mine + xi * us + cb * FT * 8, 8, count, m + xi * ms + rb * 4 * co + cb * 8, co, t0 > 0, 0,
                  m, 0, 4);
  }
  /* dW [u][v][c][o] = A_g^T M A_g over the P positions, for this thread's input channels. */
  for (int c = rb0 * 4; c < rb1 * 4; c++)
    for (int o = 0; o < co; o += 4) {
      if (r == 5)
        grad_out25(m + c * co + o, ms, dw + c * co + o, ci * co);
      else if (mt == 4)
        grad_out4(m + c * co + o, ms, dw + c * co + o, ci * co);
      else
        grad_out2(m + c * co + o, ms, dw + c * co + o, ci * co);
    }
}

/* out [inner] = sum over the rows of x [outer, inner], for columns [c0, c1); in double precision. */
EXPORT(sum_rows)
void sum_rows(const f32 *x, f32 *out, int outer, int inner, int c0, int c1) {
  int c = c0;
  for (; c + 4 <= c1; c += 4) {
    v128_t lo = wasm_f64x2_splat(0.0), hi = wasm_f64x2_splat(0.0);
    const f32 *p = x + c;
    for (int r = 0; r < outer; r++, p += inner) {
      v128_t v = wasm_v128_load(p);
      lo = wasm_f64x2_add(lo, wasm_f64x2_promote_low_f32x4(v));
      hi = wasm_f64x2_add(hi, wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(v, v, 2, 3, 0, 1)));
    }
    v128_t f = wasm_i32x4_shuffle(wasm_f32x4_demote_f64x2_zero(lo), wasm_f32x4_demote_f64x2_zero(hi), 0, 1, 4, 5);
    wasm_v128_store(out + c, f);
  }
  for (; c < c1; c++) {
    double s = 0.0;
    for (int r = 0; r < outer; r++) s += x[r * inner + c];
    out[c] = (f32)s;
  }
}

/* dst[0..3] += v's four floats, in double precision. */
static inline void add_f64x4(double *dst, v128_t v) {
  wasm_v128_store(dst, wasm_f64x2_add(wasm_v128_load(dst), wasm_f64x2_promote_low_f32x4(v)));
  wasm_v128_store(dst + 2, wasm_f64x2_add(wasm_v128_load(dst + 2), wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(v, v, 2, 3, 0, 1))));
}

/* dst[0..3] += a * b lane by lane, the factors promoted to double first. */
static inline void add_product_f64x4(double *dst, v128_t a, v128_t b) {
  v128_t alo = wasm_f64x2_promote_low_f32x4(a), ahi = wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(a, a, 2, 3, 0, 1));
  v128_t blo = wasm_f64x2_promote_low_f32x4(b), bhi = wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(b, b, 2, 3, 0, 1));
  wasm_v128_store(dst, wasm_f64x2_add(wasm_v128_load(dst), wasm_f64x2_mul(alo, blo)));
  wasm_v128_store(dst + 2, wasm_f64x2_add(wasm_v128_load(dst + 2), wasm_f64x2_mul(ahi, bhi)));
}

/* ReLU's gradient on four floats: dy where the layer's output y > 0, else 0 (dy itself if !relu). */
static inline v128_t relu_masked(const f32 *dy, const f32 *y, int relu) {
  v128_t g = wasm_v128_load(dy);
  return relu ? wasm_v128_and(g, wasm_f32x4_gt(wasm_v128_load(y), wasm_f32x4_splat(0.0f))) : g;
}

/* The same for one float. */
static inline f32 relu_masked1(f32 dy, f32 y, int relu) { return relu && !(y > 0.0f) ? 0.0f : dy; }

/*
 * The gradient through conv + bias + ReLU's ReLU, and its bias gradient, in one pass over rows
 * [r0, r1) of [rows, c]: g = y > 0 ? dy : 0 (y the layer's output), and acc [part][c] (float64)
 * = the sum of those rows of g; the caller adds the threads' sums. Row by row, so that dy, y and g are
 * read and written sequentially and the sums stay in cache.
 */
EXPORT(relu_grad_sum)
void relu_grad_sum(const f32 *dy, const f32 *y, f32 *g, double *acc, int c, int part, int r0, int r1) {
  double *a = acc + part * c;
  for (int ch = 0; ch < c; ch++) a[ch] = 0.0;
  for (int r = r0; r < r1; r++) {
    int o = r * c, ch = 0;
    for (; ch + 4 <= c; ch += 4) {
      v128_t v = relu_masked(dy + o + ch, y + o + ch, 1);
      wasm_v128_store(g + o + ch, v);
      add_f64x4(a + ch, v);
    }
    for (; ch < c; ch++) {
      f32 v = relu_masked1(dy[o + ch], y[o + ch], 1);
      g[o + ch] = v;
      a[ch] += v;
    }
  }
}

/*
 * BatchNorm over the channels of rows [r0, r1) of x [rows, c] (an NHWC map seen as rows of channels).
 * The batch statistics: acc [part][2c] (float64) = per channel, the sum of x and the sum of x^2 over
 * those rows; the caller adds the threads' parts and takes mean and (biased) variance from them.
 */
EXPORT(bn_stats)
void bn_stats(const f32 *x, double *acc, int c, int part, int r0, int r1) {
  double *s = acc + part * 2 * c, *q = s + c;
  for (int ch = 0; ch < 2 * c; ch++) s[ch] = 0.0;
  for (int r = r0; r < r1; r++) {
    const f32 *p = x + r * c;
    int ch = 0;
    for (; ch + 4 <= c; ch += 4) {
      v128_t v = wasm_v128_load(p + ch);
      add_f64x4(s + ch, v);
      add_product_f64x4(q + ch, v, v);
    }
    for (; ch < c; ch++) {
      double v = p[ch];
      s[ch] += v;
      q[ch] += v * v;
    }
  }
}

/*
 * BatchNorm's normalisation, then ReLU if relu: out = (x - mean) * scale + beta per channel, with
 * scale = gamma / sqrt(var + eps) from the caller; rows [r0, r1) of [rows, c].
 */
EXPORT(bn_apply)
void bn_apply(const f32 *x, const f32 *mean, const f32 *scale, const f32 *beta, f32 *out, int c, int relu, int r0, int r1) {
  v128_t z = wasm_f32x4_splat(0.0f);
  for (int r = r0; r < r1; r++) {
    int o = r * c, ch = 0;
    for (; ch + 4 <= c; ch += 4) {
      v128_t v = wasm_f32x4_add(wasm_f32x4_mul(wasm_f32x4_sub(wasm_v128_load(x + o + ch), wasm_v128_load(mean + ch)), wasm_v128_load(scale + ch)), wasm_v128_load(beta + ch));
      wasm_v128_store(out + o + ch, relu ? wasm_f32x4_max(v, z) : v);
    }
    for (; ch < c; ch++) {
      f32 v = (x[o + ch] - mean[ch]) * scale[ch] + beta[ch];
      out[o + ch] = relu && !(v > 0.0f) ? 0.0f : v;
    }
  }
}

/*
 * BatchNorm (+ ReLU) backward, first pass: with g = relu ? (out > 0 ? dy : 0) : dy, acc [part][2c]
 * (float64) = per channel, the sum of g and the sum of g (x - mean) over rows [r0, r1). They give
 * beta's and gamma's gradients and the batch-statistics terms of x's (bn_grad_input).
 */
EXPORT(bn_grad_sums)
void bn_grad_sums(const f32 *dy, const f32 *out, const f32 *x, const f32 *mean, double *acc, int c, int relu, int part, int r0, int r1) {
  double *s = acc + part * 2 * c, *q = s + c;
  for (int ch = 0; ch < 2 * c; ch++) s[ch] = 0.0;
  for (int r = r0; r < r1; r++) {
    int o = r * c, ch = 0;
    for (; ch + 4 <= c; ch += 4) {
      v128_t g = relu_masked(dy + o + ch, out + o + ch, relu);
      add_f64x4(s + ch, g);
      add_product_f64x4(q + ch, g, wasm_f32x4_sub(wasm_v128_load(x + o + ch), wasm_v128_load(mean + ch)));
    }
    for (; ch < c; ch++) {
      f32 g = relu_masked1(dy[o + ch], out[o + ch], relu);
      s[ch] += g;
      q[ch] += (double)g * (double)(x[o + ch] - mean[ch]);
    }
  }
}

/*
 * BatchNorm (+ ReLU) backward, second pass: dx = a g + b (x - mean) + k per channel over rows
 * [r0, r1), g as in bn_grad_sums. With batch statistics a = gamma s, b = -gamma s^3 sum(g (x-mean)) / M,
 * k = -gamma s sum(g) / M (s = 1 / sqrt(var + eps), M rows); with fixed statistics b = k = 0.
 */
EXPORT(bn_grad_input)
void bn_grad_input(const f32 *dy, const f32 *out, const f32 *x, const f32 *mean, const f32 *a, const f32 *b, const f32 *k, f32 *dx,
                   int c, int relu, int r0, int r1) {
  for (int r = r0; r < r1; r++) {
    int o = r * c, ch = 0;
    for (; ch + 4 <= c; ch += 4) {
      v128_t g = relu_masked(dy + o + ch, out + o + ch, relu);
      v128_t d = wasm_f32x4_sub(wasm_v128_load(x + o + ch), wasm_v128_load(mean + ch));
      v128_t v = wasm_f32x4_add(wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(a + ch), g), wasm_f32x4_mul(wasm_v128_load(b + ch), d)), wasm_v128_load(k + ch));
      wasm_v128_store(dx + o + ch, v);
    }
    for (; ch < c; ch++) {
      f32 g = relu_masked1(dy[o + ch], out[o + ch], relu);
      dx[o + ch] = a[ch] * g + b[ch] * (x[o + ch] - mean[ch]) + k[ch];
    }
  }
}

/*
 * One Adam step, elements [i0, i1):
 *   m' = beta1 m + (1 - beta1) g;  v' = beta2 v + (1 - beta2) g^2
 *   x' = x - step_size m' / (sqrt(v') / root_c2 + epsilon)
 * with step_size = lr / (1 - beta1^t) and root_c2 = sqrt(1 - beta2^t). 1 - beta comes from the caller,
 * computed in double precision as tfjs does (1.0f - 0.999f is 1.3e-5 off 0.001).
 */
EXPORT(adam_step)
void adam_step(const f32 *x, const f32 *g, const f32 *m, const f32 *v, f32 *x1, f32 *m1, f32 *v1, int i0, int i1,
               f32 beta1, f32 beta2, f32 one_minus_beta1, f32 one_minus_beta2, f32 step_size, f32 root_c2, f32 epsilon) {
  v128_t b1 = wasm_f32x4_splat(beta1), a1 = wasm_f32x4_splat(one_minus_beta1);
  v128_t b2 = wasm_f32x4_splat(beta2), a2 = wasm_f32x4_splat(one_minus_beta2);
  v128_t st = wasm_f32x4_splat(step_size), rc = wasm_f32x4_splat(root_c2), ep = wasm_f32x4_splat(epsilon);
  int i = i0;
  for (; i + 4 <= i1; i += 4) {
    v128_t gi = wasm_v128_load(g + i);
    v128_t mi = wasm_f32x4_add(wasm_f32x4_mul(b1, wasm_v128_load(m + i)), wasm_f32x4_mul(a1, gi));
    v128_t vi = wasm_f32x4_add(wasm_f32x4_mul(b2, wasm_v128_load(v + i)), wasm_f32x4_mul(a2, wasm_f32x4_mul(gi, gi)));
    wasm_v128_store(m1 + i, mi);
    wasm_v128_store(v1 + i, vi);
    v128_t den = wasm_f32x4_add(wasm_f32x4_div(wasm_f32x4_sqrt(vi), rc), ep);
    wasm_v128_store(x1 + i, wasm_f32x4_sub(wasm_v128_load(x + i), wasm_f32x4_div(wasm_f32x4_mul(st, mi), den)));
  }
  for (; i < i1; i++) {
    f32 gi = g[i];
    f32 mi = beta1 * m[i] + one_minus_beta1 * gi;
    f32 vi = beta2 * v[i] + one_minus_beta2 * gi * gi;
    m1[i] = mi;
    v1[i] = vi;
    x1[i] = x[i] - (step_size * mi) / (__builtin_sqrtf(vi) / root_c2 + epsilon);
  }
}
