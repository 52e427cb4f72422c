/**
 * Decode one image file (JPEG or PNG; 8 or 16 bit; gray, gray+alpha, RGB, RGBA, palette, CMYK;
 * any EXIF orientation; or DICOM, see `dicom.ts`) into a fixed-size uint8 HWC array.
 *
 * Preprocessing, in order:
 * 1. The file is decoded at full size: JPEG and PNG by sharp (libvips), EXIF orientation applied,
 *    colour converted to sRGB (CMYK and palette included), 16-bit samples scaled to 8 bit;
 *    DICOM rendered as a viewer shows it (`dicom.ts`).
 * 2. Alpha is flattened onto **black** (transparent = no signal, as on an X-ray film), then dropped.
 * 3. The image is resized to `size x size` ignoring the aspect ratio (fit "fill"), as Keras
 *    `target_size` does; the default kernel is `nearest`, Keras `load_img`'s default.
 * 4. Colour becomes 1 channel (libvips' sRGB -> B_W luminance) or 3 channels (gray replicated to
 *    R=G=B).
 *
 * Steps 2-4 (with the nearest kernel) are the plain TypeScript of `prepare.ts`, byte-identical to
 * sharp's own resize and conversion, so that the browser page, which decodes with the browser,
 * computes the same input. Decoding at full size (no JPEG shrink-on-load) is what makes that
 * possible for large JPEGs.
 *
 * @example
 * ```ts
 * import { loadImage } from "./load.ts";
 * const pixels = await loadImage("x.jpeg", { size: 150, channels: 3 }); // 150*150*3 bytes
 * ```
 * @module
 */
import sharp from "sharp";
import type { Metadata } from "sharp";
import { decodeDicom, DicomError, type DicomInfo, isDicom, readDicomInfo } from "./dicom.ts";
import { flattenAlpha, type RawImage, toModelInput } from "./prepare.ts";
import dicomParser from "dicom-parser";

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
const ACCEPTED_FORMATS = new Set(["jpeg", "png", "dicom"]);
const EXPECTED = "expected a JPEG or PNG image or a DICOM file";

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
  return `its first bytes are ${hex}, not a JPEG (ff d8 ff) or PNG (89 50 4e 47) signature, ` +
    'nor "DICM" at byte 128 (DICOM)';
}

/** The sniffed format from magic bytes, or null. */
function sniff(bytes: Uint8Array): "jpeg" | "png" | "dicom" | null {
  if (isDicom(bytes)) return "dicom";
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
    throw readError(path, err);
  }
  checkBytes(path, bytes);
  return bytes;
}

/**
 * {@link readImageBytes} without the trip to Deno's I/O thread pool: for loops over thousands of
 * small files (`cache.ts`), where that round trip cost more than the read.
 */
export function readImageBytesSync(path: string): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = Deno.readFileSync(path);
  } catch (err) {
    throw readError(path, err);
  }
  checkBytes(path, bytes);
  return bytes;
}

