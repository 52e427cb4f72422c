/**
 * A saved run, rebuilt from what it saved: model, preprocessing, classes, threshold, config.
 * Evaluation and prediction read these and never re-derive them.
 * @module
 */
import type * as tfl from "@tensorflow/tfjs-layers";
import { join } from "node:path";
import type { SplitRecord } from "../data/types.ts";
import type { ChestRegionMode } from "../images/chest_region.ts";
import type { IntensityMode } from "../images/intensity.ts";
import { loadModel } from "../models/io.ts";
import type { Preprocessing } from "../models/types.ts";
import { readJson } from "../util/atomic.ts";
import type { TrainConfig } from "./config.ts";
import type { ThresholdRecord } from "./epoch_metrics.ts";
import { loadRunImages, makeSplitData } from "./data.ts";
import { checkModelInput, predictSplit } from "./predict.ts";

/** The project's committed reference model. */
export const REFERENCE_RUN = "outputs/reference";

/**
 * A run's preprocessing.json: the pixel scaling plus the chest-region mode and the intensity
 * normalisation applied right after loading (runs saved before the fields existed mean "none").
 */
export type RunPreprocessing = Preprocessing & {
  chestRegion?: ChestRegionMode;
  intensity?: IntensityMode;
};

/** A run folder loaded for evaluation or prediction. */
export interface LoadedRun {
  dir: string;
  model: tfl.LayersModel;
  /** As saved, with `chestRegion` and `intensity` always filled in. */
  preprocessing: Preprocessing & { chestRegion: ChestRegionMode; intensity: IntensityMode };
  classes: string[];
  /** The stored decision threshold on P(pneumonia). */
  threshold: number;
  thresholdRecord: ThresholdRecord;
  config: TrainConfig;
}

/**
 * The chest-region mode a run folder was trained with: preprocessing.json's `chestRegion`, else
 * config.json's, else `chest_region.json` (written by chapter 13 before the engine had the
 * option), else "none" (older runs).
 */
export async function readRunChestRegion(dir: string): Promise<ChestRegionMode> {
  const pre = await readJson<RunPreprocessing>(join(dir, "preprocessing.json"));
  if (pre.chestRegion) return pre.chestRegion;
  const cfg = await readJson<TrainConfig>(join(dir, "config.json")).catch(() => null);
  if (cfg?.chestRegion) return cfg.chestRegion;
  const legacy = await readJson<{ mode: ChestRegionMode }>(join(dir, "chest_region.json"))
    .catch(() => null);
  return legacy?.mode ?? "none";
}

/** Loads a run folder; a missing file is an error that names it. */
export async function loadRun(dir: string): Promise<LoadedRun> {
  const saved = await readJson<RunPreprocessing>(join(dir, "preprocessing.json"));
  const classes = await readJson<string[]>(join(dir, "classes.json"));
  const thresholdRecord = await readJson<ThresholdRecord>(join(dir, "threshold.json"));
  const config = await readJson<TrainConfig>(join(dir, "config.json"));
  const model = await loadModel(join(dir, "model"));
  const preprocessing = {
    ...saved,
    chestRegion: await readRunChestRegion(dir),
    intensity: saved.intensity ?? "none",
  };
  checkModelInput(model, preprocessing);
  return {
    dir,
    model,
    preprocessing,
    classes,
    threshold: thresholdRecord.threshold,
    thresholdRecord,
    config,
  };
}

/** Result of {@link predictRecords}: P(pneumonia) per input, NaN where the image failed. */
export interface Predictions {
  prob: number[];
  failures: { path: string; reason: string }[];
}

/**
 * P(pneumonia) for image files (paths or records), read at the run's preprocessing (chest region
 * and intensity normalisation included) through the image cache (`cacheDir`, default outputs/cache/images). `perturbSeed`: apply the seeded
 * training augmentation to every image first (a robustness stress test).
 */
export async function predictRecords(
  run: LoadedRun,
  records: readonly (string | { path: string })[],
  opts: { cacheDir?: string; perturbSeed?: number } = {},
): Promise<Predictions> {
  const paths = records.map((r) => (typeof r === "string" ? r : r.path));
  const { size, channels } = run.preprocessing;
  const loaded = await loadRunImages(paths, {
    size,
    channels,
    chestRegion: run.preprocessing.chestRegion,
    intensity: run.preprocessing.intensity,
    cacheDir: opts.cacheDir,
  });
  const slotOf = new Map<string, number>();
  paths.forEach((p, i) => loaded.ok[i] && slotOf.set(p, i));
  const recs = paths.map((p) => ({ path: p, relPath: p, y: 0 }) as unknown as SplitRecord);
  const split = makeSplitData(recs, 2, loaded.data, slotOf, size * size * channels);
  const probs = predictSplit(
    run.model,
    split,
    run.preprocessing,
    run.config.classes ?? 2,
    64,
    opts.perturbSeed,
  );
  const byPath = new Map(split.records.map((r, i) => [r.path, probs[i]]));
  return { prob: paths.map((p) => byPath.get(p) ?? NaN), failures: loaded.failures };
}
