/**
 * What differs in the images themselves between two sites: per-image brightness (mean), contrast
 * (standard deviation), the border's brightness (the outer frame, where film borders, markers
 * and collimation edges sit), the dark and bright ends of the histogram (5th and 95th
 * percentiles), and the pooled intensity histogram of a set, on grey uint8 images.
 *
 * @example
 * ```ts
 * import { imageStats, summariseImageStats } from "./image_stats.ts";
 * const { data } = await loadImages(paths, { size: 128, channels: 1 });
 * const perImage = imageStats(data, paths.length, 128);
 * summariseImageStats(perImage); // { mean: {mean, sd}, contrast: ..., ... }
 * ```
 * @module
 */

/** Statistics of one grey image, on the 0..255 scale. */
export interface ImageStat {
  mean: number;
  /** Standard deviation of the pixel values (global contrast). */
  sd: number;
  /** Mean of the outer frame (`borderFraction` of the side on each edge). */
  border: number;
  /** 5th percentile (the dark background). */
  p5: number;
  /** 95th percentile (bones, markers). */
  p95: number;
}

/** The stat names, in report order. */
export const STAT_NAMES: readonly (keyof ImageStat)[] = ["mean", "sd", "border", "p5", "p95"];

/** Percentile of a 256-bin histogram of `n` values (the smallest value with share >= q). */
function histQuantile(hist: Uint32Array, n: number, q: number): number {
  const target = q * n;
  let cum = 0;
  for (let v = 0; v < 256; v++) {
    cum += hist[v];
    if (cum >= target) return v;
  }
  return 255;
}

/**
 * Statistics of `n` grey size x size images packed in `pixels` (one byte per pixel, image after
 * image). `borderFraction` (default 0.08) is the width of the frame counted as border.
 */
export function imageStats(
  pixels: Uint8Array,
  n: number,
  size: number,
  borderFraction = 0.08,
): ImageStat[] {
  const px = size * size;
  if (pixels.length < n * px) {
    throw new RangeError(`imageStats: ${n} images of ${size}x${size} need ${n * px} bytes`);
  }
  const edge = Math.max(1, Math.round(borderFraction * size));
  const out: ImageStat[] = [];
  const hist = new Uint32Array(256);
  for (let k = 0; k < n; k++) {
    hist.fill(0);
    let sum = 0, sq = 0, bsum = 0, bn = 0;
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const v = pixels[k * px + y * size + x];
        hist[v]++;
        sum += v;
        sq += v * v;
        if (x < edge || y < edge || x >= size - edge || y >= size - edge) bsum += v, bn++;
      }
    }
    const mean = sum / px;
    out.push({
      mean,
      sd: Math.sqrt(Math.max(0, sq / px - mean * mean)),
      border: bsum / bn,
      p5: histQuantile(hist, px, 0.05),
      p95: histQuantile(hist, px, 0.95),
    });
  }
  return out;
}

/** Mean and standard deviation of each statistic over a set of images. */
export function summariseImageStats(
  stats: ImageStat[],
): Record<keyof ImageStat, { mean: number; sd: number }> {
  const out = {} as Record<keyof ImageStat, { mean: number; sd: number }>;
  for (const k of STAT_NAMES) {
    const v = stats.map((s) => s[k]);
    const m = v.reduce((a, b) => a + b, 0) / Math.max(1, v.length);
    const sd = Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / Math.max(1, v.length - 1));
    out[k] = { mean: m, sd };
  }
  return out;
}

/**
 * Every `step`-th pixel of every image (a sample for an intensity histogram of the set, so that
 * each image counts the same).
 */
export function pixelSample(pixels: Uint8Array, n: number, size: number, step = 16): number[] {
  const px = size * size, out: number[] = [];
  for (let k = 0; k < n; k++) for (let i = 0; i < px; i += step) out.push(pixels[k * px + i]);
  return out;
}
