/**
 * Turn slices of the packed uint8 image array (from `loadImages`) into float32 batches, copying
 * only the images asked for, never the whole dataset.
 *
 * @example
 * ```ts
 * import { toFloatBatch } from "./tensor.ts";
 * const px = 150 * 150 * 3;
 * const batch = toFloatBatch(data, [4, 0, 9], px); // 3 * px floats in [0, 1]
 * // tf.tensor4d(batch, [3, 150, 150, 3])
 * ```
 * @module
 */

/** Checks that every index addresses a whole image inside `data`. */
function checkIndices(data: Uint8Array, indices: readonly number[], pixelsPerImage: number): void {
  if (!Number.isInteger(pixelsPerImage) || pixelsPerImage <= 0) {
    throw new RangeError(`pixelsPerImage must be a positive integer, got ${pixelsPerImage}`);
  }
  if (data.length % pixelsPerImage !== 0) {
    throw new RangeError(
      `data length ${data.length} is not a multiple of pixelsPerImage ${pixelsPerImage}`,
    );
  }
  const n = data.length / pixelsPerImage;
  for (const i of indices) {
    if (!Number.isInteger(i) || i < 0 || i >= n) {
      throw new RangeError(`image index ${i} out of range: data holds ${n} images`);
    }
  }
}

/**
 * Gathers images `indices` (in that order) from `data` into one float32 array, each value times
 * `scale` (default 1/255, giving [0, 1]) plus `offset` (default 0).
 */
export function toFloatBatch(
  data: Uint8Array,
  indices: readonly number[],
  pixelsPerImage: number,
  scale = 1 / 255,
  offset = 0,
): Float32Array {
  checkIndices(data, indices, pixelsPerImage);
  const out = new Float32Array(indices.length * pixelsPerImage);
  // A 256-entry lookup table: one load per pixel instead of a multiply-add.
  const lut = new Float32Array(256);
  for (let v = 0; v < 256; v++) lut[v] = v * scale + offset;
  for (let b = 0; b < indices.length; b++) {
    const src = indices[b] * pixelsPerImage;
    const dst = b * pixelsPerImage;
    for (let k = 0; k < pixelsPerImage; k++) out[dst + k] = lut[data[src + k]];
  }
  return out;
}

/** Copies images `indices` (in that order) out of `data`, still as uint8. */
export function gatherImages(
  data: Uint8Array,
  indices: readonly number[],
  pixelsPerImage: number,
): Uint8Array {
  checkIndices(data, indices, pixelsPerImage);
  const out = new Uint8Array(indices.length * pixelsPerImage);
  for (let b = 0; b < indices.length; b++) {
    const src = indices[b] * pixelsPerImage;
    out.set(data.subarray(src, src + pixelsPerImage), b * pixelsPerImage);
  }
  return out;
}

/** Expands 1-channel HWC pixels (any number of images) to 3 channels, R = G = B. */
export function grayToRgb<T extends Uint8Array | Float32Array>(gray: T): T {
  const out = new (gray.constructor as { new (n: number): T })(gray.length * 3);
  for (let i = 0, j = 0; i < gray.length; i++, j += 3) {
    out[j] = out[j + 1] = out[j + 2] = gray[i];
  }
  return out;
}

/** Collapses 3-channel HWC pixels to 1 channel by averaging R, G and B (rounded for uint8). */
export function rgbToGray<T extends Uint8Array | Float32Array>(rgb: T): T {
  if (rgb.length % 3 !== 0) throw new RangeError(`length ${rgb.length} is not a multiple of 3`);
  const out = new (rgb.constructor as { new (n: number): T })(rgb.length / 3);
  const round = rgb instanceof Uint8Array;
  for (let i = 0, j = 0; i < out.length; i++, j += 3) {
    const m = (rgb[j] + rgb[j + 1] + rgb[j + 2]) / 3;
    out[i] = round ? Math.round(m) : m;
  }
  return out;
}
