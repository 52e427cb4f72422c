/**
 * The one scoring path: a model's outputs and P(pneumonia) for uint8 images, in inference mode,
 * batch by batch. Training scores its validation split with {@link predictSplit}; evaluation,
 * prediction and the chapters score image files with a run through {@link scoreRecords} (every
 * output, the pixels the model saw, failures named) or {@link predictRecords} (P(pneumonia) only,
 * in bounded memory: images are read a chunk at a time and let go once scored, so `evaluate
 * --split all` on 100,000 images holds two chunks of pixels, not 100,000 images). Both read
 * images at the run's stored preprocessing, chest region and intensity normalisation included,
 * and can apply the seeded training augmentation first (`perturbSeed`, a robustness stress test).
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
 * One forward pass in inference mode: `m` images of model input in `x` (the first `m` of them)
 * to their `m * units` outputs. Every score goes through this. Reads asynchronously: a GPU
 * backend (webgpu) cannot read synchronously under Deno.
 */
async function forward(
  model: tfl.LayersModel,
  pre: Preprocessing,
  x: Float32Array,
  m: number,
): Promise<Float32Array> {
  const bytes = pre.size * pre.size * pre.channels;
  const y = tf.tidy(() =>
    model.predict(
      tf.tensor4d(x.subarray(0, m * bytes), [m, pre.size, pre.size, pre.channels]),
    ) as tf.Tensor
  );
  const out = await y.data() as Float32Array;
  y.dispose();
  return out;
}

/**
 * The batch loop of in-memory images: `n` images, each written as model input into `x` at slot
 * k by `fill(indices, x)`, predicted in batches of `batch`; returns `n * units` outputs.
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
    out.set(await forward(model, pre, x, idx.length), start * units);
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
  /**
   * Decoded pixels per chunk while scoring (default {@link SCORE_CHUNK_BYTES}): images are read
   * this many bytes' worth at a time, scored, and let go; the next chunk is read meanwhile, so
   * at most two chunks are held.
   */
  chunkBytes?: number;
  /** Called with each chunk of decoded images, before it is scored (its first index, its size). */
  onChunk?: (start: number, count: number) => void;
}

/**
 * Decoded pixels in one chunk of {@link predictRecords}: 64 MiB, 4,096 images at 128 x 128 x 1
 * or 445 at 224 x 224 x 3 (two chunks at most are held: one scored, the next being read), so
 * scoring 100,000 images takes no more memory than scoring 10,000.
 */
export const SCORE_CHUNK_BYTES = 64 * 2 ** 20;

/** Scores without the pixels (what {@link predictRecords} keeps). */
type StreamedScores = Omit<Scores, "pixels">;

/**
 * The one file-scoring loop: reads `paths` a chunk at a time through the run's image path
 * (`loadRunImages`: cache, chest region, intensity), hands each chunk to `keep` (which may copy
 * its pixels) and scores its readable images in batches of `batch`. The batches are the same as
 * if every image had been read first: readable images in input order, `batch` at a time, across
 * chunk boundaries (so chunking never changes a score).
 */
async function scoreChunks(
  run: ScorableRun,
  paths: string[],
  opts: ScoreOptions,
  keep?: (start: number, pixels: Uint8Array) => void,
): Promise<StreamedScores> {
  const pre = run.preprocessing;
  const bytes = pre.size * pre.size * pre.channels;
  const units = unitsOf(run.model);
  const batch = opts.batch ?? 64;
  const chunk = Math.max(1, Math.floor((opts.chunkBytes ?? SCORE_CHUNK_BYTES) / bytes));
  const rng = opts.perturbSeed === undefined ? null : makeRng(opts.perturbSeed);
  const n = paths.length;
  const outputs = new Float32Array(n * units);
  const prob = paths.map(() => NaN);
  const ok = new Array<boolean>(n).fill(false);
  const failures: Scores["failures"] = [];
  let x = new Float32Array(batch * bytes);
  let slots: number[] = [];
  const flush = async () => {
    if (!slots.length) return;
    const out = await forward(run.model, pre, x, slots.length);
    const probs = toBinary(out, units === 3 ? 3 : 2);
    slots.forEach((i, k) => {
      outputs.set(out.subarray(k * units, (k + 1) * units), i * units);
      prob[i] = probs[k];
    });
    slots = [];
    x = new Float32Array(batch * bytes);
  };
  const load = (start: number) =>
    loadRunImages(paths.slice(start, start + chunk), {
      size: pre.size,
      channels: pre.channels,
      chestRegion: opts.chestRegion ?? pre.chestRegion ?? "none",
      intensity: pre.intensity ?? "none",
      cacheDir: opts.cacheDir,
    });
  // The next chunk is read (sharp decodes on its own threads) while this one is scored.
  let next = n > 0 ? load(0) : null;
  try {
    for (let start = 0; start < n; start += chunk) {
      const loaded = await next!;
      next = start + chunk < n ? load(start + chunk) : null;
      opts.onChunk?.(start, loaded.ok.length);
      keep?.(start, loaded.data);
      failures.push(...loaded.failures);
      for (let k = 0; k < loaded.ok.length; k++) {
        if (!loaded.ok[k]) continue;
        ok[start + k] = true;
        const img = loaded.data.subarray(k * bytes, (k + 1) * bytes);
        if (rng) augmentInto(img, pre, rng, x, slots.length * bytes);
        else normalisePixels(pre, img, x, slots.length * bytes);
        slots.push(start + k);
        if (slots.length === batch) await flush();
      }
    }
  } finally {
    // Scoring failed midway: the chunk being read is let go quietly.
    next?.catch(() => {});
  }
  await flush();
  return { prob, outputs, units, ok, failures };
}

