/**
 * Odd image files for tests: every format variant the loader must read, and every kind of bad
 * input it must reject. Written with sharp into a folder the test owns (usually a temp dir).
 *
 * @example
 * ```ts
 * import { writeImageVariants, writeBadImages } from "./fixtures.ts";
 * const dir = await Deno.makeTempDir();
 * const good = await writeImageVariants(dir); // { "gray16.png": { path, ... }, ... }
 * const bad = await writeBadImages(dir);      // { "truncated.jpeg": path, ... }
 * ```
 * @module
 */
import sharp from "sharp";
import type { Sharp } from "sharp";
import { join } from "node:path";

/** A written variant: its path and the pixel facts a test can check. */
export interface ImageVariant {
  /** Absolute path of the file. */
  path: string;
  /** Stored width and height (before EXIF orientation). */
  width: number;
  height: number;
  /** Channels as stored (1, 2, 3 or 4). */
  channels: number;
  /** Bits per sample as stored. */
  bitDepth: 8 | 16;
  /** The uniform 8-bit gray level of the picture (for uniform variants), else null. */
  gray: number | null;
  /** How far decoded values may stray from `gray` (JPEG and CMYK round trips are lossy). */
  tolerance: number;
}

/** Gray level used by the uniform variants; survives every conversion (within JPEG error). */
export const VARIANT_GRAY = 100;

/** Builds a uniform raw image of the given channels and depth. */
function uniform(
  width: number,
  height: number,
  channels: 1 | 2 | 3 | 4,
  depth: 8 | 16,
  values: number[],
): Sharp {
  const n = width * height * channels;
  const data = depth === 8 ? new Uint8Array(n) : new Uint16Array(n);
  for (let i = 0; i < n; i++) data[i] = values[i % channels];
  return sharp(data, {
    raw: { width, height, channels, ...(depth === 16 ? { depth: "ushort" as const } : {}) },
  });
}

/**
 * Writes the readable variants into `dir` (24 x 16 pixels unless noted) and returns them by
 * file name:
 * - `gray8.png`, `gray16.png`, `graya.png` (gray+alpha, opaque), `rgb8.png`, `rgb16.png`,
 *   `rgba.png` (opaque), `rgba_transparent.png` (alpha 0: flattens to black), `palette.png`,
 *   all uniform gray {@link VARIANT_GRAY};
 * - `gray.jpeg`, `rgb.jpeg`, `cmyk.jpeg` (CMYK colour space), uniform gray;
 * - `exif6.jpeg`: stored 32 wide x 16 high, black with a white 8 x 8 block at the stored top-left,
 *   EXIF orientation 6 (display = rotated 90 degrees clockwise: 16 wide x 32 high, block at the
 *   top-right).
 */
