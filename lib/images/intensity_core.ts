/**
 * Per-image intensity normalisation without native code (the screening page runs it in the
 * browser, all four modes): the modes, per-image standardisation, global histogram equalisation
 * and CLAHE (`claheInPlace`, a hand-written copy of libvips' `hist_local`, which sharp's `clahe()`
 * calls, tested to give sharp's bytes). `intensity.ts` applies a mode to a batch and keeps sharp's
 * CLAHE for the command line.
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

/** CLAHE window side for a size x size image, as `claheImage` (intensity.ts) passes it to sharp. */
export function claheTile(size: number): number {
  return Math.max(2, Math.round(size / 8));
}

/**
 * CLAHE of one grey size x size image in place, byte for byte what `claheImage` (sharp's
 * `clahe({ width: tile, height: tile, maxSlope: 3 })`, tile = `claheTile(size)`) gives.
 *
 * Written by hand because the screening page has no sharp (no native code in the browser), and
 * the models were trained on sharp's output, so this mirrors libvips 8.18's
 * `libvips/histogram/hist_local.c` (`vips_hist_local`) exactly rather than some other CLAHE:
 * - the input is embedded with `VIPS_EXTEND_MIRROR` (edge pixel repeated: ...cba|abc...|xyz|zyx...),
 *   tile / 2 pixels left and top, so the tile x tile window of output (x, y) covers input columns
 *   x - tile/2 .. x - tile/2 + tile - 1 (rows likewise);
 * - a bin holds at most max_slope (3) pixels (an absolute count, not relative to the mean);
 *   `over`, the total clipped off, is spread evenly over the 256 bins and summed up to the pixel's
 *   value v: sum = clipped count of bins 0..v + floor((v + 1) over / 256);
 * - out = floor(255 sum / tile^2).
 * The histogram slides along each row (one column out, one in) and the row-start histogram slides
 * down (one row out, one in); the clipped counts are also summed per 16 bins, so the cumulative
 * sum costs at most 15 + 16 additions: 128x128 takes about 2 ms.
 */
export function claheInPlace(px: Uint8Array, size: number): void {
  if (px.length !== size * size) {
    throw new RangeError(`claheInPlace: ${px.length} bytes is not a ${size}x${size} grey image`);
  }
  const w = claheTile(size), h = w, slope = 3;
  if (w > size) {
    throw new RangeError(`claheInPlace: a ${size}x${size} image is smaller than the window`);
  }
  // The mirrored embedding: (size + w) x (size + h - 1), as hist_local's vips_embed.
  const ew = size + w, eh = size + h - 1, ox = w >> 1, oy = h >> 1;
  const mirror = (i: number) => {
    const k = ((i % (2 * size)) + 2 * size) % (2 * size);
    return k < size ? k : 2 * size - 1 - k;
  };
  const colOf = Int32Array.from({ length: ew }, (_, x) => mirror(x - ox));
  const emb = new Uint8Array(ew * eh);
  for (let y = 0; y < eh; y++) {
    const src = mirror(y - oy) * size, row = y * ew;
    for (let x = 0; x < ew; x++) emb[row + x] = px[src + colOf[x]];
  }
  const start = new Int32Array(256); // histogram of the window at x = 0 of the current row
  for (let j = 0; j < h; j++) for (let i = 0; i < w; i++) start[emb[j * ew + i]]++;
  const hist = new Int32Array(256), coarse = new Int32Array(16);
  const area = w * h;
  for (let y = 0; y < size; y++) {
    if (y > 0) {
      const out = (y - 1) * ew, inn = (y + h - 1) * ew;
      for (let i = 0; i < w; i++) start[emb[out + i]]--, start[emb[inn + i]]++;
    }
    hist.set(start);
    coarse.fill(0);
    let kept = 0; // sum of the clipped counts (area - kept were clipped off)
    for (let v = 0; v < 256; v++) {
      const c = hist[v] < slope ? hist[v] : slope;
      coarse[v >> 4] += c;
      kept += c;
    }
    const top = y * ew, centre = top + oy * ew + ox;
    for (let x = 0; x < size; x++) {
      const t = emb[centre + x];
      let sum = 0;
      const block = t >> 4;
      for (let b = 0; b < block; b++) sum += coarse[b];
      for (let v = block << 4; v <= t; v++) sum += hist[v] < slope ? hist[v] : slope;
      sum += Math.floor(((t + 1) * (area - kept)) / 256);
      px[y * size + x] = Math.floor((255 * sum) / area);
      // Slide: column x leaves, column x + w comes in (hist_local reads one column past the
      // last window, hence the embedding's extra column). A bin's clipped count changes only
      // while its count is below the slope; (c - slope) >>> 31 is 1 then, without a branch.
      for (let j = 0, p = top + x; j < h; j++, p += ew) {
        const a = emb[p], b = emb[p + w];
        if (a === b) continue;
        const da = (--hist[a] - slope) >>> 31;
        coarse[a >> 4] -= da;
        const db = (hist[b]++ - slope) >>> 31;
        coarse[b >> 4] += db;
        kept += db - da;
      }
    }
  }
}

/**
 * Applies `mode` to one size x size x channels image in place (the first channel normalised and
 * copied to every channel: the X-rays are grey).
 */
export function intensityInPlace(
  img: Uint8Array,
  size: number,
  channels: 1 | 3,
  mode: IntensityMode,
): Uint8Array {
  if (checkIntensityMode(mode) === "none") return img;
  const grey = new Uint8Array(size * size);
  for (let i = 0; i < grey.length; i++) grey[i] = img[i * channels];
  if (mode === "standardize") standardizeInPlace(grey);
  else if (mode === "equalize") equalizeInPlace(grey);
  else claheInPlace(grey, size);
  for (let i = 0; i < grey.length; i++) img.fill(grey[i], i * channels, (i + 1) * channels);
  return img;
}