/**
 * Scores image files (paths or records with `path`) with a run: images that fail to load are
 * named in `failures`, marked in `ok` and get NaN as P(pneumonia); the others are scored. Keeps
 * every image's pixels (`pixels`), for callers that look at them; {@link predictRecords} scores
 * any number of images in bounded memory.
 */
export async function scoreRecords(
  run: ScorableRun,
  records: readonly (string | { path: string })[],
  opts: ScoreOptions = {},
): Promise<Scores> {
  const paths = records.map((r) => (typeof r === "string" ? r : r.path));
  if (run.members?.length) {
    return await scoreEnsemble(run.members, (m) => scoreRecords(m, paths, opts), paths.length);
  }
  const pre = run.preprocessing;
  const bytes = pre.size * pre.size * pre.channels;
  const pixels = new Uint8Array(paths.length * bytes);
  const s = await scoreChunks(run, paths, opts, (start, px) => pixels.set(px, start * bytes));
  return { ...s, pixels };
}

/**
 * An ensemble's scores from each member's (`score`, member by member): the outputs and
 * P(pneumonia) averaged (the same perturbation seed for every member), an image failed when any
 * member failed it; `pixels`, when kept, are the first member's.
 */
async function scoreEnsemble<S extends StreamedScores>(
  members: ScorableRun[],
  score: (m: ScorableRun) => Promise<S>,
  n: number,
): Promise<S> {
  const each: S[] = [];
  for (const m of members) each.push(await score(m));
  const units = each[0].units;
  if (each.some((s) => s.units !== units)) {
    throw new Error("ensemble members disagree on their outputs per image (classes)");
  }
  const ok = Array.from({ length: n }, (_, i) => each.every((s) => s.ok[i]));
  const outputs = new Float32Array(n * units);
  for (const s of each) s.outputs.forEach((v, j) => (outputs[j] += v / each.length));
  const prob = ok.map((good, i) =>
    good ? each.reduce((a, s) => a + s.prob[i], 0) / each.length : NaN
  );
  ok.forEach((good, i) => !good && outputs.fill(0, i * units, (i + 1) * units));
  const seen = new Set<string>();
  const failures = each.flatMap((s) => s.failures).filter((f) =>
    seen.has(f.path) ? false : (seen.add(f.path), true)
  );
  return { ...each[0], prob, outputs, units, ok, failures };
}

/** Result of {@link predictRecords}: P(pneumonia) per input, NaN where the image failed. */
export interface Predictions {
  prob: number[];
  failures: { path: string; reason: string }[];
}

/**
 * {@link scoreRecords} reduced to P(pneumonia) and the failures (evaluate's and predict's
 * output), in bounded memory: at most two chunks of `chunkBytes` of decoded pixels (default
 * {@link SCORE_CHUNK_BYTES}) are held at once, whatever the number of images; an ensemble's
 * members are scored one after the other, each the same way.
 */
export async function predictRecords(
  run: ScorableRun,
  records: readonly (string | { path: string })[],
  opts: ScoreOptions = {},
): Promise<Predictions> {
  const paths = records.map((r) => (typeof r === "string" ? r : r.path));
  const stream = (m: ScorableRun): Promise<StreamedScores> =>
    m.members?.length
      ? scoreEnsemble(m.members, stream, paths.length)
      : scoreChunks(m, paths, opts);
  const { prob, failures } = await stream(run);
  return { prob, failures };
}
