/**
 * Decode one image file (JPEG or PNG; 8 or 16 bit; gray, gray+alpha, RGB, RGBA, palette, CMYK;
 * any EXIF orientation) into a fixed-size uint8 HWC array, with sharp (libvips).
 *
 * Preprocessing, in order:
 * 1. EXIF orientation is applied (the image is rotated/flipped upright).
 * 2. Alpha is flattened onto **black** (transparent = no signal, as on an X-ray film), then dropped.
 * 3. Colour is converted to sRGB (CMYK and palette included) and to 1 channel (luma, as
 *    PIL `convert("L")`) or 3 channels (gray is replicated to R=G=B).
 * 4. The image is resized to `size x size` ignoring the aspect ratio (fit "fill"), as Keras
 *    `target_size` does; the default kernel is `nearest`, Keras `load_img`'s default.
 * 5. Sample depth becomes 8 bit (16-bit inputs are scaled, 65535 -> 255).
 *
 * @example
 * ```ts
 * import { loadImage } from "./load.ts";
 * const pixels = await loadImage("x.jpeg", { size: 150, channels: 3 }); // 150*150*3 bytes
 * ```
 * @module
 */
import sharp from "sharp";
import type { Metadata, OutputInfo } from "sharp";

/** An image that could not be read, with the file and what was expected. */
export class ImageError extends Error {
  /** The file that failed. */
  readonly path: string;
  /** Why it failed (without the path). */
  readonly reason: string;
  constructor(path: string, reason: string) {
    super(`${path}: ${reason}`);
    this.name = "ImageError";
    this.path = path;
    this.reason = reason;
  }
}

/** Resampling kernels accepted by {@link loadImage} (sharp's names). */
export type ResizeKernel = "nearest" | "linear" | "cubic" | "mitchell" | "lanczos2" | "lanczos3";

/** Options of {@link loadImage} and {@link decodeImage}. */
export interface LoadOptions {
  /** Output width and height in pixels. */
  size: number;
  /** 1 = grayscale, 3 = RGB. */
  channels: 1 | 3;
  /** Resampling kernel; default `nearest` (Keras `load_img` default interpolation). */
  kernel?: ResizeKernel;
}

/** What {@link probeImage} reports about a file. */
export interface ProbeResult {
  /** Width after EXIF orientation. */
  width: number;
  /** Height after EXIF orientation. */
  height: number;
  /** Channels as stored (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA or CMYK). */
  channels: number;
  /** Format as sharp names it ("jpeg", "png", ...). */
  format: string;
  /** File size in bytes. */
  bytes: number;
}

/** Default resize kernel (Keras parity). */
export const DEFAULT_KERNEL: ResizeKernel = "nearest";

/** Formats we accept; everything else is rejected with an error naming the file. */
const ACCEPTED_FORMATS = new Set(["jpeg", "png"]);
const EXPECTED = "expected a JPEG or PNG image";

/**
 * sharp's `failOn` level: `error` makes truncated and corrupt pixel data an error (libjpeg would
 * otherwise pad a truncated JPEG with gray and only warn), while harmless warnings pass.
 */
const FAIL_ON = "error" as const;

/** Describes the first bytes of a file that is not an image, to help the reader. */
function describeMagic(bytes: Uint8Array): string {
  const head = bytes.subarray(0, 8);
  const printable = Array.from(head).every((b) =>
    b === 9 || b === 10 || b === 13 || (b >= 32 && b < 127)
  );
  if (printable) {
    return `it looks like text (starts with ${JSON.stringify(new TextDecoder().decode(head))})`;
  }
  const hex = Array.from(head, (b) => b.toString(16).padStart(2, "0")).join(" ");
  return `its first bytes are ${hex}, not a JPEG (ff d8 ff) or PNG (89 50 4e 47) signature`;
}

/** The sniffed format from magic bytes, or null. */
function sniff(bytes: Uint8Array): "jpeg" | "png" | null {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) {
    return "jpeg";
  }
  if (
    bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e &&
    bytes[3] === 0x47
  ) return "png";
  return null;
}

/** Reads a file, turning "missing" and "empty" into ImageErrors. */
export async function readImageBytes(path: string): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new ImageError(path, `file not found; ${EXPECTED}`);
    }
    if (err instanceof Deno.errors.IsADirectory) {
      throw new ImageError(path, `is a folder; ${EXPECTED}`);
    }
    throw new ImageError(path, `cannot read file (${(err as Error).message}); ${EXPECTED}`);
  }
  checkBytes(path, bytes);
  return bytes;
}

