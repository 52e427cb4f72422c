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

#define INLINE static inline __attribute__((always_inline))
#define UNROLL _Pragma("clang loop unroll(full)")

/*
 * Register blocks: FG_J filter rows (or CV_P pixels) by FG_C (CV_C) groups of 4 channels. V8 has
 * 15 vector registers for wasm on x64 (the 16th is its scratch), so accumulators + loaded vectors
 * + one splat must stay within 15. Measured on the 2-core AVX-512 Xeon (CPU ms of the forward,
 * filter-gradient and input-gradient convolutions of cnn_reg's and compact's big layers, two
 * rounds, build-kernels -D...): 2x4 606/579, 4x2 686/703, 3x4 688/675 (spills), 5x2 760/727,
 * 6x2 738/684.
 */
#ifndef FG_J
#define FG_J 2
#endif
#ifndef FG_C
#define FG_C 4
#endif
#ifndef CV_P
#define CV_P 2
#endif
#ifndef CV_C
#define CV_C 4
#endif

/*
 * One register block of the filter gradient: RJ filter rows (j = kw * CI + ci within one kernel
 * row kh) by 4 * RC output channels, summed over output columns [pa, pb) of rows oy0..oy1 of
 * image b. Filter rows j .. j + RJ - 1 must be inside the input for every column of the range
 * (all of them for interior columns, fewer at a padded border): then the KW * CI input values of
 * a kernel row are contiguous in NHWC, and x[.., j] is one load at a fixed offset. f32 sums per
 * tile of rows, added to the f64 accumulator acc [KH * KW * CI, CO].
 */
INLINE void fg_block(const int RJ, const int RC, const float *x, const float *dy, double *acc,
                     int b, int H, int W, int CI, int OH, int OW, int CO, int KWCI, int sh, int sw,
                     int top, int left, int kh, int oy0, int oy1, int pa, int pb, int j, int co) {
  v128_t a[FG_J][FG_C];
  UNROLL for (int r = 0; r < RJ; r++) UNROLL for (int c = 0; c < RC; c++) a[r][c] =
      wasm_f32x4_splat(0);
  const int xstep = sw * CI;
  for (int oy = oy0; oy < oy1; oy++) {
    int iy = oy * sh + kh - top;
    if (iy < 0 || iy >= H) continue;
    const float *xp = x + ((b * H + iy) * W + pa * sw - left) * CI + j;
    const float *dp = dy + ((b * OH + oy) * OW + pa) * CO + co;
    for (int ox = pa; ox < pb; ox++, xp += xstep, dp += CO) {
      v128_t d[FG_C];
      UNROLL for (int c = 0; c < RC; c++) d[c] = LD(dp + 4 * c);
      UNROLL for (int r = 0; r < RJ; r++) {
        v128_t s = SPLAT(xp + r);
        UNROLL for (int c = 0; c < RC; c++) a[r][c] = FMA(s, d[c], a[r][c]);
      }
    }
  }
  double *o = acc + (kh * KWCI + j) * CO + co;
  UNROLL for (int r = 0; r < RJ; r++) UNROLL for (int c = 0; c < RC; c++)
      add_f64(o + r * CO + 4 * c, a[r][c]);
}

/* Filter rows j .. j + RJ - 1 for output channels [ca, cb): blocks of 4 * FG_C, then of 4. */
#define FG_ROWS(RJ)                                                                             \
  do {                                                                                          \
    int co = ca;                                                                                \
    for (; co + 4 * FG_C <= cb; co += 4 * FG_C)                                                 \
      fg_block(RJ, FG_C, x, dy, acc, b, H, W, CI, OH, OW, CO, KWCI, sh, sw, top, left, kh, oy0,  \
               oy1, pa, pb, j, co);                                                             \
    for (; co < cb; co += 4)                                                                    \
      fg_block(RJ, 1, x, dy, acc, b, H, W, CI, OH, OW, CO, KWCI, sh, sw, top, left, kh, oy0,    \
               oy1, pa, pb, j, co);                                                             \
  } while (0)

#define MIN(a, b) ((a) < (b) ? (a) : (b))

