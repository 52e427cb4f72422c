/*
 * SIMD kernels for the wasm backend's training steps, compiled to WebAssembly by
 * `deno task build-kernels` (clang 16, wasm32, SIMD128 + relaxed SIMD) into kernels_wasm.ts.
 *
 * Why by hand: tfjs-backend-wasm 4.22 has no Conv2DBackpropFilter, and its XNNPACK build uses no
 * relaxed SIMD (no fused multiply-add); what our TypeScript kernels did around XNNPACK (im2col,
 * layout changes, pooling gradients, bias sums) ran one float at a time. These functions work in
 * place on the backend's own memory: the module imports tfjs' WebAssembly.Memory, defines no data
 * and gets its (tiny) stack from the caller (see mod.ts), so every pointer is a tfjs tensor's
 * byte offset.
 *
 * f32x4.relaxed_madd is a fused multiply-add where the CPU has one (x86 with FMA, ARM) and a
 * multiply then an add elsewhere: results may differ in the last bits between machines, as they
 * do between BLAS builds.
 */
#include <wasm_simd128.h>

#define EXPORT(name) __attribute__((export_name(name)))
#define FMA(a, b, c) __builtin_wasm_relaxed_madd_f32x4((a), (b), (c)) /* a * b + c */
#define LD(p) wasm_v128_load(p)
#define ST(p, v) wasm_v128_store((p), (v))
#define SPLAT(p) wasm_v128_load32_splat(p)

/* acc[0..3] (f64) += the four lanes of v */
static inline void add_f64(double *acc, v128_t v) {
  ST(acc, wasm_f64x2_add(LD(acc), wasm_f64x2_promote_low_f32x4(v)));
  ST(acc + 2, wasm_f64x2_add(LD(acc + 2), wasm_f64x2_promote_low_f32x4(
                                              wasm_i32x4_shuffle(v, v, 2, 3, 0, 1))));
}

/*
 * One register block of the filter gradient: RJ filter rows (j = kw * CI + ci within one kernel
 * row kh) by 4 * RC output channels, summed over output columns [pa, pb) of rows oy0..oy1 of
 * image b. The filter rows [ja, jb) given to FG_RANGE must be inside the input for every column of
 * the range (all of them for interior columns, fewer at a padded border): then the KW * CI input
 * values of a kernel row are contiguous in NHWC, and x[.., j] is one load at a fixed offset.
 * f32 sums per tile of rows, added to the f64 accumulator acc [KH * KW * CI, CO].
 */
#define FG_BLOCK(RJ, RC)                                                                        \
  do {                                                                                          \
    v128_t a00 = wasm_f32x4_splat(0), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00,   \
           a30 = a00, a31 = a00;                                                                \
    for (int oy = oy0; oy < oy1; oy++) {                                                        \
      int iy = oy * sh + kh - top;                                                              \
      if (iy < 0 || iy >= H) continue;                                                          \
      const float *xp = x + ((b * H + iy) * W + pa * sw - left) * CI + j;                       \
      const float *dp = dy + ((b * OH + oy) * OW + pa) * CO + co;                               \
      for (int ox = pa; ox < pb; ox++, xp += xstep, dp += CO) {                                 \
        v128_t d0 = LD(dp), d1 = RC > 1 ? LD(dp + 4) : d0;                                      \
        v128_t s = SPLAT(xp);                                                                   \
        a00 = FMA(s, d0, a00);                                                                  \
        if (RC > 1) a01 = FMA(s, d1, a01);                                                      \
        if (RJ > 1) {                                                                           \
          s = SPLAT(xp + 1);                                                                    \
          a10 = FMA(s, d0, a10);                                                                \
          if (RC > 1) a11 = FMA(s, d1, a11);                                                    \
        }                                                                                       \
        if (RJ > 2) {                                                                           \
          s = SPLAT(xp + 2);                                                                    \
          a20 = FMA(s, d0, a20);                                                                \
          if (RC > 1) a21 = FMA(s, d1, a21);                                                    \
        }                                                                                       \
        if (RJ > 3) {                                                                           \
          s = SPLAT(xp + 3);                                                                    \
          a30 = FMA(s, d0, a30);                                                                \
          if (RC > 1) a31 = FMA(s, d1, a31);                                                    \
        }                                                                                       \
      }                                                                                         \
    }                                                                                           \
    double *o = acc + (kh * KWCI + j) * CO + co;                                                \
    add_f64(o, a00);                                                                            \
    if (RC > 1) add_f64(o + 4, a01);                                                            \
    if (RJ > 1) {                                                                               \
      add_f64(o + CO, a10);                                                                     \
      if (RC > 1) add_f64(o + CO + 4, a11);                                                     \
    }                                                                                           \
    if (RJ > 2) {                                                                               \
      add_f64(o + 2 * CO, a20);                                                                 \
      if (RC > 1) add_f64(o + 2 * CO + 4, a21);                                                 \
    }                                                                                           \
    if (RJ > 3) {                                                                               \
      add_f64(o + 3 * CO, a30);                                                                 \
      if (RC > 1) add_f64(o + 3 * CO + 4, a31);                                                 \
    }                                                                                           \
  } while (0)