function readError(path: string, err: unknown): ImageError {
  if (err instanceof Deno.errors.NotFound) {
    return new ImageError(path, `file not found; ${EXPECTED}`);
  }
  if (err instanceof Deno.errors.IsADirectory) {
    return new ImageError(path, `is a folder; ${EXPECTED}`);
  }
  return new ImageError(path, `cannot read file (${(err as Error).message}); ${EXPECTED}`);
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

/** An image decoded at full size, before resizing (see {@link decodeRaw}). */
export interface DecodedImage {
  /** 8-bit pixels, 1-4 channels, upright, sRGB. */
  raw: RawImage;
  /** The DICOM tags the rendering used, for DICOM files; null otherwise. */
  dicom: DicomInfo | null;
}

/** sharp as the JPEG decoder of encapsulated DICOM frames. */
async function sharpJpeg(jpeg: Uint8Array): Promise<RawImage> {
  const { data, info } = await sharp(jpeg, { failOn: FAIL_ON }).raw({ depth: "uchar" })
    .toBuffer({ resolveWithObject: true });
  return {
    data: new Uint8Array(data.buffer, data.byteOffset, data.length),
    width: info.width,
    height: info.height,
    channels: info.channels as RawImage["channels"],
  };
}

/**
 * Decodes image bytes at full size: JPEG and PNG upright in sRGB, 8 bit, alpha kept; DICOM as
 * rendered by `dicom.ts`. `path` is only used in error messages. Throws {@link ImageError}.
 */
export async function decodeRaw(bytes: Uint8Array, path: string): Promise<DecodedImage> {
  checkBytes(path, bytes);
  if (isDicom(bytes)) {
    try {
      const { image, info } = await decodeDicom(bytes, sharpJpeg);
      return { raw: image, dicom: info };
    } catch (err) {
      if (err instanceof DicomError) throw new ImageError(path, `DICOM: ${err.reason}`);
      throw err;
    }
  }
  try {
    const { data, info } = await sharp(bytes, { failOn: FAIL_ON, autoOrient: true })
      .toColourspace("srgb")
      .raw({ depth: "uchar" })
      .toBuffer({ resolveWithObject: true });
    const raw: RawImage = {
      data: new Uint8Array(data.buffer, data.byteOffset, data.length),
      width: info.width,
      height: info.height,
      channels: info.channels as RawImage["channels"],
    };
    if (
      ![1, 2, 3, 4].includes(raw.channels) ||
      data.length !== info.width * info.height * info.channels
    ) {
      throw new Error(
        `decoder returned ${info.width}x${info.height}x${info.channels} (${data.length} bytes)`,
      );
    }
    return { raw, dicom: null };
  } catch (err) {
    throw new ImageError(path, sharpReason(err));
  }
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
  checkSize(opts);
  return await decodeImageInto(bytes, path, opts, new Uint8Array(opts.size ** 2 * opts.channels));
}

/** Throws a RangeError for a size that is not a positive integer or channels not 1 or 3. */
function checkSize({ size, channels }: LoadOptions): void {
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError(`size must be a positive integer, got ${size}`);
  }
  if (channels !== 1 && channels !== 3) {
    throw new RangeError(`channels must be 1 or 3, got ${channels}`);
  }
}

/**
 * {@link decodeImage} writing into `out` (size * size * channels bytes, e.g. the image's slot of
 * a packed batch: the loader of `cache.ts` saves an allocation and a copy per image); returns
 * `out`. `out` is only written when the decode succeeds.
 */
export async function decodeImageInto(
  bytes: Uint8Array,
  path: string,
  opts: LoadOptions,
  out: Uint8Array,
): Promise<Uint8Array> {
  const { size, channels } = opts;
  checkSize(opts);
  if (out.length !== size * size * channels) {
    throw new RangeError(`output of ${out.length} bytes, expected ${size}x${size}x${channels}`);
  }
  const { raw } = await decodeRaw(bytes, path);
  const kernel = opts.kernel ?? DEFAULT_KERNEL;
  if (kernel === "nearest") return toModelInput(raw, size, channels, out);
  // Other kernels: sharp resizes the flattened full-size pixels.
  const flat = flattenAlpha(raw);
  const buf = await sharp(flat.data, {
    raw: { width: flat.width, height: flat.height, channels: flat.channels as 1 | 3 },
  })
    .resize(size, size, { fit: "fill", kernel })
    .toColourspace(channels === 1 ? "b-w" : "srgb")
    .raw()
    .toBuffer();
  if (buf.length === size * size * channels) {
    out.set(buf);
    return out;
  }
  if (buf.length === size * size && channels === 3) {
    return toModelInput({ data: buf, width: size, height: size, channels: 1 }, size, 3, out);
  }
  throw new ImageError(
    path,
    `decoder returned ${buf.length} bytes, expected ${size}x${size}x${channels}`,
  );
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
  if (isDicom(bytes)) return await probeDicom(path, bytes, opts.verify ?? true);
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

/** probeImage for a DICOM file: header facts, and a full render when `verify`. */
async function probeDicom(path: string, bytes: Uint8Array, verify: boolean): Promise<ProbeResult> {
  let width: number, height: number, channels: number;
  try {
    if (verify) {
      const { image } = await decodeDicom(bytes, sharpJpeg);
      [width, height, channels] = [image.width, image.height, image.channels];
    } else {
      const info = readDicomInfo(dicomParser.parseDicom(bytes, { untilTag: "x7fe00010" }));
      width = info.columns;
      height = Math.max(1, Math.round(info.rows * info.pixelAspect));
      channels = info.photometric.startsWith("MONOCHROME") ? 1 : 3;
    }
  } catch (err) {
    const reason = err instanceof DicomError ? err.reason : (err as Error).message ?? String(err);
    throw new ImageError(path, `DICOM: ${reason}`);
  }
  return { width, height, channels, format: "dicom", bytes: bytes.length };
}
