/**
 * Scoring for the evaluation chapters: every model output (all classes), P(pneumonia), and the
 * uint8 pixels the model saw (Grad-CAM overlays need them), read at the run's stored
 * preprocessing through the image cache.
 *
 * The training engine's `predictRecords` returns P(pneumonia) only; the three-class chapter needs
 * the whole softmax and the heatmap chapter needs the pixels, hence this small variant.
 *
 * @example
 * ```ts
 * import { loadRun } from "../train/run.ts";
 * import { scoreRecords } from "./predict.ts";
 * const run = await loadRun("outputs/runs/compact");
 * const { prob, outputs } = await scoreRecords(run, records);
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";
import { normalisePixels } from "../models/preprocessing.ts";
import type { Preprocessing } from "../models/types.ts";
import { loadRunImages } from "../train/data.ts";
import type { ChestRegionMode } from "../images/chest_region.ts";
import type { IntensityMode } from "../images/intensity.ts";

/** What `scoreRecords` needs of a loaded run (`lib/train/run.ts` LoadedRun fits). */
export interface ScorableRun {
  model: tfl.LayersModel;
  /** With the run's chest-region mode and intensity normalisation (absent = "none"). */
  preprocessing: Preprocessing & { chestRegion?: ChestRegionMode; intensity?: IntensityMode };
}

/** Scores of N images. */
export interface Scores {
  /** P(pneumonia): the sigmoid, or 1 - P(normal) for three classes; NaN where loading failed. */
  prob: number[];
  /** Raw model outputs, N x units (1 for sigmoid, 3 for normal/bacteria/virus). */
  outputs: Float32Array;
  units: number;
  /** uint8 HWC pixels as the model saw them (N x size x size x channels). */
  pixels: Uint8Array;
  ok: boolean[];
  failures: { path: string; reason: string }[];
}

/** A batch of images (uint8, HWC) as the model's normalised input tensor. */
export function inputTensor(pre: Preprocessing, pixels: Uint8Array, n: number): tf.Tensor4D {
  const x = normalisePixels(pre, pixels);
  return tf.tensor4d(x, [n, pre.size, pre.size, pre.channels]);
}

/** Scores image files (paths or records with `path`) with a run, in batches of `batch`. */
export async function scoreRecords(
  run: ScorableRun,
  records: readonly (string | { path: string })[],
  opts: {
    cacheDir?: string;
    batch?: number;
    /** Crop or mask to the chest region after loading; default: the run's own mode. */
    chestRegion?: ChestRegionMode;
  } = {},
): Promise<Scores> {
  const paths = records.map((r) => (typeof r === "string" ? r : r.path));
  const pre = run.preprocessing;
  const loaded = await loadRunImages(paths, {
    size: pre.size,
    channels: pre.channels,
    chestRegion: opts.chestRegion ?? pre.chestRegion ?? "none",
    intensity: pre.intensity ?? "none",
    cacheDir: opts.cacheDir,
  });
  const bytes = pre.size * pre.size * pre.channels;
  const units = (run.model.outputs[0].shape[1] as number) ?? 1;
  const outputs = new Float32Array(paths.length * units);
  const batch = opts.batch ?? 64;
  for (let start = 0; start < paths.length; start += batch) {
    const n = Math.min(batch, paths.length - start);
    const px = loaded.data.subarray(start * bytes, (start + n) * bytes);
    const y = tf.tidy(() => (run.model.predict(inputTensor(pre, px, n)) as tf.Tensor).dataSync());
    outputs.set(y, start * units);
  }
  const prob = paths.map((_, i) =>
    !loaded.ok[i] ? NaN : units === 1 ? outputs[i] : 1 - outputs[i * units]
  );
  return { prob, outputs, units, pixels: loaded.data, ok: loaded.ok, failures: loaded.failures };
}