#define FG_ROWS(RJ)                                                                             \
  do {                                                                                          \
    int co = 0;                                                                                 \
    for (; co + 8 <= CO; co += 8) FG_BLOCK(RJ, 2);                                              \
    if (co < CO) FG_BLOCK(RJ, 1);                                                               \
  } while (0)

#define FG_RANGE(JA, JB)                                                                        \
  do {                                                                                          \
    int j = (JA);                                                                               \
    const int jend = (JB);                                                                      \
    for (; j + 4 <= jend; j += 4) FG_ROWS(4);                                                   \
    if (jend - j == 3) FG_ROWS(3);                                                              \
    else if (jend - j == 2) FG_ROWS(2);                                                         \
    else if (jend - j == 1) FG_ROWS(1);                                                         \
  } while (0)

/* Output columns [*oxa, *oxb) whose whole window lies inside the input (the rest is border). */
static inline void interior(int W, int KW, int sw, int left, int OW, int *oxa, int *oxb) {
  int a = (left + sw - 1) / sw, b = W - KW + left < 0 ? 0 : (W - KW + left) / sw + 1;
  if (b > OW) b = OW;
  if (a > b) a = b;
  *oxa = a;
  *oxb = b;
}

/*
 * Conv2DBackpropFilter, NHWC, dilation 1: acc [KH, KW, CI, CO] (f64, zeroed by the caller) +=
 * sum over b, oy, ox of x[b, oy*sh + kh - top, ox*sw + kw - left, ci] * dy[b, oy, ox, co]
 * (0 outside the input). CO must be a multiple of 4. Output rows are taken `rows` at a time so
 * that a tile of dy and x stays in cache while every filter block sweeps it.
 */
EXPORT("conv_filter_grad")
void conv_filter_grad(const float *x, const float *dy, double *acc, int B, int H, int W, int CI,
                      int OH, int OW, int CO, int KH, int KW, int sh, int sw, int top, int left,
                      int rows) {
  const int KWCI = KW * CI, xstep = sw * CI;
  int oxa, oxb;
  interior(W, KW, sw, left, OW, &oxa, &oxb);
  for (int b = 0; b < B; b++) {
    for (int oy0 = 0; oy0 < OH; oy0 += rows) {
      int oy1 = oy0 + rows < OH ? oy0 + rows : OH;
      for (int kh = 0; kh < KH; kh++) {
        int pa = oxa, pb = oxb;
        if (pa < pb) FG_RANGE(0, KWCI);
        /* Border columns, one at a time: only the kernel columns inside the input. */
        for (int ox = 0; ox < OW; ox++) {
          if (ox == oxa) ox = oxb;
          if (ox >= OW) break;
          int kwa = left - ox * sw > 0 ? left - ox * sw : 0;
          int kwb = W + left - ox * sw < KW ? W + left - ox * sw : KW;
          if (kwa >= kwb) continue;
          pa = ox;
          pb = ox + 1;
          FG_RANGE(kwa * CI, kwb * CI);
        }
      }
    }
  }
}

/*
 * One register block of a convolution: RP output pixels (ox .. ox + RP - 1 of one output row) by
 * 4 * RC output channels, summed over the kernel rows (rows outside the input skipped) and, in
 * each, the contiguous input values j in [ja, jb) of the KW * CI (all of them inside the input for
 * these pixels); plus the bias, then ReLU if asked.
 */
