/**
 * The one scoring path: a model's outputs and P(pneumonia) for uint8 images, in inference mode,
 * batch by batch. Training scores its validation split with {@link predictSplit}; evaluation,
 * prediction and the chapters score image files with a run through {@link scoreRecords} (every
 * output, the pixels the model saw, failures named) or {@link predictRecords} (P(pneumonia) only).
 * Both read images at the run's stored preprocessing, chest region and intensity normalisation
 * included, and can apply the
 * seeded training augmentation first (`perturbSeed`, a robustness stress test).
 *
 * @example
 * ```ts
 * import { loadRun } from "./run.ts";
 * import { scoreRecords } from "./score.ts";
 * const run = await loadRun("outputs/reference");
 * const { prob, outputs, failures } = await scoreRecords(run, ["a.png", "b.png"]);
 * run.model.dispose();
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";
import type { ChestRegionMode } from "../images/chest_region.ts";
import type { IntensityMode } from "../images/intensity.ts";
import { checkInputShape, normalisePixels } from "../models/preprocessing.ts";
import type { Preprocessing } from "../models/types.ts";
import { makeRng } from "../util/rng.ts";
import { augmentInto } from "./augment.ts";
import { fillBatch, type SplitData, toBinary } from "./batch.ts";
import { loadRunImages } from "./data.ts";

/** Checks that `model` takes what `pre` describes, with a message that says what it expected. */
export function checkModelInput(model: tfl.LayersModel, pre: Preprocessing): void {
  const shape = model.inputs[0].shape.map((d) => d ?? -1);
  checkInputShape(pre, [1, ...shape.slice(1)], `model input (${model.name})`);
}

/** A batch of images (uint8, HWC) as the model's normalised input tensor. */
export function inputTensor(pre: Preprocessing, pixels: Uint8Array, n: number): tf.Tensor4D {
  const x = normalisePixels(pre, pixels);
  return tf.tensor4d(x, [n, pre.size, pre.size, pre.channels]);
}

/** Outputs per image of a model (the last dimension of its output). */
function unitsOf(model: tfl.LayersModel): number {
  const shape = model.outputs[0].shape;
  return (shape[shape.length - 1] as number | null) ?? 1;
}

/**
 * The batch loop every score goes through: `n` images, each written as model input into `x` at
 * slot k by `fill(indices, x)`, predicted in batches of `batch`; returns `n * units` outputs.
 * Reads them asynchronously: a GPU backend (webgpu) cannot read synchronously under Deno.
 */
async function scoreBatches(
  model: tfl.LayersModel,
  pre: Preprocessing,
  n: number,
  fill: (idx: number[], x: Float32Array) => void,
  batch: number,
): Promise<Float32Array> {
  const bytes = pre.size * pre.size * pre.channels;
  const units = unitsOf(model);
  const out = new Float32Array(n * units);
  for (let start = 0; start < n; start += batch) {
    const idx = Array.from({ length: Math.min(batch, n - start) }, (_, k) => start + k);
    const x = new Float32Array(idx.length * bytes);
    fill(idx, x);
    const y = tf.tidy(() =>
      model.predict(tf.tensor4d(x, [idx.length, pre.size, pre.size, pre.channels])) as tf.Tensor
    );
    out.set(await y.data(), start * units);
    y.dispose();
  }
  return out;
}

/**
 * P(pneumonia) for every record of `split` (inference mode, batches of `batch`). With
 * `perturbSeed`, every image first gets the training augmentation drawn from that seed.
 */
export async function predictSplit(
  model: tfl.LayersModel,
  split: SplitData,
  pre: Preprocessing,
  classes: 2 | 3,
  batch = 64,
  perturbSeed?: number,
): Promise<number[]> {
  const rng = perturbSeed === undefined ? null : makeRng(perturbSeed);
  const out = await scoreBatches(
    model,
    pre,
    split.records.length,
    (idx, x) => fillBatch(split, idx, pre, x, rng),
    batch,
  );
  return toBinary(out, classes);
}

/** What scoring needs of a run (`LoadedRun` of `run.ts` fits). */
export interface ScorableRun {
  model: tfl.LayersModel;
  /** With the run's chest-region mode and intensity normalisation (absent = "none"). */
  preprocessing: Preprocessing & { chestRegion?: ChestRegionMode; intensity?: IntensityMode };
  /** An ensemble's members: scored one by one (each at its own preprocessing), then averaged. */
  members?: ScorableRun[];
}

