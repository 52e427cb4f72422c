/**
 * How each SIMD kernel call is cut into parts for the threads of a {@link KernelPool}: parts write
 * disjoint outputs and every output element gets the same operations in the same order as on one
 * thread, so the results are bit-identical whatever the thread count.
 *
 * - `conv2d`, `max_pool_2x2`, `max_pool_2x2_grad`: by output rows (b * OH + oy); `conv_wino`
 *   by rows of 2x2 output tiles, each part with its own scratch.
 * - `conv_filter_grad`: by output channels in blocks of 16 where there are at least 16 per
 *   thread, else by filter rows (j = kw * CI + ci) in pairs (the register block).
 * - `sum_rows`: by columns in blocks of 4; `relu_grad_sum`: by blocks of 256 rows (its f64 sums,
 *   `sum_blocks`, run whole); `relu_grad`, `mul`, `dropout_mask` and `adam`: by
 *   elements in blocks of 16.
 * - `conv_wino_filter_grad`: by rows of tiles into {@link WINO_FILTER_GRAD_SLICES} fixed slices
 *   (whatever the thread count), each with its own accumulator and scratch; the slices are added
 *   in order by `wino_filter_grad_out`.
 * - `f64_to_f32`, `wino_filter`, `wino_filter_grad_out` (a filter's worth of values) and calls
 *   below {@link MIN_PART_WORK} run whole.
 * - Cuts by rows or elements make {@link PARTS_PER_THREAD_SPLIT} parts per thread.
 * @module
 */
import type { ConvDims } from "../_conv_geometry.ts";
import type { KernelPool } from "./pool.ts";

/** The sizes every convolution kernel takes first after its three pointers (kernels.c). */
type ConvSizes = [B: number, H: number, W: number, CI: number, OH: number, OW: number, CO: number];

/**
 * The geometry every convolution kernel takes after its three pointers, in kernels.c's order
 * (see {@link convGeometryArgs}).
 */
export type ConvGeometryArgs = [
  ...ConvSizes,
  KH: number,
  KW: number,
  sh: number,
  sw: number,
  top: number,
  left: number,
];

/** A convolution's sizes as {@link ConvGeometryArgs}. */
export function convGeometryArgs(d: ConvDims): ConvGeometryArgs {
  return [d.B, d.H, d.W, d.CI, d.OH, d.OW, d.CO, d.KH, d.KW, d.sh, d.sw, d.top, d.left];
}

/**
 * The sizes the Winograd kernels take after their three pointers, in kernels.c's order (the
 * filter is 3x3 with stride 1; see {@link winoGeometryArgs}).
 */
export type WinoGeometryArgs = [...ConvSizes, top: number, left: number];

/** A 3x3 stride-1 convolution's sizes as {@link WinoGeometryArgs}. */
export function winoGeometryArgs(d: ConvDims): WinoGeometryArgs {
  return [d.B, d.H, d.W, d.CI, d.OH, d.OW, d.CO, d.top, d.left];
}