#define CV_BLOCK(RP, RC)                                                                        \
  do {                                                                                          \
    v128_t a00 = wasm_f32x4_splat(0), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00,   \
           a30 = a00, a31 = a00;                                                                \
    for (int kh = 0; kh < KH; kh++) {                                                           \
      int iy = oy * sh + kh - top;                                                              \
      if (iy < 0 || iy >= H) continue;                                                          \
      const float *xp = x + ((b * H + iy) * W + ox * sw - left) * CI + ja;                      \
      const float *wp = w + (kh * KWCI + ja) * CO + co;                                         \
      for (int j = ja; j < jb; j++, xp++, wp += CO) {                                           \
        v128_t w0 = LD(wp), w1 = RC > 1 ? LD(wp + 4) : w0;                                      \
        v128_t s = SPLAT(xp);                                                                   \
        a00 = FMA(s, w0, a00);                                                                  \
        if (RC > 1) a01 = FMA(s, w1, a01);                                                      \
        if (RP > 1) {                                                                           \
          s = SPLAT(xp + xstep);                                                                \
          a10 = FMA(s, w0, a10);                                                                \
          if (RC > 1) a11 = FMA(s, w1, a11);                                                    \
        }                                                                                       \
        if (RP > 2) {                                                                           \
          s = SPLAT(xp + 2 * xstep);                                                            \
          a20 = FMA(s, w0, a20);                                                                \
          if (RC > 1) a21 = FMA(s, w1, a21);                                                    \
        }                                                                                       \
        if (RP > 3) {                                                                           \
          s = SPLAT(xp + 3 * xstep);                                                            \
          a30 = FMA(s, w0, a30);                                                                \
          if (RC > 1) a31 = FMA(s, w1, a31);                                                    \
        }                                                                                       \
      }                                                                                         \
    }                                                                                           \
    float *o = y + ((b * OH + oy) * OW + ox) * CO + co;                                         \
    v128_t b0 = bias ? LD(bias + co) : wasm_f32x4_splat(0);                                     \
    v128_t b1 = bias && RC > 1 ? LD(bias + co + 4) : b0;                                        \
    ST(o, OUT(a00, b0));                                                                        \
    if (RC > 1) ST(o + 4, OUT(a01, b1));                                                        \
    if (RP > 1) {                                                                               \
      ST(o + CO, OUT(a10, b0));                                                                 \
      if (RC > 1) ST(o + CO + 4, OUT(a11, b1));                                                 \
    }                                                                                           \
    if (RP > 2) {                                                                               \
      ST(o + 2 * CO, OUT(a20, b0));                                                             \
      if (RC > 1) ST(o + 2 * CO + 4, OUT(a21, b1));                                             \
    }                                                                                           \
    if (RP > 3) {                                                                               \
      ST(o + 3 * CO, OUT(a30, b0));                                                             \
      if (RC > 1) ST(o + 3 * CO + 4, OUT(a31, b1));                                             \
    }                                                                                           \
  } while (0)

#define CV_PIXELS(RP)                                                                           \
  do {                                                                                          \
    int co = 0;                                                                                 \
    for (; co + 8 <= CO; co += 8) CV_BLOCK(RP, 2);                                              \
    if (co < CO) CV_BLOCK(RP, 1);                                                               \
  } while (0)

/* a + bias, then max(., 0) when relu is set (relu is 0 or 1) */
#define OUT(a, bv) (relu ? wasm_f32x4_max(wasm_f32x4_add((a), (bv)), wasm_f32x4_splat(0))        \
                         : wasm_f32x4_add((a), (bv)))

/*
 * Conv2D, NHWC, dilation 1: y [B, OH, OW, CO] = sum over kh, kw, ci of x[b, oy*sh + kh - top,
 * ox*sw + kw - left, ci] * w[kh, kw, ci, co] (0 outside the input), + bias[co] when bias is not 0,
 * then ReLU when relu is 1. CO a multiple of 4.
 */
EXPORT("conv2d")
void conv2d(const float *x, const float *w, float *y, int B, int H, int W, int CI, int OH, int OW,
            int CO, int KH, int KW, int sh, int sw, int top, int left, const float *bias,
            int relu) {
  const int KWCI = KW * CI, xstep = sw * CI;
  int oxa, oxb;
  interior(W, KW, sw, left, OW, &oxa, &oxb);
  for (int b = 0; b < B; b++) {
    for (int oy = 0; oy < OH; oy++) {
      int ja = 0, jb = KWCI, ox = oxa;
      for (; ox + 4 <= oxb; ox += 4) CV_PIXELS(4);
      for (; ox < oxb; ox++) CV_PIXELS(1);
      /* Border columns: only the kernel columns inside the input. */
      for (ox = 0; ox < OW; ox++) {
        if (ox == oxa) ox = oxb;
        if (ox >= OW) break;
        int kwa = left - ox * sw > 0 ? left - ox * sw : 0;
        int kwb = W + left - ox * sw < KW ? W + left - ox * sw : KW;
        if (kwb < kwa) kwb = kwa; /* no column inside: bias (and ReLU) only */
        ja = kwa * CI;
        jb = kwb * CI;
        CV_PIXELS(1);
      }
    }
  }
}

