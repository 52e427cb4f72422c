/**
 * Site calibration of a run on a folder of labelled images from a new site: what
 * `deno task evaluate --run RUN --calibrate SITE_DIR` calls.
 *
 * The site folder is read like any dataset (`SITE/{NORMAL,PNEUMONIA}/` or the Kaggle layout,
 * every image used whatever its split folder), scored by the run at its stored preprocessing
 * (and chest-region mode, if the run has one), and handed to `siteCalibrate`.
 *
 * @example
 * ```ts
 * import { calibrateSiteFolder } from "./site_folder.ts";
 * import { formatSiteCalibration } from "./site_calibration.ts";
 * const res = await calibrateSiteFolder("outputs/reference", "data/site_b", { sampleSize: 80 });
 * console.log(formatSiteCalibration(res));
 * ```
 * @module
 */

import { loadDataset } from "../data/dataset.ts";
import { disposeRun, loadRun } from "../train/run.ts";
import { scoreRecords } from "../train/score.ts";
import type { ThresholdPolicy } from "./operating_points.ts";
import { siteCalibrate, type SiteCalibrationResult } from "./site_calibration.ts";

/** Options of `calibrateSiteFolder` (all optional; defaults of `siteCalibrate`). */
export interface SiteFolderOptions {
  /** Labelled images used to re-pick the threshold (default 80). */
  sampleSize?: number;
  /** Seed of the sample and the bootstrap (default 0). */
  seed?: number;
  /** Bootstrap resamples (default 1000). */
  nBoot?: number;
  /** Policy (default: highest threshold with sensitivity >= the run's target, else 0.95). */
  policy?: ThresholdPolicy;
  /** Image cache folder (default outputs/cache/images). */
  cacheDir?: string;
}

/** The calibration result plus where it came from. */
export interface SiteFolderResult extends SiteCalibrationResult {
  runDir: string;
  siteDir: string;
  /** Images of the site that could not be read (left out). */
  skipped: { path: string; reason: string }[];
}

/**
 * Scores every image of `siteDir` with the run in `runDir` and re-picks the threshold on a
 * seeded, stratified patient sample; reports before/after on the rest with 95% intervals.
 */
export async function calibrateSiteFolder(
  runDir: string,
  siteDir: string,
  opts: SiteFolderOptions = {},
): Promise<SiteFolderResult> {
  const { records } = await loadDataset(siteDir);
  const run = await loadRun(runDir);
  try {
    // The run's chest-region mode comes with run.preprocessing (loadRun).
    const scored = await scoreRecords(run, records, { cacheDir: opts.cacheDir });
    const keep = records.map((_, i) => i).filter((i) => scored.ok[i]);
    const target = run.config.threshold?.targetSensitivity ?? 0.95;
    const result = siteCalibrate(
      keep.map((i) => ({ y: records[i].y, patientId: records[i].patientId })),
      keep.map((i) => scored.prob[i]),
      {
        threshold: run.threshold,
        sampleSize: opts.sampleSize,
        seed: opts.seed,
        nBoot: opts.nBoot,
        policy: opts.policy ?? { kind: "sensitivity", target },
      },
    );
    return { ...result, runDir, siteDir, skipped: scored.failures };
  } finally {
    disposeRun(run);
  }
}