/** The kernels, whole calls (pointers are byte offsets in tfjs' memory); split over threads. */
export interface SimdKernels {
  /** Conv2DBackpropFilter into a zeroed f64 accumulator; `rows`: output rows per cache tile. */
  conv_filter_grad(x: number, dy: number, acc: number, ...g: [...ConvGeometryArgs, number]): void;
  conv2d(
    x: number,
    w: number,
    y: number,
    ...g: [...ConvGeometryArgs, bias: number, act: number]
  ): void;
  /** A 3x3 filter w [3, 3, CI, CO] as Winograd's u [16, CI, CO] (for {@link conv_wino}). */
  wino_filter(w: number, u: number, CI: number, CO: number): void;
  /**
   * conv2d for a 3x3 filter with stride 1, by Winograd F(2x2, 3x3) (kernels.c), from the
   * filter's u (wino_filter); scratch: {@link winoScratchFloats} floats.
   */
  conv_wino(
    x: number,
    u: number,
    y: number,
    ...g: [...WinoGeometryArgs, bias: number, act: number, scratch: number]
  ): void;
  /**
   * The filter gradient of a 3x3 stride-1 convolution by Winograd F(3x3, 2x2) into the f64 acc
   * [slices, 16, CI, CO] ({@link winoFilterGradSlices} slices); scratch:
   * {@link winoFilterGradScratchFloats} floats.
   */
  conv_wino_filter_grad(
    x: number,
    dy: number,
    acc: number,
    ...g: [...WinoGeometryArgs, scratch: number]
  ): void;
  /** out [3, 3, CI, CO] (f32) from conv_wino_filter_grad's acc of `slices`; n = CI * CO. */
  wino_filter_grad_out(acc: number, out: number, n: number, slices: number): void;
  max_pool_2x2_grad(
    x: number,
    dy: number,
    dx: number,
    B: number,
    H: number,
    W: number,
    C: number,
    OH: number,
    OW: number,
  ): void;
  /** MaxPool 2x2, stride 2, valid, NHWC (C % 4 == 0): x [B, H, W, C] into y [B, OH, OW, C]. */
  max_pool_2x2(
    x: number,
    y: number,
    B: number,
    H: number,
    W: number,
    C: number,
    OH: number,
    OW: number,
  ): void;
  sum_rows(x: number, acc: number, M: number, C: number): void;
  relu_grad(dy: number, x: number, dx: number, n: number): void;
  /**
   * relu_grad of dy, y [M, C] into dz, and its column sums into a zeroed f64 acc [C] (the bits of
   * relu_grad then sum_rows); part: ceil(M / 256) * C floats of scratch.
   */
  relu_grad_sum(
    dy: number,
    y: number,
    dz: number,
    acc: number,
    part: number,
    M: number,
    C: number,
  ): void;
  f64_to_f32(acc: number, out: number, n: number): void;
  /** out = a * b for n floats. */
  mul(a: number, b: number, out: number, n: number): void;
  /**
   * n values of the dropout mask of lib/util/dropout_mask.ts (`cut`, `scale` as there; the scale
   * as a float32 value), bit for bit.
   */
  dropout_mask(mask: number, n: number, seed: number, cut: number, scale: number): void;
  /**
   * The fused Adam update of n floats (lib/backend/fused_adam.ts): w1, m1, v1 from w, g, m, v and
   * the float32 scalars beta1, 1 - beta1, beta2, 1 - beta2, c1, c2, epsilon, -learning rate.
   */
  adam(
    w: number,
    g: number,
    m: number,
    v: number,
    w1: number,
    m1: number,
    v1: number,
    n: number,
    scalars: number[],
  ): void;
  /** Threads the calls are split over. */
  readonly threads: number;
}

/**
 * Calls with less work than this (multiply-adds, or values touched for the memory-bound
 * kernels) run on one thread: waking a worker costs more than it saves.
 */
export let MIN_PART_WORK = 200_000;
/** For tests: changes {@link MIN_PART_WORK} (0 splits every call); returns the previous value. */
export function setMinPartWork(n: number): number {
  const was = MIN_PART_WORK;
  MIN_PART_WORK = n;
  return was;
}

/** `[a, b)` cut into `parts` contiguous ranges whose bounds are multiples of `unit`. */
export function cut(a: number, b: number, parts: number, unit = 1): [number, number][] {
  const units = Math.ceil((b - a) / unit);
  const out: [number, number][] = [];
  for (let k = 0; k < parts; k++) {
    const lo = a + Math.floor((k * units) / parts) * unit;
    const hi = Math.min(b, a + Math.floor(((k + 1) * units) / parts) * unit);
    if (hi > lo) out.push([lo, hi]);
  }
  return out;
}

const bitsView = new DataView(new ArrayBuffer(4));
/** A number's float32 bits as an i32 (kernels take their float scalars this way). */
export function f32Bits(x: number): number {
  bitsView.setFloat32(0, x, true);
  return bitsView.getInt32(0, true);
}

/** How many threads a call with `work` units of work and `units` indivisible pieces gets. */
function threadsFor(pool: KernelPool, work: number, units: number): number {
  return work < MIN_PART_WORK ? 1 : Math.max(1, Math.min(pool.threads, units));
}

/**
 * Parts per thread for calls cut by rows or elements: more parts than threads, claimed by
 * whichever thread is free (pool.ts), so that a thread slowed by other work on the machine takes
 * fewer. The filter gradient and sum_rows, whose cuts trade efficiency, get one per thread.
 */
