/**
 * How many labelled site images does a threshold calibration need? For each sample size, many
 * seeded draws: a stratified sample of whole patients labels the threshold (highest with
 * sensitivity >= target on the sample), and the site's other images judge it. The curve says how
 * often sensitivity >= target held on those other images, and the spread of the specificity that
 * followed.
 *
 * "all" cannot leave images out, so it is a patient bootstrap: a resample of all patients (with
 * replacement, as many as the site has) picks the threshold, and the patients it did not draw
 * (about 37%) judge it.
 *
 * @example
 * ```ts
 * import { calibrationCurve } from "./calibration_curve.ts";
 * const rows = calibrationCurve(items, scores, { sizes: [25, 50, 100, "all"], draws: 200 });
 * rows[0]; // { size: 25, heldRate, specificity: { median, lo, hi }, ... }
 * ```
 * @module
 */
import { loadDataset } from "../data/dataset.ts";
import type { AdaptMode } from "./adapt.ts";
import { quantileSorted } from "../metrics/bootstrap.ts";
import { binaryMetrics, thresholdForSensitivity } from "../metrics/classification.ts";
import { makeRng } from "../util/rng.ts";
import { type LabelledItem, stratifiedPatientSample } from "./site_calibration.ts";
import { scoreForSite } from "./site_eval.ts";
import { formatMetric } from "../metrics/format.ts";

/** A calibration sample size: a number of images, or every labelled image ("all"). */
export type CurveSize = number | "all";

/** Options of {@link calibrationCurve}. */
export interface CalibrationCurveOptions {
  /** Sample sizes (default 25, 50, 100, "all"); numbers at or above the site's size are skipped. */
  sizes?: CurveSize[];
  /** Draws per size (default 200). */
  draws?: number;
  /** Sensitivity the threshold must keep on the held-out images (default 0.95). */
  target?: number;
  /**
   * Sensitivity the threshold keeps on the sample (default `target`). A higher one (0.98) buys
   * a margin: the threshold holds `target` on new images more often, at some specificity.
   */
  pickTarget?: number;
  /** Seed of the draws (default 0). */
  seed?: number;
  /** Coverage of the reported spread (default 0.9: the 5th to 95th percentile). */
  level?: number;
}

/** A median with the spread around it over the draws. */
export interface Spread {
  median: number;
  lo: number;
  hi: number;
}

/** One row of the curve. */
export interface CurveRow {
  size: CurveSize;
  /** Draws that gave a threshold (a sample with no positive image gives none). */
  draws: number;
  /** Mean number of images that picked the threshold. */
  meanSample: number;
  /** Share of draws whose threshold kept sensitivity >= target on the held-out images. */
  heldRate: number;
  sensitivity: Spread;
  specificity: Spread;
  threshold: Spread;
}

function spread(values: number[], level: number): Spread {
  const v = values.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  const a = (1 - level) / 2;
  return { median: quantileSorted(v, 0.5), lo: quantileSorted(v, a), hi: quantileSorted(v, 1 - a) };
}

/** Patient bootstrap of all patients: the drawn images (with repeats) and those never drawn. */
function bootstrapSplit(items: readonly LabelledItem[], rng: () => number) {
  const byPatient = new Map<string, number[]>();
  items.forEach((it, i) =>
    byPatient.set(it.patientId, [...(byPatient.get(it.patientId) ?? []), i])
  );
  const patients = [...byPatient.values()];
  const drawn = new Set<number>();
  const sample: number[] = [];
  for (let k = 0; k < patients.length; k++) {
    const p = Math.floor(rng() * patients.length);
    drawn.add(p);
    sample.push(...patients[p]);
  }
  const rest = patients.flatMap((idx, p) => (drawn.has(p) ? [] : idx));
  return { sample, rest };
}

/**
 * The calibration curve of a site's labelled images (`items[i]`, score `scores[i]`); see the
 * module doc. Draw d of size s uses seed `seed + 1000 * rowIndex + d`.
 */
export function calibrationCurve(
  items: readonly LabelledItem[],
  scores: ArrayLike<number>,
  opts: CalibrationCurveOptions = {},
): CurveRow[] {
  if (items.length !== scores.length) {
    throw new RangeError(`calibrationCurve: ${items.length} images but ${scores.length} scores`);
  }
  const sizes = opts.sizes ?? [25, 50, 100, "all"];
  const draws = opts.draws ?? 200, target = opts.target ?? 0.95, seed = opts.seed ?? 0;
  const level = opts.level ?? 0.9, pick = opts.pickTarget ?? target;
  const rows: CurveRow[] = [];
  sizes.forEach((size, row) => {
    if (size !== "all" && !(size >= 2 && size < items.length)) return;
    const sens: number[] = [], spec: number[] = [], thr: number[] = [];
    let held = 0, used = 0, sampled = 0;
    for (let d = 0; d < draws; d++) {
      const s = seed + 1000 * row + d;
      const { sample, rest } = size === "all"
        ? bootstrapSplit(items, makeRng(s))
        : stratifiedPatientSample(items, size, s);
      const ys = sample.map((i) => items[i].y);
      const yr = rest.map((i) => items[i].y);
      if (!ys.includes(1) || !yr.includes(1) || !yr.includes(0)) continue;
      const t = thresholdForSensitivity(ys, sample.map((i) => scores[i]), pick);
      const m = binaryMetrics(yr, rest.map((i) => scores[i]), t);
      used++;
      sampled += sample.length;
      if (m.sensitivity >= target) held++;
      sens.push(m.sensitivity);
      spec.push(m.specificity);
      thr.push(t);
    }
    rows.push({
      size,
      draws: used,
      meanSample: used ? sampled / used : NaN,
      heldRate: used ? held / used : NaN,
      sensitivity: spread(sens, level),
      specificity: spread(spec, level),
      threshold: spread(thr, level),
    });
  });
  return rows;
}

/** The curve as plain text, one row per size. */
export function formatCalibrationCurve(rows: CurveRow[], target = 0.95): string {
  const f = (s: Spread) =>
    `${formatMetric(s.median)} (${formatMetric(s.lo)} to ${formatMetric(s.hi)})`;
  return [
    `labelled images  draws  sensitivity >= ${target} held  sensitivity (5-95%)      ` +
    `specificity (5-95%)      threshold`,
    ...rows.map((r) =>
      `${String(r.size).padEnd(16)} ${String(r.draws).padEnd(6)} ` +
      `${(100 * r.heldRate).toFixed(0).padStart(5)}%${" ".repeat(19)} ${
        f(r.sensitivity).padEnd(24)
      } ` +
      `${f(r.specificity).padEnd(24)} ${r.threshold.median.toFixed(4)}`
    ),
  ].join("\n");
}

/**
 * The calibration curve of a labelled site folder, scored by `runs` (an ensemble when several)
 * with the given TTA and adaptation (adaptation uses the folder's images, never its labels).
 * The threshold policy's target is the first run's.
 */
export async function siteCalibrationCurve(
  siteDir: string,
  o: CalibrationCurveOptions & {
    runs: string[];
    adapt?: AdaptMode;
    tta?: number;
    valData?: string;
    cacheDir?: string;
  },
): Promise<CurveRow[]> {
  const { records } = await loadDataset(siteDir);
  const s = await scoreForSite({ ...o, records, source: siteDir });
  const items = s.scored.records.map((r) => ({ y: r.y, patientId: r.patientId }));
  return calibrationCurve(items, s.scored.prob, { target: s.targetSensitivity, ...o });
}
