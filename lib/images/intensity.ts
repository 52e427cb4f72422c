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
 * `standardize` and `equalize` (intensity_core.ts, no native code, so the screening page runs
 * them too) are a few lines over the histogram and are written by hand: sharp has CLAHE and a
 * percentile stretch (`normalise()`) but no global equalisation or z-scoring, and a round trip
 * through sharp per image would cost more than the arithmetic. The command line keeps sharp for
 * `clahe` (the training caches were made with it); the page, which has no sharp, runs
 * `claheInPlace` (intensity_core.ts), a copy of libvips' hist_local that the tests check gives
 * sharp's bytes exactly, so the page runs all four modes.
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
import { checkIntensityMode, intensityInPlace, type IntensityMode } from "./intensity_core.ts";

export {
  checkIntensityMode,
  claheInPlace,
  claheTile,
  equalizeInPlace,
  INTENSITY_MODES,
  intensityInPlace,
  type IntensityMode,
  standardizeInPlace,
} from "./intensity_core.ts";

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
  for (let off = 0; off < data.length; off += bytes) {
    const img = data.subarray(off, off + bytes);
    if (mode !== "clahe") {
      intensityInPlace(img, size, channels, mode);
      continue;
    }
    const grey = Uint8Array.from({ length: size * size }, (_, i) => img[i * channels]);
    const out = await claheImage(grey, size);
    for (let i = 0; i < out.length; i++) img.fill(out[i], i * channels, (i + 1) * channels);
  }
}
