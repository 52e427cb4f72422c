/**
 * The central chest region, and a preprocessing option that crops or masks images to it.
 *
 * The region is a fixed box in fractions of the image: x from 0.15 to 0.85, y from 0.10 to 0.90.
 * On the Kermany pediatric films the child is centred and the lung fields lie inside this box,
 * while the corners and borders hold the shoulders, arms, neck, the abdomen, the film markers
 * ("R", "L", text labels) and the collimation edges: what the original notebook worried the model
 * might look at. A fixed box is reproducible and needs no segmentation model; it is the same box
 * that `heatmapMassOutside` (gradcam.ts) uses, so "outside the chest" means one thing in the
 * report.
 *
 * Modes: "none" (unchanged), "crop" (cut the box, resize back to the full size, so the model
 * input shape does not change), "mask" (black outside the box).
 *
 * @example
 * ```ts
 * import { applyChestRegionBatch } from "./chest_region.ts";
 * const { data } = await loadImages(paths, { size: 128, channels: 1 });
 * await applyChestRegionBatch(data, 128, 1, "crop"); // in place
 * ```
 * @module
 */

import { enlargeBilinear } from "./resize.ts";

/** A box in fractions of width (x) and height (y), 0..1. */
export interface ChestBox {
  x0: number;
  x1: number;
  y0: number;
  y1: number;
}

/** The project's central chest region. */
export const CHEST_BOX: Readonly<ChestBox> = Object.freeze({
  x0: 0.15,
  x1: 0.85,
  y0: 0.1,
  y1: 0.9,
});

/** Preprocessing modes. */
export type ChestRegionMode = "none" | "crop" | "mask";

/** All modes (for CLI validation). */
export const CHEST_REGION_MODES: readonly ChestRegionMode[] = ["none", "crop", "mask"];

/** Pixel bounds [left, top, width, height] of the box in a size x size image. */
export function boxPixels(
  size: number,
  box: ChestBox = CHEST_BOX,
): [number, number, number, number] {
  if (
    !(box.x0 >= 0 && box.x0 < box.x1 && box.x1 <= 1 && box.y0 >= 0 && box.y0 < box.y1 &&
      box.y1 <= 1)
  ) {
    throw new RangeError(
      `chest box ${JSON.stringify(box)} must satisfy 0 <= x0 < x1 <= 1, 0 <= y0 < y1 <= 1`,
    );
  }
  const left = Math.round(box.x0 * size), top = Math.round(box.y0 * size);
  const width = Math.max(1, Math.round(box.x1 * size) - left);
  const height = Math.max(1, Math.round(box.y1 * size) - top);
  return [left, top, width, height];
}

/**
 * One image (uint8 HWC, size x size x channels) cropped or masked to the chest box; returns a new
 * array of the same length. "crop" resizes the box back to size x size (bilinear, as sharp's
 * `kernel: "linear"` does). Plain TypeScript: the browser page runs it too. Async (errors reject)
 * for the callers that await it.
 */
// deno-lint-ignore require-await
export async function applyChestRegion(
  pixels: Uint8Array,
  size: number,
  channels: 1 | 3,
  mode: ChestRegionMode,
  box: ChestBox = CHEST_BOX,
): Promise<Uint8Array> {
  const bytes = size * size * channels;
  if (pixels.length !== bytes) {
    throw new RangeError(
      `applyChestRegion: image has ${pixels.length} bytes, expected ${size}x${size}x${channels}`,
    );
  }
  if (!CHEST_REGION_MODES.includes(mode)) {
    throw new RangeError(
      `applyChestRegion: mode "${mode}" unknown; use ${CHEST_REGION_MODES.join(", ")}`,
    );
  }
  if (mode === "none") return pixels.slice();
  const [left, top, width, height] = boxPixels(size, box);
  if (mode === "mask") {
    const out = new Uint8Array(bytes);
    for (let y = top; y < top + height; y++) {
      const start = (y * size + left) * channels;
      out.set(pixels.subarray(start, start + width * channels), start);
    }
    return out;
  }
  // Bilinear enlargement written to be byte-identical to sharp's (tests/eval/chest_region_test),
  // in plain TypeScript so that the browser page crops exactly like the command line.
  const inside = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    const start = ((top + y) * size + left) * channels;
    inside.set(pixels.subarray(start, start + width * channels), y * width * channels);
  }
  return enlargeBilinear(inside, width, height, channels, size, size);
}

/**
 * Applies `applyChestRegion` in place to a block of N images (N * size * size * channels bytes),
 * as returned by `loadImages`. This is the hook for the training engine and for prediction: apply
 * it right after loading, with the mode stored in the run's preprocessing.
 */
export async function applyChestRegionBatch(
  data: Uint8Array,
  size: number,
  channels: 1 | 3,
  mode: ChestRegionMode,
  box: ChestBox = CHEST_BOX,
): Promise<void> {
  const bytes = size * size * channels;
  if (data.length % bytes !== 0) {
    throw new RangeError(
      `applyChestRegionBatch: ${data.length} bytes is not a whole number of ${size}x${size}x${channels} images`,
    );
  }
  if (mode === "none") return;
  for (let off = 0; off < data.length; off += bytes) {
    const img = data.subarray(off, off + bytes);
    data.set(await applyChestRegion(img, size, channels, mode, box), off);
  }
}
