/**
 * Per-image intensity normalisation, a preprocessing option of a run (`intensity` in its
 * config.json and preprocessing.json) applied to the uint8 pixels right after loading, for
 * training, validation and every prediction, so that exposure and contrast differences between
 * sites reach the model smaller.
 *
 * Modes:
 * - `none`: unchanged.
 * - `standardize`: per-image standardisation, x -> 128 + 48 (x - mean) / sd, clipped to 0..255
 *   (so +-2.7 sd fill the range).
 * - `equalize`: global histogram equalisation (the cumulative histogram as the lookup table).
 * - `clahe`: contrast-limited adaptive histogram equalisation with sharp's `clahe()` (tiles of
 *   1/8 of the side, maximum slope 3).
 *
 * `standardize` and `equalize` are a few lines over the histogram and are written by hand: sharp
 * has CLAHE and a percentile stretch (`normalise()`) but no global equalisation or z-scoring, and
 * a round trip through sharp per image would cost more than the arithmetic.
 *
 * @example
 * ```ts
 * import { applyIntensityBatch } from "./intensity.ts";
 * const { data } = await loadImages(paths, { size: 128, channels: 1 });
 * await applyIntensityBatch(data, 128, 1, "equalize"); // in place
 * ```
 * @module
 */
import sharp from "sharp";

/** The intensity normalisation modes. */
export type IntensityMode = "none" | "standardize" | "equalize" | "clahe";

/** All modes (for argument checking). */
export const INTENSITY_MODES: readonly IntensityMode[] = [
  "none",
  "standardize",
  "equalize",
  "clahe",
];

/** Throws unless `mode` is a known mode, listing the known ones. */
export function checkIntensityMode(mode: string, what = "intensity"): IntensityMode {
  if (!(INTENSITY_MODES as readonly string[]).includes(mode)) {
    throw new Error(`${what} "${mode}" is not one of ${INTENSITY_MODES.join(", ")}`);
  }
  return mode as IntensityMode;
}

/** Per-image standardisation of one image in place (all channels together). */
export function standardizeInPlace(px: Uint8Array): void {
  let sum = 0, sq = 0;
  for (let i = 0; i < px.length; i++) sum += px[i], sq += px[i] * px[i];
  const mean = sum / px.length;
  const sd = Math.sqrt(Math.max(0, sq / px.length - mean * mean));
  if (sd < 1e-6) {
    px.fill(128);
    return;
  }
  const k = 48 / sd;
  for (let i = 0; i < px.length; i++) {
    const v = 128 + (px[i] - mean) * k;
    px[i] = v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
  }
}

/**
 * Global histogram equalisation of one image in place: each value goes to 255 times the share of
 * pixels at or below it, counted from the lowest value present (so the darkest value maps to 0).
 */
export function equalizeInPlace(px: Uint8Array): void {
  const hist = new Uint32Array(256);
  for (let i = 0; i < px.length; i++) hist[px[i]]++;
  let lowest = 0;
  while (lowest < 255 && hist[lowest] === 0) lowest++;
  const below = hist[lowest], n = px.length;
  if (n === below) return; // one value only: nothing to spread
  const lut = new Uint8Array(256);
  let cum = 0;
  for (let v = 0; v < 256; v++) {
    cum += hist[v];
    lut[v] = Math.round((255 * Math.max(0, cum - below)) / (n - below));
  }
  for (let i = 0; i < px.length; i++) px[i] = lut[px[i]];
}

/** CLAHE of one grey size x size image with sharp (tiles of size / 8, maximum slope 3). */
export async function claheImage(px: Uint8Array, size: number): Promise<Uint8Array> {
  const tile = Math.max(2, Math.round(size / 8));
  const data = await sharp(px, { raw: { width: size, height: size, channels: 1 } })
    .clahe({ width: tile, height: tile, maxSlope: 3 })
    .toColourspace("b-w")
    .raw()
    .toBuffer();
  if (data.length !== px.length) {
    throw new Error(`claheImage: sharp returned ${data.length} bytes for a ${size}x${size} image`);
  }
  return new Uint8Array(data);
}

/**
 * Applies `mode` to every image of a packed uint8 block (`n` images of size x size x channels,
 * HWC) in place. The first channel is normalised and copied to every channel: the X-rays are
 * grey (R = G = B), and a colour image would come out grey.
 */
export async function applyIntensityBatch(
  data: Uint8Array,
  size: number,
  channels: 1 | 3,
  mode: IntensityMode,
): Promise<void> {
  if (mode === "none") return;
  checkIntensityMode(mode);
  const bytes = size * size * channels;
  if (data.length % bytes !== 0) {
    throw new RangeError(
      `applyIntensityBatch: ${data.length} bytes is not a whole number of ${size}x${size}x` +
        `${channels} images`,
    );
  }
  const grey = new Uint8Array(size * size);
  for (let off = 0; off < data.length; off += bytes) {
    const img = data.subarray(off, off + bytes);
    for (let i = 0; i < grey.length; i++) grey[i] = img[i * channels];
    if (mode === "standardize") standardizeInPlace(grey);
    else if (mode === "equalize") equalizeInPlace(grey);
    else grey.set(await claheImage(grey, size));
    for (let i = 0; i < grey.length; i++) img.fill(grey[i], i * channels, (i + 1) * channels);
  }
}