/** Scores of N images. */
export interface Scores {
  /** P(pneumonia): the sigmoid, or 1 - P(normal) for three classes; NaN where loading failed. */
  prob: number[];
  /** Raw model outputs, N x units (1 for sigmoid, 3 for normal/bacteria/virus); 0 where failed. */
  outputs: Float32Array;
  units: number;
  /** uint8 HWC pixels as the model saw them before any perturbation (N x size x size x channels). */
  pixels: Uint8Array;
  ok: boolean[];
  failures: { path: string; reason: string }[];
}

/** Options of {@link scoreRecords}. */
export interface ScoreOptions {
  /** Image cache folder (default outputs/cache/images). */
  cacheDir?: string;
  /** Images per forward pass (default 64). */
  batch?: number;
  /** Crop or mask to the chest region after loading; default: the run's own mode. */
  chestRegion?: ChestRegionMode;
  /** Apply the seeded training augmentation to every loaded image first (in input order). */
  perturbSeed?: number;
}

/**
 * Scores image files (paths or records with `path`) with a run: images that fail to load are
 * named in `failures`, marked in `ok` and get NaN as P(pneumonia); the others are scored.
 */
export async function scoreRecords(
  run: ScorableRun,
  records: readonly (string | { path: string })[],
  opts: ScoreOptions = {},
): Promise<Scores> {
  const paths = records.map((r) => (typeof r === "string" ? r : r.path));
  if (run.members?.length) return await scoreEnsemble(run.members, paths, opts);
  const pre = run.preprocessing;
  const loaded = await loadRunImages(paths, {
    size: pre.size,
    channels: pre.channels,
    chestRegion: opts.chestRegion ?? pre.chestRegion ?? "none",
    intensity: pre.intensity ?? "none",
    cacheDir: opts.cacheDir,
  });
  const bytes = pre.size * pre.size * pre.channels;
  const units = unitsOf(run.model);
  const good = paths.map((_, i) => i).filter((i) => loaded.ok[i]);
  const rng = opts.perturbSeed === undefined ? null : makeRng(opts.perturbSeed);
  const scored = await scoreBatches(run.model, pre, good.length, (idx, x) => {
    idx.forEach((j, k) => {
      const img = loaded.data.subarray(good[j] * bytes, (good[j] + 1) * bytes);
      if (rng) augmentInto(img, pre, rng, x, k * bytes);
      else normalisePixels(pre, img, x, k * bytes);
    });
  }, opts.batch ?? 64);
  const outputs = new Float32Array(paths.length * units);
  good.forEach((i, k) => outputs.set(scored.subarray(k * units, (k + 1) * units), i * units));
  const probs = toBinary(scored, units === 3 ? 3 : 2);
  const prob = paths.map(() => NaN);
  good.forEach((i, k) => (prob[i] = probs[k]));
  return { prob, outputs, units, pixels: loaded.data, ok: loaded.ok, failures: loaded.failures };
}

/**
 * An ensemble's scores: the members' outputs and P(pneumonia) averaged (the same perturbation
 * seed for every member), an image failed when any member failed it; `pixels` are the first
 * member's.
 */
async function scoreEnsemble(
  members: ScorableRun[],
  paths: string[],
  opts: ScoreOptions,
): Promise<Scores> {
  const each: Scores[] = [];
  for (const m of members) each.push(await scoreRecords(m, paths, opts));
  const units = each[0].units;
  if (each.some((s) => s.units !== units)) {
    throw new Error("ensemble members disagree on their outputs per image (classes)");
  }
  const ok = paths.map((_, i) => each.every((s) => s.ok[i]));
  const outputs = new Float32Array(paths.length * units);
  for (const s of each) s.outputs.forEach((v, j) => (outputs[j] += v / each.length));
  const prob = paths.map((_, i) =>
    ok[i] ? each.reduce((a, s) => a + s.prob[i], 0) / each.length : NaN
  );
  ok.forEach((good, i) => !good && outputs.fill(0, i * units, (i + 1) * units));
  const seen = new Set<string>();
  const failures = each.flatMap((s) => s.failures).filter((f) =>
    seen.has(f.path) ? false : (seen.add(f.path), true)
  );
  return { prob, outputs, units, pixels: each[0].pixels, ok, failures };
}

/** Result of {@link predictRecords}: P(pneumonia) per input, NaN where the image failed. */
export interface Predictions {
  prob: number[];
  failures: { path: string; reason: string }[];
}

/** {@link scoreRecords} reduced to P(pneumonia) and the failures (the predict CLI's output). */
export async function predictRecords(
  run: ScorableRun,
  records: readonly (string | { path: string })[],
  opts: ScoreOptions = {},
): Promise<Predictions> {
  const { prob, failures } = await scoreRecords(run, records, opts);
  return { prob, failures };
}
