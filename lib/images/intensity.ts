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
 * - `clahe`: contrast-limited adaptive histogram equalisation as sharp's `clahe()` computes it
 *   (tiles of 1/8 of the side, maximum slope 3).
 *
 * `standardize` and `equalize` (intensity_core.ts, no native code, so the screening page runs
 * them too) are a few lines over the histogram and are written by hand: sharp has CLAHE and a
 * percentile stretch (`normalise()`) but no global equalisation or z-scoring, and a round trip
 * through sharp per image would cost more than the arithmetic. CLAHE runs everywhere (command
 * line and page alike) as `claheInPlace` (intensity_core.ts), a copy of libvips' hist_local:
 * the page has no sharp, and the tests check it gives sharp's bytes exactly ({@link claheImage},
 * sharp's own CLAHE, is kept as that reference), so runs trained with sharp's CLAHE see the
 * same pixels.
 *
 * @example
 * ```ts
 * import { applyIntensityBatch } from "./intensity.ts";
 * const { data } = await loadImages(paths, { size: 128, channels: 1 });
 * applyIntensityBatch(data, 128, 1, "equalize"); // in place
 * ```
 * @module
 */
import sharp from "sharp";
import {
  checkIntensityMode,
  claheTile,
  intensityInPlace,
  type IntensityMode,
} from "./intensity_core.ts";

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

/**
 * Sharp's own CLAHE of one grey size x size image (tiles of `claheTile(size)`, maximum slope 3):
 * the reference that `claheInPlace`, which every prediction and training run uses, is tested
 * to equal byte for byte.
 */
export async function claheImage(px: Uint8Array, size: number): Promise<Uint8Array> {
  const tile = claheTile(size);
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
export function applyIntensityBatch(
  data: Uint8Array,
  size: number,
  channels: 1 | 3,
  mode: IntensityMode,
): void {
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
    intensityInPlace(data.subarray(off, off + bytes), size, channels, mode);
  }
}
