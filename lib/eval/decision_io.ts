/**
 * Reads and stores a run's decision threshold on disk (the command-line side of `decision.ts`):
 * `threshold.json`, and the site threshold kept in `calibration.json` under `site`.
 *
 * @example
 * ```ts
 * import { readDecision } from "./decision_io.ts";
 * const { threshold, source, words } = await readDecision("outputs/reference");
 * ```
 * @module
 */
import { join } from "node:path";
import { CALIBRATION_FILE, fitTemperature, probsToLogits } from "../metrics/calibration.ts";
import { readJson, writeJsonAtomic } from "../util/atomic.ts";
import {
  type Decision,
  decisionThreshold,
  type SiteThreshold,
  type StoredThreshold,
} from "./decision.ts";
import type { SiteFolderResult } from "./site_folder.ts";

/** `calibration.json` as stored, or null when the run has none. */
export async function readCalibrationFile(dir: string): Promise<Record<string, unknown> | null> {
  try {
    return await readJson<Record<string, unknown>>(join(dir, CALIBRATION_FILE));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    try {
      await Deno.stat(join(dir, CALIBRATION_FILE));
    } catch {
      return null;
    }
    throw err;
  }
}

/** The run's decision: the site threshold of `calibration.json` if any, else `threshold.json`. */
export async function readDecision(dir: string): Promise<Decision> {
  const stored = await readJson<StoredThreshold>(join(dir, "threshold.json"));
  const cal = await readCalibrationFile(dir) as { site?: SiteThreshold } | null;
  return decisionThreshold(stored, cal);
}

/** Temperature fitted on `val_predictions.csv` (columns relPath, patient, y, prob). */
async function temperatureFromValPredictions(dir: string): Promise<Record<string, unknown>> {
  const path = join(dir, "val_predictions.csv");
  const lines = (await Deno.readTextFile(path)).trim().split("\n");
  const head = lines[0].split(",");
  const iy = head.indexOf("y"), ip = head.indexOf("prob");
  if (iy < 0 || ip < 0) throw new Error(`${path}: expected columns y and prob, found ${lines[0]}`);
  const rows = lines.slice(1).map((l) => l.split(","));
  const fit = fitTemperature(
    rows.map((r) => Number(r[iy])),
    probsToLogits(rows.map((r) => Number(r[ip]))),
  );
  return { method: "temperature", fittedOn: "val_predictions.csv", ...fit };
}

/**
 * Stores a site calibration's threshold in `<dir>/calibration.json` under `site` (the rest of the
 * file is kept; a run without the file gets one, its temperature fitted on
 * `val_predictions.csv` as training does). Returns the path.
 */
export async function saveSiteThreshold(dir: string, res: SiteFolderResult): Promise<string> {
  if (!Number.isFinite(res.newThreshold)) {
    throw new Error(
      `site calibration gave no finite threshold (${res.newThreshold}); nothing saved`,
    );
  }
  const site: SiteThreshold = {
    threshold: res.newThreshold,
    policy: res.policy,
    siteDir: res.siteDir,
    sample: { n: res.sample.n, positives: res.sample.positives },
    sensitivity: res.after.metrics.sensitivity.estimate,
    specificity: res.after.metrics.specificity.estimate,
    restImages: res.rest.n,
    created: new Date().toISOString(),
  };
  const current = await readCalibrationFile(dir) ?? await temperatureFromValPredictions(dir);
  const path = join(dir, CALIBRATION_FILE);
  await writeJsonAtomic(path, { ...current, site });
  return path;
}
