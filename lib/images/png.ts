/**
 * Encode uint8 HWC pixels (1 or 3 channels) as PNG bytes or a `data:image/png;base64,...` URL,
 * with sharp, for reports and notebooks that embed images.
 *
 * @example
 * ```ts
 * import { toPngDataUrl } from "./png.ts";
 * const url = await toPngDataUrl(pixels, 150, 150, 1); // <img src=url>
 * ```
 * @module
 */
import sharp from "sharp";
import { Buffer } from "node:buffer";

/** Encodes `pixels` (height x width x channels, uint8) as PNG bytes. */
export async function encodePng(
  pixels: Uint8Array,
  width: number,
  height: number,
  channels: 1 | 3,
): Promise<Uint8Array> {
  if (channels !== 1 && channels !== 3) {
    throw new RangeError(`channels must be 1 or 3, got ${channels}`);
  }
  if (pixels.length !== width * height * channels) {
    throw new RangeError(
      `pixels has ${pixels.length} values, expected ${width}x${height}x${channels} = ${
        width * height * channels
      }`,
    );
  }
  let img = sharp(pixels, { raw: { width, height, channels } });
  // Without this, sharp writes 1-channel input as 3-channel sRGB.
  if (channels === 1) img = img.toColourspace("b-w");
  const buf = await img.png().toBuffer();
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
}

/** Encodes `pixels` as a PNG `data:` URL, for `<img src>` in HTML or Markdown. */
export async function toPngDataUrl(
  pixels: Uint8Array,
  width: number,
  height: number,
  channels: 1 | 3,
): Promise<string> {
  const png = await encodePng(pixels, width, height, channels);
  return `data:image/png;base64,${
    Buffer.from(png.buffer, png.byteOffset, png.length).toString("base64")
  }`;
}