/* Filter rows [JA, JB): blocks of FG_J rows, then of 4, then the 1 .. 3 left over. */
#define FG_RANGE(JA, JB)                                                                        \
  do {                                                                                          \
    int j = (JA);                                                                               \
    const int jend = (JB);                                                                      \
    for (; j + FG_J <= jend; j += FG_J) FG_ROWS(FG_J);                                          \
    for (; j + 4 <= jend; j += 4) FG_ROWS(MIN(4, FG_J));                                        \
    if (jend - j == 3) FG_ROWS(MIN(3, FG_J));                                                   \
    else if (jend - j == 2) FG_ROWS(MIN(2, FG_J));                                              \
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
 * Only the part j in [ja, jb) (j = kw * CI + ci, within each kh) by co in [ca, cb) is computed
 * (ca, cb multiples of 4), so that threads can share one call: every element of acc gets the
 * same operations in the same order however the ranges are cut.
 */
EXPORT("conv_filter_grad")
void conv_filter_grad(const float *x, const float *dy, double *acc, int B, int H, int W, int CI,
                      int OH, int OW, int CO, int KH, int KW, int sh, int sw, int top, int left,
                      int rows, int ja, int jb, int ca, int cb) {
  const int KWCI = KW * CI;
  int oxa, oxb;
  interior(W, KW, sw, left, OW, &oxa, &oxb);
  for (int b = 0; b < B; b++) {
    for (int oy0 = 0; oy0 < OH; oy0 += rows) {
      int oy1 = oy0 + rows < OH ? oy0 + rows : OH;
      for (int kh = 0; kh < KH; kh++) {
        int pa = oxa, pb = oxb;
        if (pa < pb) FG_RANGE(ja, jb);
        /* Border columns, one at a time: only the kernel columns inside the input. */
        for (int ox = 0; ox < OW; ox++) {
          if (ox == oxa) ox = oxb;
          if (ox >= OW) break;
          int kwa = left - ox * sw > 0 ? left - ox * sw : 0;
          int kwb = W + left - ox * sw < KW ? W + left - ox * sw : KW;
          if (kwa >= kwb) continue;
          pa = ox;
          pb = ox + 1;
          int j0 = kwa * CI > ja ? kwa * CI : ja, j1 = kwb * CI < jb ? kwb * CI : jb;
          if (j0 < j1) FG_RANGE(j0, j1);
        }
      }
    }
  }
}

/*
 * The activation of the convolutions' stores (act 0 none, 1 ReLU, 2 ReLU6; a constant where
 * inlined), giving what f32x4.max(v, 0) then .min(v, 6) give, NaN and -0 included, in three
 * instructions instead of about fifteen: V8 lowers f32x4.max and .min to NaN-propagating
 * sequences, pmax / pmin to one maxps / minps each (pmax(v, 0) is v unless v < 0, so NaN stays
 * NaN), and adding +0 turns pmax's -0 into max's +0.
 */
INLINE v128_t activate(v128_t v, const int act) {
  const v128_t zero = wasm_f32x4_splat(0);
  if (act) v = wasm_f32x4_add(wasm_f32x4_pmax(v, zero), zero);
  if (act == 2) v = wasm_f32x4_pmin(v, wasm_f32x4_splat(6));
  return v;
}

/*
 * One register block of a convolution: RP output pixels (ox .. ox + RP - 1 of one output row) by
 * 4 * RC output channels, summed over the kernel rows (rows outside the input skipped) and, in
 * each, the contiguous input values j in [ja, jb) of the KW * CI (all of them inside the input for
 * these pixels); plus the bias, then the activation (0 none, 1 ReLU, 2 ReLU6).
 */
INLINE void cv_block(const int RP, const int RC, const float *x, const float *w, float *y,
                     const float *bias, int act, int b, int H, int W, int CI, int OH, int OW,
                     int CO, int KH, int KWCI, int sh, int sw, int top, int left, int oy, int ox,
                     int ja, int jb, int co) {
  v128_t a[CV_P][CV_C];
  UNROLL for (int p = 0; p < RP; p++) UNROLL for (int c = 0; c < RC; c++) a[p][c] =
      wasm_f32x4_splat(0);
  const int xstep = sw * CI;
  for (int kh = 0; kh < KH; kh++) {
    int iy = oy * sh + kh - top;
    if (iy < 0 || iy >= H) continue;
    const float *xp = x + ((b * H + iy) * W + ox * sw - left) * CI + ja;
    const float *wp = w + (kh * KWCI + ja) * CO + co;
    for (int j = ja; j < jb; j++, xp++, wp += CO) {
      v128_t wv[CV_C];
      UNROLL for (int c = 0; c < RC; c++) wv[c] = LD(wp + 4 * c);
      UNROLL for (int p = 0; p < RP; p++) {
        v128_t s = SPLAT(xp + p * xstep);
        UNROLL for (int c = 0; c < RC; c++) a[p][c] = FMA(s, wv[c], a[p][c]);
      }
    }
  }
  float *o = y + ((b * OH + oy) * OW + ox) * CO + co;
  UNROLL for (int c = 0; c < RC; c++) {
    v128_t bv = bias ? LD(bias + co + 4 * c) : wasm_f32x4_splat(0);
    UNROLL for (int p = 0; p < RP; p++)
        ST(o + p * CO + 4 * c, activate(wasm_f32x4_add(a[p][c], bv), act));
  }
}

/* Pixels ox .. ox + RP - 1 for every output channel: blocks of 4 * CV_C, then of 4. */
#define CV_PIXELS(RP)                                                                           \
  do {                                                                                          \
    int co = 0;                                                                                 \
    for (; co + 4 * CV_C <= CO; co += 4 * CV_C)                                                 \
      cv_block(RP, CV_C, x, w, y, bias, act, b, H, W, CI, OH, OW, CO, KH, KWCI, sh, sw, top,   \
               left, oy, ox, ja, jb, co);                                                       \
    for (; co < CO; co += 4)                                                                    \
      cv_block(RP, 1, x, w, y, bias, act, b, H, W, CI, OH, OW, CO, KH, KWCI, sh, sw, top,      \
               left, oy, ox, ja, jb, co);                                                       \
  } while (0)

/*
 * Conv2D, NHWC, dilation 1: y [B, OH, OW, CO] = sum over kh, kw, ci of x[b, oy*sh + kh - top,
 * ox*sw + kw - left, ci] * w[kh, kw, ci, co] (0 outside the input), + bias[co] when bias is not 0,
 * then the activation act: 0 none, 1 ReLU, 2 ReLU6. CO a multiple of 4. Only output rows
 * r in [r0, r1) of the B * OH rows (r = b * OH + oy) are written (threads share a call by rows).
 */
INLINE void conv2d_act(const float *x, const float *w, float *y, int H, int W, int CI, int OH,
                       int OW, int CO, int KH, int KW, int sh, int sw, int top, int left,
                       const float *bias, const int act, int r0, int r1) {
  const int KWCI = KW * CI;
  int oxa, oxb;
  interior(W, KW, sw, left, OW, &oxa, &oxb);
  for (int r = r0; r < r1; r++) {
    const int b = r / OH, oy = r - b * OH;
    {
      int ja = 0, jb = KWCI, ox = oxa;
      for (; ox + CV_P <= oxb; ox += CV_P) CV_PIXELS(CV_P);
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

/* conv2d with the activation a constant in each copy (no test of it per store). */
EXPORT("conv2d")
void conv2d(const float *x, const float *w, float *y, int B, int H, int W, int CI, int OH, int OW,
            int CO, int KH, int KW, int sh, int sw, int top, int left, const float *bias,
            int act, int r0, int r1) {
  (void)B;
  if (act == 0)
    conv2d_act(x, w, y, H, W, CI, OH, OW, CO, KH, KW, sh, sw, top, left, bias, 0, r0, r1);
  else if (act == 1)
    conv2d_act(x, w, y, H, W, CI, OH, OW, CO, KH, KW, sh, sw, top, left, bias, 1, r0, r1);
  else
    conv2d_act(x, w, y, H, W, CI, OH, OW, CO, KH, KW, sh, sw, top, left, bias, 2, r0, r1);
}

/*
 * MaxPoolGrad for 2x2 windows, stride 2, no padding, NHWC, C a multiple of 4: each input element
 * gets dy where it is its window's first maximum in scan order (the cpu backend's rule), else 0.
 * Writes every element of dx inside the OH*2 x OW*2 region (the caller zeroes the rest), for the
 * output rows r in [r0, r1) of the B * OH (r = b * OH + oy).
 */
EXPORT("max_pool_2x2_grad")
void max_pool_2x2_grad(const float *x, const float *dy, float *dx, int B, int H, int W, int C,
                       int OH, int OW, int r0, int r1) {
  const int row = W * C;
  (void)B;
  for (int r = r0; r < r1; r++) {
    const int b = r / OH, oy = r - b * OH;
    {
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
 * MaxPool for 2x2 windows, stride 2, no padding, NHWC, C a multiple of 4: y[b, oy, ox, c] = the
 * largest of the window's four values (f32x4.max: a NaN in a window gives NaN). Output rows r in
 * [r0, r1) of the B * OH (r = b * OH + oy); H >= 2 * OH, W >= 2 * OW.
 */
EXPORT("max_pool_2x2")
void max_pool_2x2(const float *x, float *y, int B, int H, int W, int C, int OH, int OW, int r0,
                  int r1) {
  const int row = W * C;
  (void)B;
  for (int r = r0; r < r1; r++) {
    const int b = r / OH, oy = r - b * OH;
    const float *p = x + ((b * H + 2 * oy) * W) * C;
    float *o = y + r * OW * C;
    for (int ox = 0; ox < OW; ox++, p += 2 * C, o += C) {
      for (int c = 0; c < C; c += 4) {
        v128_t a = wasm_f32x4_max(LD(p + c), LD(p + C + c));
        v128_t d = wasm_f32x4_max(LD(p + row + c), LD(p + row + C + c));
        ST(o + c, wasm_f32x4_max(a, d));
      }
    }
  }
}

/*
 * Sum over the leading axis of x [M, ld] into acc [C] (f64, zeroed by the caller): f32 partial
 * sums over blocks of 256 rows, then added in f64. C and the row stride ld are multiples of 4;
 * threads share a call by columns (x and acc offset, C the width of the part).
 */
EXPORT("sum_rows")
void sum_rows(const float *x, double *acc, int M, int C, int ld) {
  for (int r0 = 0; r0 < M; r0 += 256) {
    int r1 = r0 + 256 < M ? r0 + 256 : M;
    int c = 0;
    for (; c + 16 <= C; c += 16) {
      v128_t s0 = wasm_f32x4_splat(0), s1 = s0, s2 = s0, s3 = s0;
      const float *p = x + r0 * ld + c;
      for (int r = r0; r < r1; r++, p += ld) {
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
      const float *p = x + r0 * ld + c;
      for (int r = r0; r < r1; r++, p += ld) s0 = wasm_f32x4_add(s0, LD(p));
      add_f64(acc + c, s0);
    }
  }
}

/* ReLU gradient: dx = dy where x > 0, else 0 (one pass instead of step, cast and multiply). */
EXPORT("relu_grad")
void relu_grad(const float *dy, const float *x, float *dx, int n) {
  const v128_t zero = wasm_f32x4_splat(0);
  int i = 0;
  for (; i + 4 <= n; i += 4) ST(dx + i, wasm_v128_and(LD(dy + i), wasm_f32x4_gt(LD(x + i), zero)));
  for (; i < n; i++) dx[i] = x[i] > 0 ? dy[i] : 0;
}

/*
 * relu_grad and the f32 part of sum_rows in one pass (a ReLU layer's bias gradient, lib/backend/
 * wasm/conv_bias_relu.ts): dz [M, C] = dy where y > 0, else 0, and, for each block b of 256 rows
 * in [b0, b1), part[b, C] = the f32 column sums of dz over the block in row order, as sum_rows
 * makes them; `sum_blocks` then adds the blocks in f64 in order: the same bits as relu_grad then
 * sum_rows. Rows are streamed whole, the block's sums kept in part (L1); threads share a call by
 * blocks of rows (by columns, two threads ran no faster than one). C a multiple of 4.
 */
EXPORT("relu_grad_sum")
void relu_grad_sum(const float *dy, const float *y, float *dz, float *part, int M, int C, int b0,
                   int b1) {
  const v128_t zero = wasm_f32x4_splat(0);
  for (int b = b0; b < b1; b++) {
    int r0 = 256 * b, r1 = r0 + 256 < M ? r0 + 256 : M;
    float *pb = part + b * C;
    for (int c = 0; c < C; c += 4) ST(pb + c, zero);
    for (int r = r0, p = r0 * C; r < r1; r++, p += C) {
      for (int c = 0; c < C; c += 4) {
        v128_t d = wasm_v128_and(LD(dy + p + c), wasm_f32x4_gt(LD(y + p + c), zero));
        ST(dz + p + c, d);
        ST(pb + c, wasm_f32x4_add(LD(pb + c), d));
      }
    }
  }
}

/* acc [C] (f64) += part[b, C] for b = 0 .. nb - 1, in that order (sum_rows' f64 additions). */
EXPORT("sum_blocks")
void sum_blocks(const float *part, double *acc, int nb, int C) {
  for (int b = 0; b < nb; b++)
    for (int c = 0; c < C; c += 4) add_f64(acc + c, LD(part + b * C + c));
}

/* out[i] = (float) acc[i] for n values. */
EXPORT("f64_to_f32")
void f64_to_f32(const double *acc, float *out, int n) {
  for (int i = 0; i < n; i++) out[i] = (float)acc[i];
}

/* A float passed as its 32 bits (the pool hands kernels i32 arguments only). */
static inline float f32_bits(int bits) {
  union {
    int i;
    float f;
  } u = {.i = bits};
  return u.f;
}

/* out = a * b, element by element, for n values (threads share a call by elements). */
EXPORT("mul")
void mul(const float *a, const float *b, float *out, int n) {
  int i = 0;
  for (; i + 4 <= n; i += 4) ST(out + i, wasm_f32x4_mul(LD(a + i), LD(b + i)));
  for (; i < n; i++) out[i] = a[i] * b[i];
}

/*
 * A dropout mask, bit for bit the one lib/util/dropout_mask.ts makes: element i of the whole mask
 * (i0 + k for the k-th value written here) is scale where the top 24 bits of mulberry32's output
 * for counter seed + (i + 1) * 0x6d2b79f5 are >= cut, else 0. Threads share a call by elements
 * (mask offset, i0 the index of its first element).
 */
#define MB_STEP 0x6d2b79f5u
static inline v128_t mb_keep(v128_t a, v128_t cut) {
  v128_t t = wasm_i32x4_mul(wasm_v128_xor(a, wasm_u32x4_shr(a, 15)),
                            wasm_v128_or(a, wasm_i32x4_splat(1)));
  t = wasm_v128_xor(wasm_i32x4_add(t, wasm_i32x4_mul(wasm_v128_xor(t, wasm_u32x4_shr(t, 7)),
                                                     wasm_v128_or(t, wasm_i32x4_splat(61)))),
                    t);
  v128_t u = wasm_u32x4_shr(wasm_v128_xor(t, wasm_u32x4_shr(t, 14)), 8);
  return wasm_i32x4_ge(u, cut); /* u, cut < 2^25: a signed compare is exact */
}

EXPORT("dropout_mask")
void dropout_mask(float *mask, int n, int seed, int cut, int scale_bits, int i0) {
  const v128_t cutv = wasm_i32x4_splat(cut), scale = wasm_f32x4_splat(f32_bits(scale_bits));
  const unsigned s = (unsigned)seed, first = (unsigned)i0 + 1u;
  v128_t a = wasm_i32x4_make((int)(s + first * MB_STEP), (int)(s + (first + 1u) * MB_STEP),
                             (int)(s + (first + 2u) * MB_STEP), (int)(s + (first + 3u) * MB_STEP));
  const v128_t step4 = wasm_i32x4_splat((int)(4u * MB_STEP));
  int k = 0;
  for (; k + 4 <= n; k += 4) {
    ST(mask + k, wasm_v128_and(mb_keep(a, cutv), scale));
    a = wasm_i32x4_add(a, step4);
  }
  if (k < n) {
    v128_t v = wasm_v128_and(mb_keep(a, cutv), scale);
    mask[k] = wasm_f32x4_extract_lane(v, 0);
    if (k + 1 < n) mask[k + 1] = wasm_f32x4_extract_lane(v, 1);
    if (k + 2 < n) mask[k + 2] = wasm_f32x4_extract_lane(v, 2);
  }
}

/*
 * Adam, one pass (lib/backend/fused_adam.ts; the same float32 operations in the same order as
 * tf.train.adam's kernels): m1 = m * b1 + g * ob1; v1 = v * b2 + g * g * ob2;
 * w1 = m1 / c1 / (sqrt(v1 / c2) + eps) * nlr + w. The scalars come as float bits. Threads share
 * a call by elements.
 */
EXPORT("adam")
void adam(const float *w, const float *g, const float *m, const float *v, float *w1, float *m1,
          float *v1, int n, int b1_, int ob1_, int b2_, int ob2_, int c1_, int c2_, int eps_,
          int nlr_) {
  const float b1 = f32_bits(b1_), ob1 = f32_bits(ob1_), b2 = f32_bits(b2_), ob2 = f32_bits(ob2_);
  const float c1 = f32_bits(c1_), c2 = f32_bits(c2_), eps = f32_bits(eps_), nlr = f32_bits(nlr_);
  const v128_t B1 = wasm_f32x4_splat(b1), OB1 = wasm_f32x4_splat(ob1), B2 = wasm_f32x4_splat(b2),
               OB2 = wasm_f32x4_splat(ob2), C1 = wasm_f32x4_splat(c1), C2 = wasm_f32x4_splat(c2),
               EPS = wasm_f32x4_splat(eps), NLR = wasm_f32x4_splat(nlr);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    v128_t gv = LD(g + i);
    v128_t mv = wasm_f32x4_add(wasm_f32x4_mul(LD(m + i), B1), wasm_f32x4_mul(gv, OB1));
    v128_t vv = wasm_f32x4_add(wasm_f32x4_mul(LD(v + i), B2),
                               wasm_f32x4_mul(wasm_f32x4_mul(gv, gv), OB2));
    ST(m1 + i, mv);
    ST(v1 + i, vv);
    v128_t den = wasm_f32x4_add(wasm_f32x4_sqrt(wasm_f32x4_div(vv, C2)), EPS);
    ST(w1 + i, wasm_f32x4_add(wasm_f32x4_mul(wasm_f32x4_div(wasm_f32x4_div(mv, C1), den), NLR),
                              LD(w + i)));
  }
  for (; i < n; i++) {
    float gi = g[i];
    float mi = m[i] * b1 + gi * ob1;
    float vi = v[i] * b2 + gi * gi * ob2;
    m1[i] = mi;
    v1[i] = vi;
    w1[i] = mi / c1 / (__builtin_sqrtf(vi / c2) + eps) * nlr + w[i];
  }
}

/*
 * Winograd F(2x2, 3x3) for 3x3 convolutions with stride 1 (Lavin and Gray, "Fast Algorithms for
 * Convolutional Neural Networks", 2016): each 2x2 block of outputs ("tile") takes 16 products per
 * input and output channel instead of 36, so the multiply-adds, the bulk of the work, fall by
 * 2.25x. Three stages, all on 4 channels per vector:
 *   U = G g G^T  (wino_filter, once per call): the filter as 16 matrices [CI, CO];
 *   V = B^T d B  (per tile, the 4x4 input patch, zero outside the input): 16 rows [CI] per tile;
 *   M[e] = V[e] U[e] for each e of the 16 (a matrix product over the input channels, the
 *   register block of cv_block), then Y = A^T M A, plus the bias and the activation.
 * B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1], G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1],
 * A^T = [1 1 1 0; 0 1 -1 -1]. The sums are in another order than the direct convolution's, so
 * results differ from conv2d's in the last bits (errors stay near the direct sum's: the
 * transforms only add, subtract and halve).
 */

/* u [16, CI, CO] = G g G^T for every (ci, co) of w [3, 3, CI, CO]; CI * CO a multiple of 4. */
EXPORT("wino_filter")
void wino_filter(const float *w, float *u, int CI, int CO) {
  const int n = CI * CO;
  const v128_t half = wasm_f32x4_splat(0.5f);
  for (int k = 0; k < n; k += 4) {
    v128_t g[3][3], t[4][3];
    UNROLL for (int i = 0; i < 3; i++) UNROLL for (int j = 0; j < 3; j++) g[i][j] =
        LD(w + (i * 3 + j) * n + k);
    UNROLL for (int j = 0; j < 3; j++) {
      v128_t s = wasm_f32x4_add(g[0][j], g[2][j]);
      t[0][j] = g[0][j];
      t[1][j] = wasm_f32x4_mul(wasm_f32x4_add(s, g[1][j]), half);
      t[2][j] = wasm_f32x4_mul(wasm_f32x4_sub(s, g[1][j]), half);
      t[3][j] = g[2][j];
    }
    UNROLL for (int i = 0; i < 4; i++) {
      v128_t s = wasm_f32x4_add(t[i][0], t[i][2]);
      ST(u + (i * 4 + 0) * n + k, t[i][0]);
      ST(u + (i * 4 + 1) * n + k, wasm_f32x4_mul(wasm_f32x4_add(s, t[i][1]), half));
      ST(u + (i * 4 + 2) * n + k, wasm_f32x4_mul(wasm_f32x4_sub(s, t[i][1]), half));
      ST(u + (i * 4 + 3) * n + k, t[i][2]);
    }
  }
}

/*
 * V = B^T d B for the 4x4 input patch at rows iy0.., columns ix0.. of image b (0 outside the
 * input), channels c .. c + 3: the 16 vectors go to o + e * estride, e = 4 * i + j.
 */
INLINE void wino_in(const float *x, float *o, int estride, int b, int H, int W, int CI, int iy0,
                    int ix0, int c) {
  const v128_t zero = wasm_f32x4_splat(0);
  v128_t d[4][4], t[4][4];
  if (iy0 >= 0 && iy0 + 4 <= H && ix0 >= 0 && ix0 + 4 <= W) {
    const float *p = x + ((b * H + iy0) * W + ix0) * CI + c;
    UNROLL for (int i = 0; i < 4; i++) UNROLL for (int j = 0; j < 4; j++) d[i][j] =
        LD(p + (i * W + j) * CI);
  } else {
    UNROLL for (int i = 0; i < 4; i++) UNROLL for (int j = 0; j < 4; j++) {
      const int iy = iy0 + i, ix = ix0 + j;
      d[i][j] = iy >= 0 && iy < H && ix >= 0 && ix < W ? LD(x + ((b * H + iy) * W + ix) * CI + c)
                                                       : zero;
    }
  }
  UNROLL for (int j = 0; j < 4; j++) {
    t[0][j] = wasm_f32x4_sub(d[0][j], d[2][j]);
    t[1][j] = wasm_f32x4_add(d[1][j], d[2][j]);
    t[2][j] = wasm_f32x4_sub(d[2][j], d[1][j]);
    t[3][j] = wasm_f32x4_sub(d[1][j], d[3][j]);
  }
  UNROLL for (int i = 0; i < 4; i++) {
    ST(o + (4 * i) * estride, wasm_f32x4_sub(t[i][0], t[i][2]));
    ST(o + (4 * i + 1) * estride, wasm_f32x4_add(t[i][1], t[i][2]));
    ST(o + (4 * i + 2) * estride, wasm_f32x4_sub(t[i][2], t[i][1]));
    ST(o + (4 * i + 3) * estride, wasm_f32x4_sub(t[i][1], t[i][3]));
  }
}

/*
 * One register block of the tile products: RP tiles (t .. t + RP - 1) by 4 * RC output channels
 * of m [T, CO] = v [T, CI] u [CI, CO] (one of the 16).
 */
INLINE void wg_block(const int RP, const int RC, const float *v, const float *u, float *m, int CI,
                     int CO, int t, int co) {
  v128_t a[CV_P][CV_C];
  UNROLL for (int p = 0; p < RP; p++) UNROLL for (int c = 0; c < RC; c++) a[p][c] =
      wasm_f32x4_splat(0);
  const float *vp = v + t * CI, *up = u + co;
  for (int ci = 0; ci < CI; ci++, vp++, up += CO) {
    v128_t wv[CV_C];
    UNROLL for (int c = 0; c < RC; c++) wv[c] = LD(up + 4 * c);
    UNROLL for (int p = 0; p < RP; p++) {
      v128_t s = SPLAT(vp + p * CI);
      UNROLL for (int c = 0; c < RC; c++) a[p][c] = FMA(s, wv[c], a[p][c]);
    }
  }
  UNROLL for (int p = 0; p < RP; p++) UNROLL for (int c = 0; c < RC; c++)
      ST(m + (t + p) * CO + co + 4 * c, a[p][c]);
}

#define WG_TILES(RP)                                                                            \
  do {                                                                                          \
    int co = 0;                                                                                 \
    for (; co + 4 * CV_C <= CO; co += 4 * CV_C) wg_block(RP, CV_C, v, u, m, CI, CO, t, co);     \
    for (; co < CO; co += 4) wg_block(RP, 1, v, u, m, CI, CO, t, co);                           \
  } while (0)

/* m [T, CO] = v [T, CI] u [CI, CO]. */
static void wino_gemm(const float *v, const float *u, float *m, int T, int CI, int CO) {
  int t = 0;
  for (; t + CV_P <= T; t += CV_P) WG_TILES(CV_P);
  for (; t < T; t++) WG_TILES(1);
}

/*
 * Conv2D by F(2x2, 3x3): x [B, H, W, CI] with the filter as u [16, CI, CO] (wino_filter) into
 * y [B, OH, OW, CO]: y[b, oy, ox, co] = sum over kh, kw, ci of x[b, oy + kh - top, ox + kw - left,
 * ci] * w[kh, kw, ci, co] (0 outside the input), + bias[co] when bias is not 0, then act (as
 * conv2d). CI and CO multiples of 4. Tile rows r in [r0, r1) of the B * ceil(OH / 2) (r = b * TH +
 * ty) are computed, one at a time, in scratch: 16 * ceil(OW / 2) * (CI + CO) floats of the
 * caller's (each thread its own), where a row's V and M stay in cache.
 */
EXPORT("conv_wino")
void conv_wino(const float *x, const float *u, float *y, int B, int H, int W, int CI, int OH,
               int OW, int CO, int top, int left, const float *bias, int act, float *scratch,
               int r0, int r1) {
  const int TH = (OH + 1) / 2, TW = (OW + 1) / 2;
  float *V = scratch, *M = scratch + 16 * TW * CI;
  const v128_t zero = wasm_f32x4_splat(0);
  (void)B;
  for (int r = r0; r < r1; r++) {
    const int b = r / TH, ty = r - b * TH, iy0 = 2 * ty - top;
    /* V = B^T d B for every tile of the row. */
    for (int tx = 0; tx < TW; tx++)
      for (int c = 0; c < CI; c += 4)
        wino_in(x, V + tx * CI + c, TW * CI, b, H, W, CI, iy0, 2 * tx - left, c);
    /* M[e] = V[e] U[e]. */
    for (int e = 0; e < 16; e++) wino_gemm(V + e * TW * CI, u + e * CI * CO, M + e * TW * CO, TW,
                                           CI, CO);
    /* Y = A^T M A, + bias, act, for the outputs inside OH x OW. */
    const int oy0 = 2 * ty;
    for (int tx = 0; tx < TW; tx++) {
      const int ox0 = 2 * tx;
      for (int co = 0; co < CO; co += 4) {
        v128_t m[4][4], s[2][4];
        UNROLL for (int i = 0; i < 4; i++) UNROLL for (int j = 0; j < 4; j++) m[i][j] =
            LD(M + ((i * 4 + j) * TW + tx) * CO + co);
        UNROLL for (int j = 0; j < 4; j++) {
          s[0][j] = wasm_f32x4_add(wasm_f32x4_add(m[0][j], m[1][j]), m[2][j]);
          s[1][j] = wasm_f32x4_sub(wasm_f32x4_sub(m[1][j], m[2][j]), m[3][j]);
        }
        const v128_t bv = bias ? LD(bias + co) : zero;
        UNROLL for (int i = 0; i < 2; i++) {
          if (oy0 + i >= OH) break;
          float *o = y + ((b * OH + oy0 + i) * OW + ox0) * CO + co;
          v128_t v0 = wasm_f32x4_add(wasm_f32x4_add(s[i][0], s[i][1]), s[i][2]);
          v128_t v1 = wasm_f32x4_sub(wasm_f32x4_sub(s[i][1], s[i][2]), s[i][3]);
          ST(o, activate(wasm_f32x4_add(v0, bv), act));
          if (ox0 + 1 < OW) ST(o + CO, activate(wasm_f32x4_add(v1, bv), act));
        }
      }
    }
  }
}

/*
 * The filter gradient by Winograd F(3x3, 2x2): over each 2x2 tile of dy, the 3x3 gradient is the
 * correlation of the tile's 4x4 input patch d with the 2x2 tile g, = A^T [(G g G^T) (B^T d B)] A
 * with the same B^T as above, G = [1 0; .5 .5; .5 -.5; 0 1] and A^T = [1 1 1 0; 0 1 -1 0;
 * 0 1 1 -1]. Summed over tiles, acc[e] [CI, CO] += V[e]^T D[e] (D = G g G^T per tile), 16
 * products of 16 per tile, ci and co instead of 36; wino_filter_grad_out then applies A.
 */

/* D = G g G^T for the 2x2 dy tile at rows oy0.., columns ox0.. (0 outside), channels co..co+3. */
INLINE void wino_dy(const float *dy, float *o, int estride, int b, int OH, int OW, int CO,
                    int oy0, int ox0, int co) {
  const v128_t zero = wasm_f32x4_splat(0), half = wasm_f32x4_splat(0.5f);
  v128_t g[2][2], h[2][4];
  UNROLL for (int a = 0; a < 2; a++) UNROLL for (int c = 0; c < 2; c++) g[a][c] =
      oy0 + a < OH && ox0 + c < OW ? LD(dy + ((b * OH + oy0 + a) * OW + ox0 + c) * CO + co) : zero;
  UNROLL for (int a = 0; a < 2; a++) {
    h[a][0] = g[a][0];
    h[a][1] = wasm_f32x4_mul(wasm_f32x4_add(g[a][0], g[a][1]), half);
    h[a][2] = wasm_f32x4_mul(wasm_f32x4_sub(g[a][0], g[a][1]), half);
    h[a][3] = g[a][1];
  }
  UNROLL for (int j = 0; j < 4; j++) {
    ST(o + j * estride, h[0][j]);
    ST(o + (4 + j) * estride, wasm_f32x4_mul(wasm_f32x4_add(h[0][j], h[1][j]), half));
    ST(o + (8 + j) * estride, wasm_f32x4_mul(wasm_f32x4_sub(h[0][j], h[1][j]), half));
    ST(o + (12 + j) * estride, h[1][j]);
  }
}

/*
 * One register block of acc[e] += V[e]^T D[e] over the T tiles of a chunk: RJ input channels
 * (ci .. ci + RJ - 1 of V [T, CI]) by 4 * RC output channels (co ..); f32 sums over the chunk,
 * added to the f64 acc [CI, CO].
 */
INLINE void wf_block(const int RJ, const int RC, const float *v, const float *dd, double *acc,
                     int T, int CI, int CO, int ci, int co) {
  v128_t a[FG_J][FG_C];
  UNROLL for (int r = 0; r < RJ; r++) UNROLL for (int c = 0; c < RC; c++) a[r][c] =
      wasm_f32x4_splat(0);
  const float *vp = v + ci, *dp = dd + co;
  for (int t = 0; t < T; t++, vp += CI, dp += CO) {
    v128_t d[FG_C];
    UNROLL for (int c = 0; c < RC; c++) d[c] = LD(dp + 4 * c);
    UNROLL for (int r = 0; r < RJ; r++) {
      v128_t s = SPLAT(vp + r);
      UNROLL for (int c = 0; c < RC; c++) a[r][c] = FMA(s, d[c], a[r][c]);
    }
  }
  double *o = acc + ci * CO + co;
  UNROLL for (int r = 0; r < RJ; r++) UNROLL for (int c = 0; c < RC; c++)
      add_f64(o + r * CO + 4 * c, a[r][c]);
}

/* Input channels ci .. ci + RJ - 1 for every output channel: blocks of 4 * FG_C, then of 4. */
#define WF_CHANNELS(RJ)                                                                         \
  do {                                                                                          \
    int co = 0;                                                                                 \
    for (; co + 4 * FG_C <= CO; co += 4 * FG_C) wf_block(RJ, FG_C, v, dd, ae, T, CI, CO, ci, co); \
    for (; co < CO; co += 4) wf_block(RJ, 1, v, dd, ae, T, CI, CO, ci, co);                     \
  } while (0)

/* Tile rows a chunk of conv_wino_filter_grad takes at once (its f32 sums span a chunk). */
#define WF_ROWS 2

/*
 * acc [16, CI, CO] (f64; zeroed here) = the Winograd-domain filter gradient of x [B, H, W, CI] and
 * dy [B, OH, OW, CO] (3x3 filter, stride 1, padding top / left) over the tile rows [ra, rb) of the
 * B * ceil(OH / 2) (r = b * TH + ty): one slice of the sum. Threads share a call by slices, each
 * with its own acc; wino_filter_grad_out adds the slices in order, so that the result does not
 * depend on which thread ran which. scratch: 16 * WF_ROWS * ceil(OW / 2) * (CI + CO) floats. CI,
 * CO multiples of 4.
 */
EXPORT("conv_wino_filter_grad")
void conv_wino_filter_grad(const float *x, const float *dy, double *acc, int B, int H, int W,
                           int CI, int OH, int OW, int CO, int top, int left, float *scratch,
                           int ra, int rb) {
  const int TH = (OH + 1) / 2, TW = (OW + 1) / 2;
  float *V = scratch, *D = scratch + 16 * WF_ROWS * TW * CI;
  (void)B;
  for (int i = 0; i < 16 * CI * CO; i += 2) ST(acc + i, wasm_f64x2_splat(0));
  for (int r0 = ra; r0 < rb; r0 += WF_ROWS) {
    const int r1 = r0 + WF_ROWS < rb ? r0 + WF_ROWS : rb, T = (r1 - r0) * TW;
    for (int r = r0; r < r1; r++) {
      const int b = r / TH, ty = r - b * TH;
      for (int tx = 0; tx < TW; tx++) {
        const int t = (r - r0) * TW + tx;
        for (int c = 0; c < CI; c += 4)
          wino_in(x, V + t * CI + c, T * CI, b, H, W, CI, 2 * ty - top, 2 * tx - left, c);
        for (int co = 0; co < CO; co += 4)
          wino_dy(dy, D + t * CO + co, T * CO, b, OH, OW, CO, 2 * ty, 2 * tx, co);
      }
    }
    for (int e = 0; e < 16; e++) {
      const float *v = V + e * T * CI, *dd = D + e * T * CO;
      double *ae = acc + e * CI * CO;
      int ci = 0;
      for (; ci + FG_J <= CI; ci += FG_J) WF_CHANNELS(FG_J);
      for (; ci < CI; ci++) WF_CHANNELS(1);
    }
  }
}

/* Element i of the sum of `slices` arrays `stride` doubles apart, added in order. */
static inline double wm(const double *acc, int i, int stride, int slices) {
  double v = acc[i];
  for (int s = 1; s < slices; s++) v += acc[s * stride + i];
  return v;
}

/*
 * out [3, 3, CI, CO] (f32) = A^T m A for every (ci, co), m the sum of the `slices` accumulators
 * [slices, 16, CI, CO] (f64) of conv_wino_filter_grad, added in order; n = CI * CO.
 */
EXPORT("wino_filter_grad_out")
void wino_filter_grad_out(const double *acc, float *out, int n, int slices) {
  /* Not vectorized: clang's vectorized loop sets up a stack frame, which this module may not. */
  _Pragma("clang loop vectorize(disable)") for (int k = 0; k < n; k++) {
    /* s = A^T m by rows (scalars: the module has no stack for arrays) */
#define WM(i, j) wm(acc, ((i) * 4 + (j)) * n + k, 16 * n, slices)
#define WS(j, s0, s1, s2)                                                                       \
  const double s0 = WM(0, j) + WM(1, j) + WM(2, j), s1 = WM(1, j) - WM(2, j),                   \
               s2 = WM(1, j) + WM(2, j) - WM(3, j)
    WS(0, a0, b0, c0);
    WS(1, a1, b1, c1);
    WS(2, a2, b2, c2);
    WS(3, a3, b3, c3);
#undef WS
#undef WM
    /* then (A^T m) A by columns */
    out[0 * n + k] = (float)(a0 + a1 + a2);
    out[1 * n + k] = (float)(a1 - a2);
    out[2 * n + k] = (float)(a1 + a2 - a3);
    out[3 * n + k] = (float)(b0 + b1 + b2);
    out[4 * n + k] = (float)(b1 - b2);
    out[5 * n + k] = (float)(b1 + b2 - b3);
    out[6 * n + k] = (float)(c0 + c1 + c2);
    out[7 * n + k] = (float)(c1 - c2);
    out[8 * n + k] = (float)(c1 + c2 - c3);
  }
}