export async function writeImageVariants(dir: string): Promise<Record<string, ImageVariant>> {
  await Deno.mkdir(dir, { recursive: true });
  const g = VARIANT_GRAY;
  const g16 = g * 257;
  const W = 24, H = 16;
  const out: Record<string, ImageVariant> = {};
  const put = async (
    name: string,
    img: Sharp,
    facts: Omit<ImageVariant, "path" | "width" | "height">,
    width = W,
    height = H,
  ) => {
    const path = join(dir, name);
    await img.toFile(path);
    out[name] = { path, width, height, ...facts };
  };
  await put("gray8.png", uniform(W, H, 1, 8, [g]).toColourspace("b-w").png(), {
    channels: 1,
    bitDepth: 8,
    gray: g,
    tolerance: 0,
  });
  await put("gray16.png", uniform(W, H, 1, 16, [g16]).toColourspace("grey16").png(), {
    channels: 1,
    bitDepth: 16,
    gray: g,
    tolerance: 0,
  });
  await put("graya.png", uniform(W, H, 2, 8, [g, 255]).toColourspace("b-w").png(), {
    channels: 2,
    bitDepth: 8,
    gray: g,
    tolerance: 0,
  });
  await put("rgb8.png", uniform(W, H, 3, 8, [g, g, g]).png(), {
    channels: 3,
    bitDepth: 8,
    gray: g,
    tolerance: 0,
  });
  await put("rgb16.png", uniform(W, H, 3, 16, [g16, g16, g16]).toColourspace("rgb16").png(), {
    channels: 3,
    bitDepth: 16,
    gray: g,
    tolerance: 0,
  });
  await put("rgba.png", uniform(W, H, 4, 8, [g, g, g, 255]).png(), {
    channels: 4,
    bitDepth: 8,
    gray: g,
    tolerance: 0,
  });
  await put("rgba_transparent.png", uniform(W, H, 4, 8, [g, g, g, 0]).png(), {
    channels: 4,
    bitDepth: 8,
    gray: 0,
    tolerance: 0,
  });
  await put(
    "palette.png",
    uniform(W, H, 3, 8, [g, g, g]).png({ palette: true, colours: 4, dither: 0 }),
    {
      channels: 3,
      bitDepth: 8,
      gray: g,
      tolerance: 0,
    },
  );
  await put("gray.jpeg", uniform(W, H, 1, 8, [g]).toColourspace("b-w").jpeg({ quality: 95 }), {
    channels: 1,
    bitDepth: 8,
    gray: g,
    tolerance: 3,
  });
  await put("rgb.jpeg", uniform(W, H, 3, 8, [g, g, g]).jpeg({ quality: 95 }), {
    channels: 3,
    bitDepth: 8,
    gray: g,
    tolerance: 3,
  });
  await put(
    "cmyk.jpeg",
    uniform(W, H, 3, 8, [g, g, g]).toColourspace("cmyk").jpeg({ quality: 95 }),
    {
      // sRGB -> CMYK -> sRGB through ICC profiles is not exact: 100 comes back near 91.
      channels: 4,
      bitDepth: 8,
      gray: g,
      tolerance: 15,
    },
  );
  // EXIF orientation 6: stored 32x16 with a white block at the stored top-left.
  const EW = 32, EH = 16;
  const px = new Uint8Array(EW * EH);
  for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) px[y * EW + x] = 255;
  await put(
    "exif6.jpeg",
    sharp(px, { raw: { width: EW, height: EH, channels: 1 } }).toColourspace("b-w")
      .jpeg({ quality: 95 }).withMetadata({ orientation: 6 }),
    { channels: 3, bitDepth: 8, gray: null, tolerance: 3 },
    EW,
    EH,
  );
  return out;
}

/**
 * Writes the unreadable files into `dir` and returns their paths by name:
 * `empty.jpeg` (0 bytes), `truncated.jpeg` (a valid 64 x 64 JPEG cut to 60% of its bytes),
 * `corrupt.jpeg` (a JPEG header followed by random bytes), `garbage.png` (random bytes),
 * `text.jpeg` (a text file renamed), `missing.jpeg` (a path that does not exist).
 */
export async function writeBadImages(dir: string): Promise<Record<string, string>> {
  await Deno.mkdir(dir, { recursive: true });
  const paths: Record<string, string> = {};
  const p = (name: string) => (paths[name] = join(dir, name));
  await Deno.writeFile(p("empty.jpeg"), new Uint8Array(0));
  // A noisy picture, so the entropy-coded data is long and the cut lands inside it.
  const noise = new Uint8Array(64 * 64);
  let s = 12345;
  for (let i = 0; i < noise.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    noise[i] = s >>> 24;
  }
  const jpeg = new Uint8Array(
    await sharp(noise, { raw: { width: 64, height: 64, channels: 1 } }).toColourspace("b-w")
      .jpeg({ quality: 90 }).toBuffer(),
  );
  await Deno.writeFile(p("truncated.jpeg"), jpeg.subarray(0, Math.floor(jpeg.length * 0.6)));
  const corrupt = new Uint8Array(600);
  corrupt.set([0xff, 0xd8, 0xff, 0xe0]);
  for (let i = 4; i < corrupt.length; i++) corrupt[i] = (i * 7919) & 0xff;
  await Deno.writeFile(p("corrupt.jpeg"), corrupt);
  const garbage = new Uint8Array(300);
  for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 31 + 7) & 0xff;
  garbage[0] = 0x13;
  await Deno.writeFile(p("garbage.png"), garbage);
  await Deno.writeTextFile(p("text.jpeg"), "This is not an image, just a text file renamed.\n");
  p("missing.jpeg");
  return paths;
}
