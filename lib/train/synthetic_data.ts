/**
 * Training data made in memory from the synthetic chest pictures of `lib/data/synthetic.ts`
 * (no files, no decoding): for runs of the training engine where the real data is absent or
 * beside the point, such as backend checks and timings on a fresh machine.
 *
 * @example
 * ```ts
 * import { syntheticTrainData } from "./synthetic_data.ts";
 * const data = syntheticTrainData({ trainPerClass: 8, valPerClass: 4, size: 32, channels: 1 });
 * console.log(data.train.records.length, data.val.records.length); // 16 8
 * ```
 * @module
 */
import type { SplitName, SplitRecord, Subtype } from "../data/types.ts";
import { renderChest } from "../data/synthetic.ts";
import { makeRng } from "../util/rng.ts";
import type { TrainData } from "./batch.ts";
import { makeSplitData } from "./data.ts";

/** Options of {@link syntheticTrainData}. */
export interface SyntheticTrainOptions {
  /** Training images per class. */
  trainPerClass: number;
  /** Validation images per class. */
  valPerClass: number;
  /** Width and height (>= 8). */
  size: number;
  /** 1 (grayscale) or 3 (the grayscale value in every channel, as the X-rays are). */
  channels: 1 | 3;
  /** Seed of the pictures; default 1. */
  seed?: number;
}

/**
 * A seeded {@link TrainData}: NORMAL and PNEUMONIA (bacteria and virus alternating) pictures,
 * one patient per image, classes interleaved. Same options, same pixels.
 */
export function syntheticTrainData(opts: SyntheticTrainOptions): TrainData {
  const { size, channels } = opts;
  if (!Number.isInteger(size) || size < 8) {
    throw new RangeError(`syntheticTrainData: size must be an integer >= 8, got ${size}`);
  }
  for (const k of ["trainPerClass", "valPerClass"] as const) {
    if (!Number.isInteger(opts[k]) || opts[k] < 1) {
      throw new RangeError(`syntheticTrainData: ${k} must be an integer >= 1, got ${opts[k]}`);
    }
  }
  const rng = makeRng(opts.seed ?? 1);
  const bytes = size * size * channels;
  const plan: { split: SplitName; y: 0 | 1 }[] = [];
  for (const [split, n] of [["train", opts.trainPerClass], ["val", opts.valPerClass]] as const) {
    for (let i = 0; i < 2 * n; i++) plan.push({ split, y: (i % 2) as 0 | 1 });
  }
  const pixels = new Uint8Array(plan.length * bytes);
  const records: SplitRecord[] = plan.map(({ split, y }, i) => {
    const subtype: Subtype = y === 0 ? "normal" : i % 4 === 1 ? "bacteria" : "virus";
    const gray = renderChest(rng, size, subtype);
    const at = i * bytes;
    if (channels === 1) pixels.set(gray, at);
    else for (let p = 0; p < gray.length; p++) pixels.fill(gray[p], at + 3 * p, at + 3 * p + 3);
    const label = y ? "PNEUMONIA" : "NORMAL";
    return {
      path: `/synthetic/${split}/${label}/${i}.png`,
      relPath: `${split}/${label}/${i}.png`,
      label,
      y,
      subtype,
      patientId: `synthetic${i}`,
      parsed: true,
      officialSplit: null,
      split,
    };
  });
  const slotOf = new Map(records.map((r, i) => [r.path, i]));
  return {
    train: makeSplitData(records.filter((r) => r.split === "train"), 2, pixels, slotOf, bytes),
    val: makeSplitData(records.filter((r) => r.split === "val"), 2, pixels, slotOf, bytes),
    classWeights: null,
    manifestPath: null,
    warnings: [],
  };
}