/** Throws an ImageError when the bytes are empty or carry no JPEG/PNG signature. */
function checkBytes(path: string, bytes: Uint8Array): void {
  if (bytes.length === 0) throw new ImageError(path, `file is empty (0 bytes); ${EXPECTED}`);
  if (sniff(bytes) === null) {
    throw new ImageError(path, `not an image: ${describeMagic(bytes)}; ${EXPECTED}`);
  }
}

/** Turns a sharp/libvips error message into a short reason. */
function sharpReason(err: unknown): string {
  const lines = ((err as Error)?.message ?? String(err)).split("\n").map((l) => l.trim());
  const msg = [...new Set(lines.filter((l) => l))].join("; ");
  if (/premature end|truncat|unexpected end|Read error|end of (JPEG|file)/i.test(msg)) {
    return `truncated or incomplete image data (${msg}); ${EXPECTED}`;
  }
  return `cannot decode (${msg}); ${EXPECTED}`;
}

/**
 * Decodes image bytes already in memory (see {@link loadImage} for the preprocessing).
 * `path` is only used in error messages. Throws {@link ImageError}.
 */
export async function decodeImage(
  bytes: Uint8Array,
  path: string,
  opts: LoadOptions,
): Promise<Uint8Array> {
  const { size, channels } = opts;
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError(`size must be a positive integer, got ${size}`);
  }
  if (channels !== 1 && channels !== 3) {
    throw new RangeError(`channels must be 1 or 3, got ${channels}`);
  }
  checkBytes(path, bytes);
  let out: { data: Buffer; info: OutputInfo };
  try {
    let img = sharp(bytes, { failOn: FAIL_ON, autoOrient: true })
      // Flatten alpha onto black; a no-op without alpha.
      .flatten({ background: { r: 0, g: 0, b: 0 } });
    img = channels === 1 ? img.toColourspace("b-w") : img.toColourspace("srgb");
    out = await img
      .resize(size, size, { fit: "fill", kernel: opts.kernel ?? DEFAULT_KERNEL })
      .removeAlpha()
      .raw({ depth: "uchar" })
      .toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw new ImageError(path, sharpReason(err));
  }
  const { data, info } = out;
  const expected = size * size * channels;
  if (
    info.width !== size || info.height !== size ||
    data.length !== info.width * info.height * info.channels
  ) {
    throw new ImageError(
      path,
      `decoder returned ${info.width}x${info.height}x${info.channels} (${data.length} bytes), expected ${size}x${size}x${channels}`,
    );
  }
  if (info.channels === channels) {
    return new Uint8Array(data.buffer, data.byteOffset, data.length);
  }
  // libvips keeps a single band for gray sources even when asked for sRGB: replicate it.
  if (info.channels === 1 && channels === 3) {
    const rgb = new Uint8Array(expected);
    for (let i = 0, j = 0; i < data.length; i++, j += 3) {
      rgb[j] = rgb[j + 1] = rgb[j + 2] = data[i];
    }
    return rgb;
  }
  throw new ImageError(path, `decoder returned ${info.channels} channels, expected ${channels}`);
}

/**
 * Loads an image file as uint8 HWC pixels of length `size * size * channels`.
 * Throws {@link ImageError} naming the file for a missing, empty, non-image, corrupt or truncated
 * file.
 */
export async function loadImage(path: string, opts: LoadOptions): Promise<Uint8Array> {
  const bytes = await readImageBytes(path);
  return decodeImage(bytes, path, opts);
}

/**
 * Reads an image's header (size after EXIF orientation, channels, format, file size).
 *
 * With `verify` (default true) the pixel data is also decoded, at reduced scale where the format
 * allows (JPEG shrink-on-load), so that truncated or corrupt files throw here too; pass
 * `{ verify: false }` for a header-only probe. Throws {@link ImageError}.
 */
export async function probeImage(
  path: string,
  opts: { verify?: boolean } = {},
): Promise<ProbeResult> {
  const bytes = await readImageBytes(path);
  let meta: Metadata;
  try {
    const img = sharp(bytes, { failOn: FAIL_ON });
    meta = await img.metadata();
    if (opts.verify ?? true) {
      // A tiny output lets libjpeg decode at 1/8 scale; all entropy-coded data is still read.
      await img.resize(8, 8, { fit: "fill", kernel: "nearest" }).raw().toBuffer();
    }
  } catch (err) {
    throw new ImageError(path, sharpReason(err));
  }
  const format = meta.format ?? "unknown";
  if (!ACCEPTED_FORMATS.has(format)) {
    throw new ImageError(path, `format is ${format}; ${EXPECTED}`);
  }
  const width = meta.autoOrient?.width ?? meta.width;
  const height = meta.autoOrient?.height ?? meta.height;
  if (!width || !height) throw new ImageError(path, `no image size in header; ${EXPECTED}`);
  return { width, height, channels: meta.channels ?? 0, format, bytes: bytes.length };
}
