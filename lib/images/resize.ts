/**
 * Pixel steps of the loader written in plain TypeScript, so that a browser (which decodes the
 * file with its own image decoder) reproduces byte for byte what `decodeImage` (sharp, libvips)
 * gives the model:
 *
 * - {@link srgbToGray}: libvips' sRGB -> B_W conversion (sharp `toColourspace("b-w")`): each
 *   channel through the 8-bit sRGB -> linear table, CIE luminance 0.2126 R + 0.7152 G + 0.0722 B
 *   in linear light, back through the linear -> sRGB table with linear interpolation; every step
 *   in float32 as libvips computes it (`Math.fround` below).
 * - {@link resizeNearest}: sharp `resize(w, h, { fit: "fill", kernel: "nearest" })`, which is
 *   libvips `vips_resize` with the nearest kernel: an integer subsample when the shrink is at least
 *   twice the reduce gap (2), a centre-sampled reduce for the rest of a downsize, a corner-sampled
 *   block enlargement for an upsize.
 *
 * These are written by hand because no library outside libvips has its exact rounding; the test
 * (`tests/images/resize_test.ts`) checks them against sharp on many sizes and every gray level.
 *
 * @example
 * ```ts
 * import { resizeNearest, srgbToGray } from "./resize.ts";
 * const gray = srgbToGray(rgba, width * height, 4);                 // 1 byte per pixel
 * const small = resizeNearest(gray, width, height, 1, 128, 128);      // 128*128 bytes
 * ```
 * @module
 */

const f32 = Math.fround;

/** libvips' 8-bit tables: sRGB value -> linear (float) and linear index -> sRGB value (int). */
interface SrgbTables {
  v2Y: Float32Array;
  /** 257 entries; the last repeats the 256th for the interpolation's `+ 1`. */
  Y2v: Int32Array;
}

let TABLES: SrgbTables | null = null;

