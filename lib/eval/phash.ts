/**
 * Perceptual hashes (DCT pHash) of images, and a pixel-correlation test that confirms candidate
 * near duplicates (the leakage audit in `leakage.ts` uses both).
 *
 * pHash: the image as 32x32 grayscale (sharp, bilinear, through the image cache of
 * `lib/images/cache.ts`), its 2-D DCT-II, the top-left 8x8 low-frequency block, and one bit per
 * coefficient: above the median of the 63 non-DC coefficients. Two images are near duplicates when
 * the Hamming distance of their 64-bit hashes is <= k. The DCT is written by hand (a 32-point
 * cosine matrix, only the 8 rows the hash needs) because neither sharp nor TF.js exposes a DCT
 * and it is a dozen lines.
 *
 * @example
 * ```ts
 * import { hammingDistance, hashImages } from "./phash.ts";
 * const [a, b] = await hashImages(["a.jpeg", "b.jpeg"]);
 * hammingDistance(a!, b!); // <= 4: near duplicates
 * ```
 * @module
 */

import { loadImages } from "../images/cache.ts";

/** A 64-bit hash as two unsigned 32-bit halves [hi, lo]. */
export type PHash = [number, number];

const N = 32, K = 8;
/** DCT-II basis rows 0..7 of length 32: C[u][x] = cos((2x + 1) u pi / 64). */
const COS: Float64Array[] = Array.from(
  { length: K },
  (_, u) =>
    Float64Array.from({ length: N }, (_, x) => Math.cos(((2 * x + 1) * u * Math.PI) / (2 * N))),
);

/** The 8x8 low-frequency DCT-II block of a 32x32 image (row-major, unnormalised). */
export function dctLowBlock(pixels: ArrayLike<number>): Float64Array {
  if (pixels.length !== N * N) {
    throw new RangeError(`dctLowBlock: got ${pixels.length} pixels, expected 32x32 = 1024`);
  }
  // rows: T[y][u] = sum_x p[y][x] C[u][x]
  const t = new Float64Array(N * K);
  for (let y = 0; y < N; y++) {
    for (let u = 0; u < K; u++) {
      let s = 0;
      const c = COS[u];
      for (let x = 0; x < N; x++) s += pixels[y * N + x] * c[x];
      t[y * K + u] = s;
    }
  }
  // columns: D[v][u] = sum_y T[y][u] C[v][y]
  const d = new Float64Array(K * K);
  for (let v = 0; v < K; v++) {
    const c = COS[v];
    for (let u = 0; u < K; u++) {
      let s = 0;
      for (let y = 0; y < N; y++) s += t[y * K + u] * c[y];
      d[v * K + u] = s;
    }
  }
  return d;
}

/** pHash of a 32x32 grayscale image (any numeric array of 1024 values). */
export function phash(pixels: ArrayLike<number>): PHash {
  const d = dctLowBlock(pixels);
  // Float noise (~1e-13) would decide bits of a flat region; round it to exact zeros.
  const tiny = 1e-9 * Math.max(1, Math.abs(d[0]));
  for (let i = 0; i < 64; i++) if (Math.abs(d[i]) < tiny) d[i] = 0;
  const ac = Array.from(d.subarray(1)).sort((a, b) => a - b);
  const median = (ac[31] + ac[32]) / 2;
  let hi = 0, lo = 0;
  for (let i = 0; i < 64; i++) {
    if (d[i] > median) {
      if (i < 32) hi |= 1 << (31 - i);
      else lo |= 1 << (63 - i);
    }
  }
  return [hi >>> 0, lo >>> 0];
}

/** Number of set bits of a 32-bit integer. */
export function popcount32(x: number): number {
  x = x - ((x >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/** Number of differing bits of two hashes (0..64). */
export function hammingDistance(a: PHash, b: PHash): number {
  return popcount32((a[0] ^ b[0]) >>> 0) + popcount32((a[1] ^ b[1]) >>> 0);
}

/** 16 hex digits. */
export function phashHex(h: PHash): string {
  return h[0].toString(16).padStart(8, "0") + h[1].toString(16).padStart(8, "0");
}

/**
 * pHashes of image files (null for a file that could not be read). Uses the image cache at 32x32
 * grayscale (bilinear), so a rerun decodes nothing.
 */
export async function hashImages(
  paths: string[],
  opts: { cacheDir?: string | null; onProgress?: (done: number, total: number) => void } = {},
): Promise<(PHash | null)[]> {
  const { data, ok } = await loadImages(paths, {
    size: N,
    channels: 1,
    kernel: "linear",
    cacheDir: opts.cacheDir,
    onProgress: opts.onProgress,
  });
  return paths.map((_, i) => (ok[i] ? phash(data.subarray(i * N * N, (i + 1) * N * N)) : null));
}

/** pHashes and the 32x32 grayscale thumbnails they were computed from (for confirmation). */
export async function hashImagesWithThumbnails(
  paths: string[],
  opts: { cacheDir?: string | null } = {},
): Promise<{ hashes: (PHash | null)[]; thumbnails: Uint8Array }> {
  const { data, ok } = await loadImages(paths, {
    size: N,
    channels: 1,
    kernel: "linear",
    cacheDir: opts.cacheDir,
  });
  const hashes = paths.map((_, i) =>
    ok[i] ? phash(data.subarray(i * N * N, (i + 1) * N * N)) : null
  );
  return { hashes, thumbnails: data };
}

/** Pearson correlation of two equally long pixel arrays (NaN if one is flat). */
export function pixelCorrelation(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) {
    throw new RangeError(`pixelCorrelation: lengths ${a.length} and ${b.length} differ`);
  }
  let ma = 0, mb = 0;
  for (let i = 0; i < a.length; i++) ma += a[i], mb += b[i];
  ma /= a.length, mb /= b.length;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] - ma, y = b[i] - mb;
    sab += x * y, saa += x * x, sbb += y * y;
  }
  return sab / Math.sqrt(saa * sbb);
}

/**
 * A confirmation test for candidate pairs: correlation of the 32x32 thumbnails >= minCorrelation
 * (default 0.99). On the Kaggle training folder every same-patient pair at pHash distance 0 has
 * correlation 1.000, while look-alike X-rays of different children at distance <= 4 reach at most
 * about 0.97: chest films share one layout, so a 64-bit pHash alone over-reports.
 */
export function thumbnailConfirm(
  thumbnails: Uint8Array,
  minCorrelation = 0.99,
): (i: number, j: number) => boolean {
  const px = (i: number) => thumbnails.subarray(i * N * N, (i + 1) * N * N);
  return (i, j) => pixelCorrelation(px(i), px(j)) >= minCorrelation;
}
