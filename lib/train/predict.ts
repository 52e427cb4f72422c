/**
 * Batched prediction on uint8 images already in memory.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";
import { checkInputShape } from "../models/preprocessing.ts";
import type { Preprocessing } from "../models/types.ts";
import { makeRng, type Rng } from "../util/rng.ts";
import { fillBatch, type SplitData } from "./data.ts";

/** P(pneumonia) from model outputs: the sigmoid itself, or 1 - P(normal) for 3 classes. */
export function toBinary(out: ArrayLike<number>, classes: 2 | 3): number[] {
  if (classes === 2) return Array.from(out);
  const n = out.length / 3;
  return Array.from({ length: n }, (_, i) => 1 - out[i * 3]);
}

/** Checks that `model` takes what `pre` describes, with a message that says what it expected. */
export function checkModelInput(model: tfl.LayersModel, pre: Preprocessing): void {
  const shape = model.inputs[0].shape.map((d) => d ?? -1);
  checkInputShape(pre, [1, ...shape.slice(1)], `model input (${model.name})`);
}

/**
 * P(pneumonia) for every record of `split` (inference mode, batches of `batch`). With
 * `perturbSeed`, every image first gets the training augmentation drawn from that seed (a stress
 * test of robustness to small acquisition changes). Reads the outputs asynchronously: a GPU
 * backend (webgpu) cannot read synchronously under Deno.
 */
export async function predictSplit(
  model: tfl.LayersModel,
  split: SplitData,
  pre: Preprocessing,
  classes: 2 | 3,
  batch = 64,
  perturbSeed?: number,
): Promise<number[]> {
  const rng: Rng | null = perturbSeed === undefined ? null : makeRng(perturbSeed);
  const n = split.records.length;
  const out: number[] = [];
  const bytes = split.imageBytes;
  for (let start = 0; start < n; start += batch) {
    const idx = Array.from({ length: Math.min(batch, n - start) }, (_, k) => start + k);
    const x = new Float32Array(idx.length * bytes);
    fillBatch(split, idx, pre, x, rng);
    const t = tf.tidy(() =>
      model.predict(tf.tensor4d(x, [idx.length, pre.size, pre.size, pre.channels])) as tf.Tensor
    );
    const y = await t.data();
    t.dispose();
    out.push(...toBinary(y, classes));
  }
  return out;
}
