/** In-memory synthetic training data for the trainer's tests (no files, no decoding). */
import type { SplitRecord } from "../../lib/data/types.ts";
import type { TrainData } from "../../lib/train/batch.ts";
import { makeSplitData } from "../../lib/train/data.ts";
import { makeRng } from "../../lib/util/rng.ts";

/** `n` images per split of size x size x channels; class 1 has a bright square. */
export function tinyData(n: number, size: number, channels: 1 | 3, seed = 1): TrainData {
  const rng = makeRng(seed);
  const bytes = size * size * channels;
  const recs: SplitRecord[] = [];
  const pixels = new Uint8Array(2 * n * bytes);
  for (let i = 0; i < 2 * n; i++) {
    const y = (i % 2) as 0 | 1;
    for (let p = 0; p < bytes; p++) pixels[i * bytes + p] = 60 + Math.floor(rng() * 60);
    if (y === 1) {
      const q = Math.floor(size / 4);
      for (let r = q; r < 2 * q; r++) {
        for (let c = q; c < 2 * q; c++) {
          for (let ch = 0; ch < channels; ch++) {
            pixels[i * bytes + (r * size + c) * channels + ch] = 230;
          }
        }
      }
    }
    recs.push({
      path: `/mem/${i}.png`,
      relPath: `${i < n ? "train" : "val"}/${y}/${i}.png`,
      label: y ? "PNEUMONIA" : "NORMAL",
      y,
      subtype: y ? (i % 4 === 1 ? "bacteria" : "virus") : "normal",
      patientId: `p${i}`,
      parsed: true,
      officialSplit: null,
      split: i < n ? "train" : "val",
    });
  }
  const slotOf = new Map(recs.map((r, i) => [r.path, i]));
  return {
    train: makeSplitData(recs.slice(0, n), 2, pixels, slotOf, bytes),
    val: makeSplitData(recs.slice(n), 2, pixels, slotOf, bytes),
    classWeights: null,
    manifestPath: null,
    warnings: [],
  };
}