export const PARTS_PER_THREAD_SPLIT = 2;

/** How many parts a row- or element-cut call gets (see {@link PARTS_PER_THREAD_SPLIT}). */
function partsFor(pool: KernelPool, work: number, units: number): number {
  const t = threadsFor(pool, work, units);
  return t === 1 ? 1 : Math.min(units, t * PARTS_PER_THREAD_SPLIT);
}

/** Floats of scratch one part of `conv_wino` uses: a row of tiles' V and M (kernels.c). */
function winoPartFloats(OW: number, CI: number, CO: number): number {
  return 16 * Math.ceil(OW / 2) * (CI + CO);
}

/** Floats of scratch a `conv_wino` call needs on `threads` threads (its most parts' worth). */
export function winoScratchFloats(
  OW: number,
  CI: number,
  CO: number,
  threads: number,
): number {
  return winoPartFloats(OW, CI, CO) * (threads === 1 ? 1 : threads * PARTS_PER_THREAD_SPLIT);
}

/** Tile rows one chunk of `conv_wino_filter_grad` takes (WF_ROWS in kernels.c). */
const WF_ROWS = 2;

/**
 * Slices of the Winograd filter gradient's sum: a fixed number, so that the sum's order (and its
 * bits) does not depend on the thread count; two per thread on two cores, which lets a thread
 * slowed by other work take fewer.
 */
export const WINO_FILTER_GRAD_SLICES = 4;

/** The slices (ranges of tile rows) of a Winograd filter gradient with these sizes. */
function winoFilterGradCuts(B: number, OH: number): [number, number][] {
  return cut(0, B * Math.ceil(OH / 2), WINO_FILTER_GRAD_SLICES);
}

/** How many accumulators [16, CI, CO] a Winograd filter gradient with these sizes fills. */
export function winoFilterGradSlices(B: number, OH: number): number {
  return winoFilterGradCuts(B, OH).length;
}

/** Floats of scratch one slice of `conv_wino_filter_grad` uses. */
function winoFilterGradPartFloats(OW: number, CI: number, CO: number): number {
  return 16 * WF_ROWS * Math.ceil(OW / 2) * (CI + CO);
}

/** Floats of scratch a `conv_wino_filter_grad` call needs (one part per slice). */
export function winoFilterGradScratchFloats(
  B: number,
  OH: number,
  OW: number,
  CI: number,
  CO: number,
): number {
  return winoFilterGradSlices(B, OH) * winoFilterGradPartFloats(OW, CI, CO);
}