/** `rintf`: round half to even, as C's default rounding mode does. */
function rint(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Builds libvips' `calcul_tables(256, ...)` in float32. */
function tables(): SrgbTables {
  if (TABLES) return TABLES;
  const v2Y = new Float32Array(256), Y2v = new Int32Array(257);
  const k1055 = f32(1 + f32(0.055)), inv24 = f32(1 / f32(2.4));
  for (let i = 0; i < 256; i++) {
    const f = f32(i / 255);
    const v = f <= 0.0031308
      ? f32(f32(12.92) * f)
      : f32(f32(k1055 * f32(Math.pow(f, inv24))) - f32(0.055));
    Y2v[i] = rint(f32(255 * v));
    v2Y[i] = f <= 0.04045
      ? f32(f / f32(12.92))
      : f32(Math.pow(f32(f32(f + f32(0.055)) / k1055), f32(2.4)));
  }
  Y2v[256] = Y2v[255];
  TABLES = { v2Y, Y2v };
  return TABLES;
}

/**
 * Gray levels of `n` sRGB pixels stored `stride` bytes apart (3 for RGB, 4 for RGBA; alpha is
 * ignored: flatten first), as libvips converts sRGB to B_W.
 */
export function srgbToGray(
  src: Uint8Array | Uint8ClampedArray,
  n: number,
  stride: 3 | 4,
  out: Uint8Array = new Uint8Array(n),
): Uint8Array {
  if (src.length < n * stride) {
    throw new RangeError(`srgbToGray: ${src.length} bytes, expected ${n} pixels x ${stride}`);
  }
  if (out.length !== n) {
    throw new RangeError(`srgbToGray: output of ${out.length} bytes, expected ${n}`);
  }
  const { v2Y, Y2v } = tables();
  const wR = f32(0.2126), wG = f32(0.7152), wB = f32(0.0722);
  for (let i = 0, p = 0; i < n; i++, p += stride) {
    const y = f32(
      f32(f32(wR * v2Y[src[p]]) + f32(wG * v2Y[src[p + 1]])) + f32(wB * v2Y[src[p + 2]]),
    );
    let yf = f32(y * 255);
    if (yf < 0) yf = 0;
    else if (yf > 255) yf = 255;
    const yi = Math.trunc(yf);
    const v = f32(Y2v[yi] + f32((Y2v[yi + 1] - Y2v[yi]) * f32(yf - yi)));
    out[i] = rint(v);
  }
  return out;
}

/** `VIPS_ROUND_UINT`. */
function roundUint(x: number): number {
  return Math.trunc(x + 0.5);
}

/**
 * Rows per region when libvips reduces vertically (its "fat strip" height): the position is
 * recomputed at the top of each strip and accumulated within it, so rounding at exact halves
 * depends on it.
 */
const STRIP = 16;

/**
 * vips_reduce{h,v} with the nearest kernel: centre sampling, the remainder split at both ends.
 * The position accumulates (`x += shrink`) from the start of each region of `region` outputs, as
 * libvips computes it, so that positions within 1e-13 of an integer round the same way.
 */
function reduceAxis(n: number, shrink: number, region: number): Int32Array {
  const m = roundUint(n / shrink);
  const offset = (1 + (m * shrink - n)) / 2 - 1;
  const idx = new Int32Array(m);
  for (let start = 0; start < m; start += region) {
    let x = (start + 0.5) * shrink - 0.5 - offset;
    for (let i = start; i < Math.min(m, start + region); i++, x += shrink) {
      idx[i] = Math.min(n - 1, Math.max(0, Math.trunc(x)));
    }
  }
  return idx;
}

/**
 * vips_affine with the nearest interpolator along one axis: corner sampling at `step` input
 * pixels per output pixel, through the one-pixel border libvips adds (hence the `+ 1` and
 * `- 1`). Columns accumulate the step across the row; rows multiply, as libvips does.
 */
function affineAxis(n: number, m: number, step: number, accumulate: boolean): Int32Array {
  const idx = new Int32Array(m);
  let x = 1;
  for (let i = 0; i < m; i++) {
    const at = accumulate ? x : step * i + 1;
    idx[i] = Math.min(n - 1, Math.max(0, Math.floor(at) - 1));
    x += step;
  }
  return idx;
}

/**
 * Source column and row for each output pixel when sharp resizes `inW x inH` to `outW x outH`
 * with `fit: "fill"` and the nearest kernel (libvips `vips_resize`, reduce gap 2).
 */
export function nearestMaps(
  inW: number,
  inH: number,
  outW: number,
  outH: number,
): { xs: Int32Array; ys: Int32Array } {
  for (const v of [inW, inH, outW, outH]) {
    if (!(Number.isInteger(v) && v > 0)) {
      throw new RangeError(
        `nearestMaps: sizes must be positive integers, got ${[inW, inH, outW, outH]}`,
      );
    }
  }
  let hs = 1 / (inW / outW), vs = 1 / (inH / outH);
  // Integer part of a large shrink: vips_subsample keeps pixels 0, f, 2f, ...
  const fh = Math.max(1, Math.floor(inW / roundUint(inW * hs) / 2));
  const fv = Math.max(1, Math.floor(inH / roundUint(inH * vs) / 2));
  let w = inW, h = inH;
  if (fh > 1 || fv > 1) {
    w = Math.floor(inW / fh), h = Math.floor(inH / fv);
    hs *= fh, vs *= fv;
  }
  hs = Math.max(hs, 1 / w), vs = Math.max(vs, 1 / h);
  let xs: Int32Array = Int32Array.from({ length: w }, (_, i) => i);
  let ys: Int32Array = Int32Array.from({ length: h }, (_, i) => i);
  if (vs < 1) ys = reduceAxis(h, 1 / vs, STRIP);
  if (hs < 1) xs = reduceAxis(w, 1 / hs, w);
  if (hs > 1 || vs > 1) {
    let ax: Int32Array, ay: Int32Array;
    if (hs === Math.floor(hs) && vs === Math.floor(vs)) {
      // vips_zoom: each pixel repeated a whole number of times.
      ax = Int32Array.from({ length: xs.length * hs }, (_, i) => Math.floor(i / hs));
      ay = Int32Array.from({ length: ys.length * vs }, (_, i) => Math.floor(i / vs));
    } else {
      const a = hs > 1 ? hs : 1, d = vs > 1 ? vs : 1;
      const inv = 1 / (a * d);
      ax = affineAxis(xs.length, outW, inv * d, true);
      ay = affineAxis(ys.length, outH, inv * a, false);
    }
    xs = Int32Array.from(ax, (i) => xs[i]);
    ys = Int32Array.from(ay, (i) => ys[i]);
  }
  if (xs.length !== outW || ys.length !== outH) {
    throw new Error(
      `nearestMaps: ${inW}x${inH} -> ${outW}x${outH} gave ${xs.length}x${ys.length} positions`,
    );
  }
  return { xs: xs.map((x) => x * fh), ys: ys.map((y) => y * fv) };
}

/** The last maps {@link resizeNearest} used: a loader resizes thousands of same-size images. */
let lastMaps: { key: string; xs: Int32Array; ys: Int32Array } | null = null;

/**
 * Resizes HWC uint8 pixels to `outW x outH` ignoring the aspect ratio, as sharp
 * `resize(outW, outH, { fit: "fill", kernel: "nearest" })` does. Writes into `out` when given
 * (outW * outH * channels bytes, e.g. an image's slot of a packed batch) and returns it.
 */
export function resizeNearest(
  src: Uint8Array | Uint8ClampedArray,
  width: number,
  height: number,
  channels: number,
  outW: number,
  outH: number,
  out: Uint8Array = new Uint8Array(outW * outH * channels),
): Uint8Array {
  if (src.length !== width * height * channels) {
    throw new RangeError(
      `resizeNearest: ${src.length} bytes, expected ${width}x${height}x${channels}`,
    );
  }
  if (out.length !== outW * outH * channels) {
    throw new RangeError(
      `resizeNearest: output of ${out.length} bytes, expected ${outW}x${outH}x${channels}`,
    );
  }
  const key = `${width},${height},${outW},${outH}`;
  if (lastMaps?.key !== key) lastMaps = { key, ...nearestMaps(width, height, outW, outH) };
  const { xs, ys } = lastMaps;
  if (channels === 3) {
    // The common case (RGB), unrolled: a third of the loader's time after decoding was here.
    for (let y = 0, q = 0; y < outH; y++) {
      const row = ys[y] * width;
      for (let x = 0; x < outW; x++, q += 3) {
        const p = (row + xs[x]) * 3;
        out[q] = src[p];
        out[q + 1] = src[p + 1];
        out[q + 2] = src[p + 2];
      }
    }
    return out;
  }
  for (let y = 0, q = 0; y < outH; y++) {
    const row = ys[y] * width;
    for (let x = 0; x < outW; x++) {
      const p = (row + xs[x]) * channels;
      for (let c = 0; c < channels; c++) out[q++] = src[p + c];
    }
  }
  return out;
}

/**
 * Enlarges HWC uint8 pixels to `outW x outH` (both larger than the input) with bilinear
 * interpolation, as sharp `resize(outW, outH, { fit: "fill", kernel: "linear" })` does it for an
 * enlargement: libvips `vips_affine` with the bilinear interpolator, output column x reading
 * input position `x * in / out - 0.5` (columns accumulated, rows multiplied, as libvips does),
 * edges extended, 12-bit fixed-point weights. Checked against sharp in the tests.
 */
export function enlargeBilinear(
  src: Uint8Array | Uint8ClampedArray,
  width: number,
  height: number,
  channels: number,
  outW: number,
  outH: number,
): Uint8Array {
  if (src.length !== width * height * channels) {
    throw new RangeError(
      `enlargeBilinear: ${src.length} bytes, expected ${width}x${height}x${channels}`,
    );
  }
  if (!(outW > width && outH > height)) {
    throw new RangeError(
      `enlargeBilinear: ${width}x${height} -> ${outW}x${outH} is not an enlargement on both axes`,
    );
  }
  const hs = 1 / (width / outW), vs = 1 / (height / outH);
  const inv = 1 / (hs * vs);
  const ia = inv * vs, id = inv * hs;
  // Input offset 0.5, less the one-pixel border libvips adds around the input.
  const idx = 0.5 - 1, idy = 0.5 - 1;
  const SHIFT = 12, SCALE = 1 << SHIFT, HALF = SCALE >> 1;
  // Border of one extended pixel: bordered index i reads source min(max(i - 1, 0), n - 1).
  const at = (i: number, n: number) => Math.min(n - 1, Math.max(0, i - 1));
  const out = new Uint8Array(outW * outH * channels);
  for (let y = 0, q = 0; y < outH; y++) {
    const fy = id * y - idy;
    const iy = Math.trunc(fy);
    const Y = Math.trunc((fy - iy) * SCALE), Yd = SCALE - Y;
    const r1 = at(iy, height) * width, r2 = at(iy + 1, height) * width;
    let fx = -idx;
    for (let x = 0; x < outW; x++, fx += ia) {
      const ix = Math.trunc(fx);
      const X = Math.trunc((fx - ix) * SCALE);
      const c4 = (Y * X) >> SHIFT, c2 = (Yd * X) >> SHIFT;
      const c3 = Y - c4, c1 = Yd - c2;
      const x1 = at(ix, width), x2 = at(ix + 1, width);
      const p1 = (r1 + x1) * channels, p2 = (r1 + x2) * channels;
      const p3 = (r2 + x1) * channels, p4 = (r2 + x2) * channels;
      for (let c = 0; c < channels; c++) {
        out[q++] = (c1 * src[p1 + c] + c2 * src[p2 + c] + c3 * src[p3 + c] + c4 * src[p4 + c] +
          HALF) >> SHIFT;
      }
    }
  }
  return out;
}
