/**
 * What the evaluation chapters (notebooks 11+) share: the run they evaluate (the report's
 * `compact` run, trained by chapter 6 or here when a chapter runs alone), the validation and test
 * parts of the manifest scored by it, and training of the extra runs these chapters need
 * (chest-region crop, three classes) with reuse of finished runs.
 * @module
 */

import { join } from "node:path";
import type { SplitRecord } from "../data/types.ts";
import { isFinishedRun, readRunRecord, type RunRecord, splits } from "./_context.ts";
import type { ReportSettings } from "../report/settings.ts";
import { chapterConfig, type RunSpec, trainOrReuse } from "./_training.ts";
import { sameConfig, type TrainConfig } from "../train/config.ts";
import { type LoadedRun, loadRun, readRunChestRegion } from "../train/run.ts";
import { train } from "../train/train.ts";
import { readJson } from "../util/atomic.ts";
import { scoreRecords } from "../eval/predict.ts";

/** The run the evaluation chapters study: the report's `compact` run (chapter 6). */
export const EVAL_RUN: RunSpec = { name: "compact", model: "compact" };

/** One split scored by a run; images that failed to load are left out. */
export interface ScoredSplit {
  records: SplitRecord[];
  y: number[];
  prob: number[];
  patient: string[];
  /** Raw outputs N x units (units 3 for the three-class model). */
  outputs: Float32Array;
  units: number;
  /** uint8 pixels as the model saw them, N x size x size x channels. */
  pixels: Uint8Array;
  /** Prevalence of pneumonia. */
  prevalence: number;
}

/** Scores records with a loaded run, applying the run's chest-region mode to the pixels. */
export async function scoreSplit(
  run: LoadedRun,
  records: SplitRecord[],
  cacheDir?: string,
): Promise<ScoredSplit> {
  const pre = run.preprocessing;
  const scored = await scoreRecords(run, records, { cacheDir });
  const keep = records.map((_, i) => i).filter((i) => scored.ok[i]);
  const bytes = pre.size * pre.size * pre.channels, units = scored.units;
  const pixels = new Uint8Array(keep.length * bytes);
  const outputs = new Float32Array(keep.length * units);
  keep.forEach((i, k) => {
    pixels.set(scored.pixels.subarray(i * bytes, (i + 1) * bytes), k * bytes);
    outputs.set(scored.outputs.subarray(i * units, (i + 1) * units), k * units);
  });
  const y: number[] = keep.map((i) => records[i].y);
  return {
    records: keep.map((i) => records[i]),
    y,
    prob: keep.map((i) => scored.prob[i]),
    patient: keep.map((i) => records[i].patientId),
    outputs,
    units,
    pixels,
    prevalence: y.reduce((a, b) => a + b, 0) / Math.max(1, y.length),
  };
}

/** The evaluated run with its validation and test parts scored. */
export interface EvalContext {
  record: RunRecord;
  run: LoadedRun;
  val: ScoredSplit;
  test: ScoredSplit;
  /** True when the test part is the dataset's own test/ folder, false when carved by patient. */
  officialTest: boolean;
  testSource: string;
}

/** Loads (training it first if needed) a run and scores the manifest's val and test parts. */
export async function evalContext(
  s: ReportSettings,
  record?: RunRecord,
): Promise<EvalContext> {
  record ??= await trainOrReuse(s, EVAL_RUN);
  const run = await loadRun(record.dir);
  const sp = await splits(s);
  const cacheDir = join(s.outputsDir, "cache", "images");
  const val = await scoreSplit(run, sp.bySplit.val, cacheDir);
  const test = await scoreSplit(run, sp.bySplit.test, cacheDir);
  return {
    record,
    run,
    val,
    test,
    officialTest: sp.officialTest,
    testSource: sp.officialTest
      ? "the dataset's test/ folder"
      : "the patient-level test part of the manifest (the training folder has no test split)",
  };
}

/**
 * Trains a run with a config derived from the chapter's (`edit` changes it, e.g. the engine's
 * `chestRegion` option), or reuses the finished run folder when its saved config matches.
 */
export async function trainVariant(
  s: ReportSettings,
  spec: RunSpec,
  opts: { edit?: (cfg: TrainConfig) => TrainConfig } = {},
  log: (line: string) => void = (l) => console.log(l),
): Promise<RunRecord> {
  const cfg = (opts.edit ?? ((c) => c))(chapterConfig(s, spec));
  if (!s.fresh && (await isFinishedRun(cfg.out))) {
    const saved = await readJson<TrainConfig>(join(cfg.out, "config.json")).catch(() => null);
    // Runs from before the engine option stored the mode in chest_region.json only.
    const mode = await readRunChestRegion(cfg.out).catch(() => "none" as const);
    if (saved && sameConfig({ ...saved, chestRegion: mode }, cfg)) {
      log(`${spec.name}: reusing the finished run in ${cfg.out} (same config)`);
      return await readRunRecord(cfg.out);
    }
  }
  await train(cfg, { log });
  return await readRunRecord(cfg.out);
}