/*
 * MaxPoolGrad for 2x2 windows, stride 2, no padding, NHWC, C a multiple of 4: each input element
 * gets dy where it is its window's first maximum in scan order (the cpu backend's rule), else 0.
 * Writes every element of dx inside the OH*2 x OW*2 region (the caller zeroes the rest).
 */
EXPORT("max_pool_2x2_grad")
void max_pool_2x2_grad(const float *x, const float *dy, float *dx, int B, int H, int W, int C,
                       int OH, int OW) {
  const int row = W * C;
  for (int b = 0; b < B; b++) {
    for (int oy = 0; oy < OH; oy++) {
      for (int ox = 0; ox < OW; ox++) {
        int p = ((b * H + 2 * oy) * W + 2 * ox) * C;
        const float *g = dy + ((b * OH + oy) * OW + ox) * C;
        for (int c = 0; c < C; c += 4) {
          v128_t v0 = LD(x + p + c), v1 = LD(x + p + C + c);
          v128_t v2 = LD(x + p + row + c), v3 = LD(x + p + row + C + c);
          v128_t d = LD(g + c);
          /* first maximum: v0 if >= all; else v1 if >= v2, v3; else v2 if >= v3; else v3 */
          v128_t w0 = wasm_v128_and(wasm_f32x4_ge(v0, v1),
                                    wasm_v128_and(wasm_f32x4_ge(v0, v2), wasm_f32x4_ge(v0, v3)));
          v128_t w1 = wasm_v128_andnot(
              wasm_v128_and(wasm_f32x4_gt(v1, v0),
                            wasm_v128_and(wasm_f32x4_ge(v1, v2), wasm_f32x4_ge(v1, v3))),
              w0);
          v128_t w2 = wasm_v128_andnot(wasm_f32x4_ge(v2, v3), wasm_v128_or(w0, w1));
          v128_t w3 = wasm_v128_not(wasm_v128_or(wasm_v128_or(w0, w1), w2));
          ST(dx + p + c, wasm_v128_and(d, w0));
          ST(dx + p + C + c, wasm_v128_and(d, w1));
          ST(dx + p + row + c, wasm_v128_and(d, w2));
          ST(dx + p + row + C + c, wasm_v128_and(d, w3));
        }
      }
    }
  }
}

/*
 * Sum over the leading axis of x [M, C] (C a multiple of 4) into acc [C] (f64, zeroed by the
 * caller): f32 partial sums over blocks of 256 rows, then added in f64.
 */
EXPORT("sum_rows")
void sum_rows(const float *x, double *acc, int M, int C) {
  for (int r0 = 0; r0 < M; r0 += 256) {
    int r1 = r0 + 256 < M ? r0 + 256 : M;
    int c = 0;
    for (; c + 16 <= C; c += 16) {
      v128_t s0 = wasm_f32x4_splat(0), s1 = s0, s2 = s0, s3 = s0;
      const float *p = x + r0 * C + c;
      for (int r = r0; r < r1; r++, p += C) {
        s0 = wasm_f32x4_add(s0, LD(p));
        s1 = wasm_f32x4_add(s1, LD(p + 4));
        s2 = wasm_f32x4_add(s2, LD(p + 8));
        s3 = wasm_f32x4_add(s3, LD(p + 12));
      }
      add_f64(acc + c, s0);
      add_f64(acc + c + 4, s1);
      add_f64(acc + c + 8, s2);
      add_f64(acc + c + 12, s3);
    }
    for (; c < C; c += 4) {
      v128_t s0 = wasm_f32x4_splat(0);
      const float *p = x + r0 * C + c;
      for (int r = r0; r < r1; r++, p += C) s0 = wasm_f32x4_add(s0, LD(p));
      add_f64(acc + c, s0);
    }
  }
}

/* out[i] = (float) acc[i] for n values. */
EXPORT("f64_to_f32")
void f64_to_f32(const double *acc, float *out, int n) {
  for (int i = 0; i < n; i++) out[i] = (float)acc[i];
}
