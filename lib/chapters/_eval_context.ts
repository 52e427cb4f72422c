/**
 * What the evaluation chapters (notebooks 11+) share: the run they evaluate (the report's
 * `compact` run, trained by chapter 6 or here when a chapter runs alone), the validation and test
 * parts of the manifest scored by it, and training of the extra runs these chapters need
 * (chest-region crop, three classes) with reuse of finished runs.
 * @module
 */

import { join } from "node:path";
import type { SplitRecord } from "../data/types.ts";
import { type RunRecord, splits } from "./_context.ts";
import type { ReportSettings } from "../report/settings.ts";
import { type RunSpec, trainOrReuse } from "./_training.ts";
import { type LoadedRun, loadRun } from "../train/run.ts";
import { scoreRecords } from "../train/score.ts";

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
  /** The report's settings (where chapters record their results). */
  settings: ReportSettings;
}

/** Loads (training it first if needed) a run and scores the manifest's val and test parts. */
export async function evalContext(
  s: ReportSettings,
  record?: RunRecord,
): Promise<EvalContext> {
  record ??= await trainOrReuse(s, EVAL_RUN);
  const run = await loadRun(record);
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
    settings: s,
    testSource: sp.officialTest
      ? "the dataset's test/ folder"
      : "the patient-level test part of the manifest (the training folder has no test split)",
  };
}
