/**
 * The one reader of a run folder, rebuilt from what the run saved: {@link readRunRecord} reads
 * what a finished run records without loading the model (config, preprocessing, classes,
 * threshold, summary, per-epoch metrics, validation predictions); {@link loadRun} adds the model
 * (from a folder, or from a record already read). Chapters, CLIs and evaluation read runs here
 * and never re-derive what a run saved.
 *
 * @example
 * ```ts
 * import { disposeRun, loadRun, readRunRecord } from "./run.ts";
 * const record = await readRunRecord("outputs/reference"); // metadata only
 * const run = await loadRun(record); // the model, on demand
 * disposeRun(run);
 * ```
 * @module
 */
import type * as tfl from "@tensorflow/tfjs-layers";
import { basename, join, resolve } from "node:path";
import type { ChestRegionMode } from "../images/chest_region.ts";
import type { IntensityMode } from "../images/intensity.ts";
import { loadModel } from "../models/io.ts";
import type { Preprocessing } from "../models/types.ts";
import { readJson } from "../util/atomic.ts";
import type { TrainConfig } from "./config.ts";
import type { EpochMetrics, ThresholdRecord } from "./epoch_metrics.ts";
import type { EpochRow, RunSummary } from "./train.ts";
import { readCsv } from "../util/csv.ts";
import { checkModelInput } from "./score.ts";
import { ensembleMembers, readRunChestRegion, type RunPreprocessing } from "./run_files.ts";

export { readRunChestRegion, type RunPreprocessing };

/**
 * A run's preprocessing as loaded: the chest-region mode and the intensity normalisation always
 * filled in ("none" for runs saved before the fields existed).
 */
export type LoadedPreprocessing = Preprocessing & {
  chestRegion: ChestRegionMode;
  intensity: IntensityMode;
};

/** A run folder loaded for evaluation or prediction. */
export interface LoadedRun {
  dir: string;
  model: tfl.LayersModel;
  /** As saved, with `chestRegion` (see {@link readRunChestRegion}) and `intensity` filled in. */
  preprocessing: LoadedPreprocessing;
  classes: string[];
  /** The stored decision threshold on P(pneumonia). */
  threshold: number;
  thresholdRecord: ThresholdRecord;
  config: TrainConfig;
  /**
   * An ensemble folder's members (lib/train/ensemble.ts), each loaded as a run; absent for a
   * single run. Scoring averages them; `model` and `preprocessing` are the first member's (what
   * one-model views use: Grad-CAM, activations, out-of-scope features). Free with {@link disposeRun}.
   */
  members?: LoadedRun[];
}

/** What every run folder saves for inference: config, preprocessing, classes and threshold. */
interface RunBasics {
  dir: string;
  config: TrainConfig;
  preprocessing: LoadedPreprocessing;
  classes: string[];
  thresholdRecord: ThresholdRecord;
}

async function readRunBasics(dir: string): Promise<RunBasics> {
  const [saved, classes, thresholdRecord, config] = await Promise.all([
    readJson<RunPreprocessing>(join(dir, "preprocessing.json")),
    readJson<string[]>(join(dir, "classes.json")),
    readJson<ThresholdRecord>(join(dir, "threshold.json")),
    readJson<TrainConfig>(join(dir, "config.json")),
  ]);
  const preprocessing = {
    ...saved,
    chestRegion: await readRunChestRegion(dir),
    intensity: saved.intensity ?? "none",
  };
  return { dir, config, preprocessing, classes, thresholdRecord };
}

/**
 * Loads a run folder with its model (or the model of a record read by {@link readRunRecord},
 * without reading its files again); an ensemble folder loads every member. A missing file is an
 * error that names it. The caller frees the models with {@link disposeRun}.
 */