/** The kernels of {@link SimdKernels} on `pool`'s threads. */
export function splitKernels(pool: KernelPool): SimdKernels {
  return {
    threads: pool.threads,
    conv2d(x, w, y, ...g) {
      const [B, , , CI, OH, OW, CO, KH, KW] = g;
      const R = B * OH;
      const t = partsFor(pool, R * OW * CO * KH * KW * CI, R);
      pool.run("conv2d", cut(0, R, t).map(([r0, r1]) => [x, w, y, ...g, r0, r1]));
    },
    conv_filter_grad(x, dy, acc, ...g) {
      const [B, , , CI, OH, OW, CO, KH, KW] = g;
      const J = KW * CI;
      const t = threadsFor(pool, B * OH * OW * CO * KH * J, Math.max(CO / 4, J / 2));
      if (t === 1) return pool.run("conv_filter_grad", [[x, dy, acc, ...g, 0, J, 0, CO]]);
      const byChannels = CO >= 16 * t;
      const parts = byChannels
        ? cut(0, CO, t, 16).map(([c0, c1]) => [x, dy, acc, ...g, 0, J, c0, c1])
        : cut(0, J, t, 2).map(([j0, j1]) => [x, dy, acc, ...g, j0, j1, 0, CO]);
      pool.run("conv_filter_grad", parts);
    },
    wino_filter(w, u, CI, CO) {
      pool.run("wino_filter", [[w, u, CI, CO]]);
    },
    conv_wino(x, u, y, ...g) {
      const [B, , , CI, OH, OW, CO, , , , , scratch] = g;
      const R = B * Math.ceil(OH / 2);
      const t = partsFor(pool, R * Math.ceil(OW / 2) * 16 * CI * CO, R);
      const per = 4 * winoPartFloats(OW, CI, CO), head = g.slice(0, -1); // all but scratch
      pool.run(
        "conv_wino",
        cut(0, R, t).map(([r0, r1], k) => [x, u, y, ...head, scratch + k * per, r0, r1]),
      );
    },
    conv_wino_filter_grad(x, dy, acc, ...g) {
      const [B, , , CI, OH, OW, CO, , , scratch] = g;
      const per = 4 * winoFilterGradPartFloats(OW, CI, CO), slice = 8 * 16 * CI * CO;
      const sizes = g.slice(0, -1); // all but scratch
      pool.run(
        "conv_wino_filter_grad",
        winoFilterGradCuts(B, OH).map(([r0, r1], k) => [
          ...[x, dy, acc + k * slice, ...sizes],
          scratch + k * per,
          r0,
          r1,
        ]),
      );
    },
    wino_filter_grad_out(acc, out, n, slices) {
      pool.run("wino_filter_grad_out", [[acc, out, n, slices]]);
    },
    max_pool_2x2(x, y, B, H, W, C, OH, OW) {
      const R = B * OH;
      const t = partsFor(pool, R * OW * C * 4, R);
      pool.run(
        "max_pool_2x2",
        cut(0, R, t).map(([r0, r1]) => [x, y, B, H, W, C, OH, OW, r0, r1]),
      );
    },
    max_pool_2x2_grad(x, dy, dx, B, H, W, C, OH, OW) {
      const R = B * OH;
      const t = partsFor(pool, R * OW * C * 4, R);
      pool.run(
        "max_pool_2x2_grad",
        cut(0, R, t).map(([r0, r1]) => [x, dy, dx, B, H, W, C, OH, OW, r0, r1]),
      );
    },
    sum_rows(x, acc, M, C) {
      const t = threadsFor(pool, M * C, C / 4);
      pool.run(
        "sum_rows",
        cut(0, C, t, 4).map(([c0, c1]) => [x + 4 * c0, acc + 8 * c0, M, c1 - c0, C]),
      );
    },
    relu_grad_sum(dy, y, dz, acc, part, M, C) {
      const nb = Math.ceil(M / 256);
      const t = partsFor(pool, M * C, nb);
      pool.run(
        "relu_grad_sum",
        cut(0, nb, t).map(([b0, b1]) => [dy, y, dz, part, M, C, b0, b1]),
      );
      pool.run("sum_blocks", [[part, acc, nb, C]]);
    },
    relu_grad(dy, x, dx, n) {
      const t = partsFor(pool, n, Math.ceil(n / 16));
      pool.run(
        "relu_grad",
        cut(0, n, t, 16).map(([a, b]) => [dy + 4 * a, x + 4 * a, dx + 4 * a, b - a]),
      );
    },
    f64_to_f32(acc, out, n) {
      pool.run("f64_to_f32", [[acc, out, n]]);
    },
    mul(a, b, out, n) {
      const t = partsFor(pool, n, Math.ceil(n / 16));
      pool.run(
        "mul",
        cut(0, n, t, 16).map(([i, j]) => [a + 4 * i, b + 4 * i, out + 4 * i, j - i]),
      );
    },
    dropout_mask(mask, n, seed, cutAt, scale) {
      // Generating a value costs about as much as moving four: count it as 4 units.
      const t = partsFor(pool, 4 * n, Math.ceil(n / 16));
      const s = seed | 0, sb = f32Bits(scale);
      pool.run(
        "dropout_mask",
        cut(0, n, t, 16).map(([i, j]) => [mask + 4 * i, j - i, s, cutAt, sb, i]),
      );
    },
    adam(w, g, m, v, w1, m1, v1, n, scalars) {
      // Seven streams of floats and a division and a square root per value: 4 units.
      const t = partsFor(pool, 4 * n, Math.ceil(n / 16));
      const sb = scalars.map(f32Bits);
      pool.run(
        "adam",
        cut(0, n, t, 16).map(([i, j]) => [
          ...[w, g, m, v, w1, m1, v1].map((p) => p + 4 * i),
          j - i,
          ...sb,
        ]),
      );
    },
  };
}
