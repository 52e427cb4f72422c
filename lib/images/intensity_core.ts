/**
 * Per-image intensity normalisation without native code (the screening page runs it in the
 * browser): the modes, and per-image standardisation and global histogram equalisation. CLAHE
 * needs sharp and lives in `intensity.ts`, which also applies a mode to a batch.
 *
 * @example
 * ```ts
 * import { intensityInPlace } from "./intensity_core.ts";
 * intensityInPlace(pixels, 128, 1, "equalize"); // one image, in place
 * ```
 * @module
 */

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

/**
 * Applies `mode` to one size x size x channels image in place (the first channel normalised and
 * copied to every channel: the X-rays are grey). "clahe" needs sharp: use `intensity.ts`.
 */
export function intensityInPlace(
  img: Uint8Array,
  size: number,
  channels: 1 | 3,
  mode: IntensityMode,
): Uint8Array {
  if (mode === "none") return img;
  if (checkIntensityMode(mode) === "clahe") {
    throw new Error(
      "this run normalises images with CLAHE, which needs sharp (the command line); the page " +
        "cannot apply it: use deno task predict",
    );
  }
  const grey = new Uint8Array(size * size);
  for (let i = 0; i < grey.length; i++) grey[i] = img[i * channels];
  if (mode === "standardize") standardizeInPlace(grey);
  else equalizeInPlace(grey);
  for (let i = 0; i < grey.length; i++) img.fill(grey[i], i * channels, (i + 1) * channels);
  return img;
}
