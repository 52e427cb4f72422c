/**
 * What a training or scoring step needs from the data, without loading any: the in-memory split
 * types, filling a batch from them, and turning model outputs into P(pneumonia). Kept apart from
 * `data.ts` (which loads images with sharp) so that the data-parallel workers, which import the
 * training step, never load sharp's native library: sharp warns that a worker thread loading it
 * can crash the process at exit on glibc Linux (seen here as "double free or corruption" after a
 * passing test run).
 * @module
 */
import type { SplitRecord } from "../data/types.ts";
import { normalisePixels } from "../models/preprocessing.ts";
import type { Preprocessing } from "../models/types.ts";
import type { Rng } from "../util/rng.ts";
import { augmentInto, type AugmentOptions } from "./augment.ts";

/** Images read one at a time from disk (a packed cache, lib/images/packed.ts). */
export interface PixelSource {
  /** Image `slot`'s uint8 HWC bytes. */
  image(slot: number): Uint8Array;
}

/**
 * Records of one split with their pixels: record i's image is slot `slot[i]` of `pixels`, or,
 * for a dataset too large for memory, of `source` (then `pixels` is empty). Read images with
 * {@link imageAt}.
 */
export interface SplitData {
  records: SplitRecord[];
  /** Class index per record (2 classes: y; 3 classes: normal 0, bacteria 1, virus 2). */
  labels: Int32Array;
  /** uint8 HWC images, one slot per distinct file (empty when `source` is set). */
  pixels: Uint8Array;
  /** The images on disk, when they are not in `pixels`. */
  source?: PixelSource;
  slot: Int32Array;
  /** Bytes per image (size * size * channels). */
  imageBytes: number;
}

/** What the trainer consumes. */
export interface TrainData {
  train: SplitData;
  val: SplitData;
  /** Per-class loss weights when balance = "weights", else null. */
  classWeights: number[] | null;
  manifestPath: string | null;
  warnings: string[];
}

/** The uint8 image in `slot` of a split (in memory: a view; on disk: read now). */
export function imageAt(split: SplitData, slot: number): Uint8Array {
  const b = split.imageBytes;
  return split.source ? split.source.image(slot) : split.pixels.subarray(slot * b, (slot + 1) * b);
}

/**
 * Fills `x` (batch*size*size*channels floats) with the images at `idx` of `split`, normalised
 * and, when `rng` is given, augmented (with `aug`, default the standard ranges). Returns the
 * number of images written.
 */
export function fillBatch(
  split: SplitData,
  idx: ArrayLike<number>,
  pre: Preprocessing,
  x: Float32Array,
  rng: Rng | null,
  aug?: AugmentOptions,
): number {
  const b = split.imageBytes;
  for (let k = 0; k < idx.length; k++) {
    const img = imageAt(split, split.slot[idx[k]]);
    if (rng) augmentInto(img, pre, rng, x, k * b, aug);
    else normalisePixels(pre, img, x, k * b);
  }
  return idx.length;
}

/** P(pneumonia) per image from model outputs: the sigmoid output, or 1 - P(normal) of three. */
export function toBinary(out: ArrayLike<number>, classes: 2 | 3): number[] {
  if (classes === 2) return Array.from(out);
  const n = out.length / 3;
  return Array.from({ length: n }, (_, i) => 1 - out[i * 3]);
}
