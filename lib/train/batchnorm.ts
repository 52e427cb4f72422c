/**
 * Batch-norm statistics re-estimated on clean images after training steps on augmented ones.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";
import type { Preprocessing } from "../models/types.ts";
import { makeRng, shuffle } from "../util/rng.ts";
import { fillBatch, type SplitData } from "./batch.ts";

/**
 * Re-estimates batch-norm moving statistics on clean (un-augmented) training images: up to
 * `batches` training-mode forward passes without a weight update. Without it the statistics
 * follow the augmented batches and the model is miscalibrated on clean images (measured on
 * cmp-compact: val loss 0.43 -> 0.16, accuracy at 0.5 0.83 -> 0.93, AUC 0.987 -> 0.990).
 */
export function recalibrateBatchNorm(
  model: tfl.LayersModel,
  split: SplitData,
  pre: Preprocessing,
  batchSize: number,
  seed: number,
  batches = 30,
): number {
  if (!model.layers.some((l) => l.getClassName() === "BatchNormalization")) return 0;
  const n = split.records.length;
  const order = shuffle(Array.from({ length: n }, (_, i) => i), makeRng(seed));
  let done = 0;
  for (let k = 0; k < batches && k * batchSize < n; k++, done++) {
    const idx = order.slice(k * batchSize, (k + 1) * batchSize);
    const x = new Float32Array(idx.length * split.imageBytes);
    fillBatch(split, idx, pre, x, null);
    tf.tidy(() => {
      model.apply(tf.tensor4d(x, [idx.length, pre.size, pre.size, pre.channels]), {
        training: true,
      });
    });
  }
  return done;
}
