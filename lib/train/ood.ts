/**
 * Fits a run's out-of-distribution reference (`ood.json`, see `scope.ts` and `ood.ts`) on the
 * command line: penultimate features of training images (a seeded sample of at most 2,000) for
 * the Gaussian, validation images for the threshold (95% pass) and for the ranges of the image
 * statistics. Training calls {@link storeOod} at the end of every run; `deno task ood` makes the
 * file for an existing run.
 *
 * @example
 * ```ts
 * import { readOod, storeOod } from "./ood.ts";
 * await storeOod(runDir, model, data.train, data.val, pre, { data: cfg.data });
 * const ood = await readOod(runDir); // null when the run has none
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";
import { join } from "node:path";
import { normalisePixels } from "../models/preprocessing.ts";
import type { Preprocessing } from "../models/types.ts";
import { imageAt, type SplitData } from "./batch.ts";
import { readJson, writeJsonAtomic } from "../util/atomic.ts";
import { makeRng, shuffle } from "../util/rng.ts";
import { flattenLayers, penultimateWith } from "../models/features.ts";
import { fitOod, OOD_SCHEMA } from "../metrics/ood.ts";
import { imageStats, OOD_FILE, type OodFile, statRanges } from "../images/scope.ts";

export { OOD_FILE };

/** Training images sampled for the feature Gaussian. */
export const OOD_MAX_TRAIN = 2000;
/** Validation images the reference is fitted on, at most (seeded sample above that). */
export const OOD_MAX_VAL = 5000;

/** Penultimate features of `n` uint8 images (packed, size x size x channels each), [n * d]. */
export async function featuresOf(
  model: tfl.LayersModel,
  pre: Preprocessing,
  pixels: Uint8Array,
  n: number,
  batch = 64,
): Promise<{ features: Float32Array; dim: number }> {
  const bytes = pre.size * pre.size * pre.channels;
  const parts: Float32Array[] = [];
  let dim = 0;
  for (let start = 0; start < n; start += batch) {
    const k = Math.min(batch, n - start);
    const x = normalisePixels(pre, pixels.subarray(start * bytes, (start + k) * bytes));
    const f = tf.tidy(() => {
      const t = tf.tensor4d(x, [k, pre.size, pre.size, pre.channels]);
      return penultimateWith(tf, model, t);
    });
    dim = f.shape[1];
    parts.push(await f.data() as Float32Array); // not dataSync: that fails on WebGPU under Deno
    f.dispose();
  }
  const features = new Float32Array(n * dim);
  parts.forEach((p, i) => features.set(p, i * batch * dim));
  return { features, dim };
}

/** The distinct images of a split (one per slot), at most `max`, seeded; packed uint8. */
function splitPixels(
  split: SplitData,
  max: number,
  seed: number,
): { pixels: Uint8Array; n: number } {
  const slots = [...new Set(Array.from(split.slot).filter((s) => s >= 0))];
  const chosen = slots.length > max ? shuffle(slots, makeRng(seed)).slice(0, max) : slots;
  const b = split.imageBytes;
  const pixels = new Uint8Array(chosen.length * b);
  chosen.forEach((s, i) => pixels.set(imageAt(split, s), i * b));
  return { pixels, n: chosen.length };
}

/**
 * Fits the reference on in-memory training and validation images (as the trainer holds them,
 * chest region already applied) and returns the `ood.json` content.
 */
export async function fitRunOod(
  model: tfl.LayersModel,
  train: SplitData,
  val: SplitData,
  pre: Preprocessing,
  fittedOn: Record<string, unknown> = {},
  opts: { maxTrain?: number; seed?: number } = {},
): Promise<OodFile> {
  const tr = splitPixels(train, opts.maxTrain ?? OOD_MAX_TRAIN, opts.seed ?? 0);
  // At most OOD_MAX_VAL validation images (all of them below that), so a large val stays small.
  const va = splitPixels(val, OOD_MAX_VAL, 0);
  const ft = await featuresOf(model, pre, tr.pixels, tr.n);
  const fv = await featuresOf(model, pre, va.pixels, va.n);
  const fit = fitOod(ft.features, tr.n, fv.features, va.n, { dim: ft.dim });
  // Seven significant digits keep the file small; distances move by about 1e-7 relative.
  const r7 = (x: number) => Number(x.toPrecision(7));
  const features = { ...fit, mean: fit.mean.map(r7), precision: fit.precision.map(r7) };
  const b = val.imageBytes;
  const stats = Array.from(
    { length: va.n },
    (_, i) => imageStats(null, va.pixels.subarray(i * b, (i + 1) * b), pre.size, pre.channels),
  );
  const layers = flattenLayers(model);
  return {
    schema: OOD_SCHEMA,
    layer: layers[layers.length - 1].name,
    features,
    stats: statRanges(stats),
    fittedOn: { ...fittedOn, trainImages: tr.n, valImages: va.n },
    created: new Date().toISOString(),
  };
}

/** Fits and writes `<dir>/ood.json`; returns it. */
export async function storeOod(
  dir: string,
  model: tfl.LayersModel,
  train: SplitData,
  val: SplitData,
  pre: Preprocessing,
  fittedOn: Record<string, unknown> = {},
  opts: { maxTrain?: number; seed?: number } = {},
): Promise<OodFile> {
  const ood = await fitRunOod(model, train, val, pre, fittedOn, opts);
  await writeJsonAtomic(join(dir, OOD_FILE), ood);
  return ood;
}

/** Reads `<dir>/ood.json`, or null when the run has none; a file of another schema is an error. */
export async function readOod(dir: string): Promise<OodFile | null> {
  const path = join(dir, OOD_FILE);
  try {
    await Deno.stat(path);
  } catch {
    return null;
  }
  const ood = await readJson<OodFile>(path);
  if (ood.schema !== OOD_SCHEMA) {
    throw new Error(
      `${path}: schema "${ood.schema}", expected "${OOD_SCHEMA}"; refit with deno task ood`,
    );
  }
  return ood;
}
