/**
 * From decoded pixels to the model's uint8 input, in plain TypeScript so that the command line
 * (pixels decoded by sharp) and the browser page (pixels decoded by the browser) run the very
 * same steps after decoding:
 *
 * 1. alpha flattened onto black (libvips `flatten`: `trunc(v * a / 255)`), then dropped;
 * 2. resized to `size x size` ignoring the aspect ratio, nearest neighbour as sharp does it
 *    ({@link resizeNearest});
 * 3. converted to 1 channel with libvips' sRGB -> B_W ({@link srgbToGray}) or, for a
 *    3-channel model, gray replicated to R = G = B.
 *
 * Resizing before the colour conversion is what sharp does; with the nearest kernel the two
 * orders give the same bytes.
 *
 * @example
 * ```ts
 * import { toModelInput } from "./prepare.ts";
 * const px = toModelInput({ data: rgba, width: 224, height: 224, channels: 4 }, 128, 1);
 * ```
 * @module
 */
import { resizeNearest, srgbToGray } from "./resize.ts";

/** Decoded 8-bit pixels, HWC: 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA. */
export interface RawImage {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
}

/** Checks that `raw.data` holds width x height x channels bytes. */
export function checkRaw(raw: RawImage, what = "image"): void {
  const { width, height, channels } = raw;
  if (
    !(Number.isInteger(width) && width > 0 && Number.isInteger(height) && height > 0) ||
    ![1, 2, 3, 4].includes(channels) || raw.data.length !== width * height * channels
  ) {
    throw new RangeError(
      `${what}: ${raw.data.length} bytes for ${width}x${height}x${channels}; expected ` +
        "positive sizes, 1-4 channels and width*height*channels bytes",
    );
  }
}

/** The image with alpha flattened onto black and removed (a copy; unchanged without alpha). */
export function flattenAlpha(raw: RawImage): RawImage {
  checkRaw(raw);
  if (raw.channels === 1 || raw.channels === 3) return raw;
  const colour = raw.channels - 1 as 1 | 3;
  const n = raw.width * raw.height;
  const out = new Uint8Array(n * colour);
  for (let i = 0, p = 0, q = 0; i < n; i++, p += raw.channels) {
    const a = raw.data[p + colour];
    for (let c = 0; c < colour; c++) out[q++] = Math.trunc((raw.data[p + c] * a) / 255);
  }
  return { data: out, width: raw.width, height: raw.height, channels: colour };
}

/**
 * The model's uint8 input (size x size x channels, HWC) from decoded pixels (see the module doc
 * for the steps). Writes into `out` when given (size * size * channels bytes, e.g. the image's
 * slot of a packed batch, saving a copy) and returns it.
 */
export function toModelInput(
  raw: RawImage,
  size: number,
  channels: 1 | 3,
  out: Uint8Array = new Uint8Array(size * size * channels),
): Uint8Array {
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError(`size must be a positive integer, got ${size}`);
  }
  if (channels !== 1 && channels !== 3) {
    throw new RangeError(`channels must be 1 or 3, got ${channels}`);
  }
  const n = size * size;
  if (out.length !== n * channels) {
    throw new RangeError(
      `toModelInput: output of ${out.length} bytes, expected ${size}x${size}x${channels}`,
    );
  }
  const flat = flattenAlpha(raw);
  if (flat.channels === channels) {
    return resizeNearest(flat.data, flat.width, flat.height, channels, size, size, out);
  }
  const small = resizeNearest(flat.data, flat.width, flat.height, flat.channels, size, size);
  if (channels === 1) return srgbToGray(small, n, 3, out);
  for (let i = 0, j = 0; i < n; i++, j += 3) out[j] = out[j + 1] = out[j + 2] = small[i];
  return out;
}