export async function loadRun(from: string | RunRecord): Promise<LoadedRun> {
  const basics = typeof from === "string"
    ? await readRunBasics(from)
    : { ...from, thresholdRecord: from.threshold };
  const memberDirs = await ensembleMembers(basics.dir);
  const members: LoadedRun[] = [];
  try {
    for (const m of memberDirs ?? []) members.push(await loadRun(m));
  } catch (err) {
    members.forEach(disposeRun);
    throw err;
  }
  let model: tfl.LayersModel;
  if (members.length) model = members[0].model;
  else {
    model = await loadModel(join(basics.dir, "model"));
    checkModelInput(model, basics.preprocessing);
  }
  return {
    dir: basics.dir,
    model,
    preprocessing: members.length ? members[0].preprocessing : basics.preprocessing,
    classes: basics.classes,
    threshold: basics.thresholdRecord.threshold,
    thresholdRecord: basics.thresholdRecord,
    config: basics.config,
    ...(members.length ? { members } : {}),
  };
}

/** Frees the models of a loaded run (every member's, for an ensemble). */
export function disposeRun(run: Pick<LoadedRun, "model" | "members">): void {
  if (run.members?.length) run.members.forEach(disposeRun);
  else run.model.dispose();
}

/** Everything a finished run folder records, read without loading the model. */
export interface RunRecord {
  /** Run name (the folder's name). */
  name: string;
  dir: string;
  config: TrainConfig;
  /** As saved, with `chestRegion` (see {@link readRunChestRegion}) and `intensity` filled in. */
  preprocessing: LoadedPreprocessing;
  classes: string[];
  summary: RunSummary;
  threshold: ThresholdRecord;
  /** Per-epoch metrics from metrics.csv. */
  history: EpochRow[];
  /** Validation labels and P(pneumonia) of the kept model (val_predictions.csv). */
  val: { y: number[]; prob: number[]; patient: string[]; relPath: string[] };
}

/** True when `dir` holds a finished run (summary.json written last by the engine). */
export async function isFinishedRun(dir: string): Promise<boolean> {
  try {
    return (await Deno.stat(join(dir, "summary.json"))).isFile;
  } catch {
    return false;
  }
}

/**
 * The config a run folder was trained with, its chest-region mode filled in as
 * {@link readRunChestRegion} finds it; null when the folder has no readable config.json.
 */
export async function readRunConfig(dir: string): Promise<TrainConfig | null> {
  const cfg = await readJson<TrainConfig>(join(dir, "config.json")).catch(() => null);
  if (cfg === null) return null;
  const chestRegion = await readRunChestRegion(dir).catch(() => cfg.chestRegion ?? "none");
  return { ...cfg, chestRegion };
}

/** A finished run's summary.json and config.json (the comparison table needs no more). */
export async function readRunSummary(
  dir: string,
): Promise<{ config: TrainConfig; summary: RunSummary }> {
  const [config, summary] = await Promise.all([
    readJson<TrainConfig>(join(dir, "config.json")),
    readJson<RunSummary>(join(dir, "summary.json")),
  ]);
  return { config, summary };
}

const KEYS = ["loss", "accuracy", "recall", "precision", "f1", "auc"] as const;

/** Reads a finished run folder without loading the model; a missing file is an error naming it. */
export async function readRunRecord(dir: string): Promise<RunRecord> {
  const [basics, { summary }] = await Promise.all([readRunBasics(dir), readRunSummary(dir)]);
  const num = (v: string) => (v === "" || v === "NaN" ? NaN : Number(v));
  const history = (await readCsv(join(dir, "metrics.csv"))).map((r) => ({
    epoch: num(r.epoch),
    train: Object.fromEntries(KEYS.map((k) => [k, num(r[k])])) as unknown as EpochMetrics,
    val: Object.fromEntries(KEYS.map((k) => [k, num(r[`val_${k}`])])) as unknown as EpochMetrics,
    lr: num(r.lr),
    timeS: num(r.time_s),
  }));
  const preds = await readCsv(join(dir, "val_predictions.csv"));
  return {
    name: basename(resolve(dir)),
    dir,
    config: basics.config,
    preprocessing: basics.preprocessing,
    classes: basics.classes,
    summary,
    threshold: basics.thresholdRecord,
    history,
    val: {
      y: preds.map((p) => Number(p.y)),
      prob: preds.map((p) => Number(p.prob)),
      patient: preds.map((p) => p.patient),
      relPath: preds.map((p) => p.relPath),
    },
  };
}

/** Scoring image files with a loaded run lives in `score.ts`; re-exported for existing callers. */
export { type Predictions, predictRecords } from "./score.ts";
