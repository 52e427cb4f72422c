/**
 * Site calibration, as screening products do it: a new site labels a small sample (50-100
 * images), the decision threshold is re-picked on that sample with the same policy that picked
 * the run's threshold, and the rest of that site's images show, with patient-level bootstrap
 * intervals, what the new threshold changes.
 *
 * The sample is drawn by patient (no patient is in both the sample and the rest), stratified by
 * label, seeded.
 *
 * @example
 * ```ts
 * import { siteCalibrate, formatSiteCalibration } from "./site_calibration.ts";
 * const res = siteCalibrate(records, scores, { threshold: run.threshold, sampleSize: 80, seed: 1 });
 * console.log(formatSiteCalibration(res));
 * ```
 * @module
 */

import { makeRng, shuffle } from "../util/rng.ts";
import { binaryMetrics } from "../metrics/classification.ts";
import {
  bootstrapMetrics,
  bootstrapStats,
  formatInterval,
  type Interval,
  type MetricIntervals,
} from "../metrics/bootstrap.ts";
import { chooseThreshold, policyName, type ThresholdPolicy } from "./operating_points.ts";
import { formatSigned } from "../metrics/format.ts";

/** What the calibration needs of an image: its label and its patient. */
export interface LabelledItem {
  y: 0 | 1;
  patientId: string;
}

/** Options of `siteCalibrate`. */
export interface SiteCalibrationOptions {
  /** The run's stored threshold (chosen on the original validation split). */
  threshold: number;
  /** Images in the labelled calibration sample (default 80; 50-100 is typical). */
  sampleSize?: number;
  /** Seed of the sample and of the bootstrap (default 0). */
  seed?: number;
  /** Policy that re-picks the threshold on the sample (default sensitivity >= 0.95). */
  policy?: ThresholdPolicy;
  /** Bootstrap resamples (default 1000). */
  nBoot?: number;
}

/** Metrics whose change is reported. */
export type ChangeMetric = "accuracy" | "sensitivity" | "specificity" | "precision" | "f1";

/** What `siteCalibrate` returns (JSON-serialisable; an Infinity threshold becomes null). */
export interface SiteCalibrationResult {
  policy: string;
  seed: number;
  originalThreshold: number;
  newThreshold: number;
  sample: { n: number; positives: number; patients: number; indices: number[] };
  rest: { n: number; positives: number; patients: number };
  /** Metrics on the rest of the site at the original threshold. */
  before: MetricIntervals;
  /** Metrics on the rest of the site at the re-picked threshold. */
  after: MetricIntervals;
  /** After minus before on the rest, paired bootstrap (same resampled patients). */
  change: Record<ChangeMetric, Interval>;
}

/**
 * Seeded sample of whole patients, stratified by label, of about `size` images: patients of each
 * label are shuffled and taken until that label's share of `size` is reached. A patient whose
 * images carry both labels counts under the label of the majority of its images.
 */
export function stratifiedPatientSample(
  items: readonly LabelledItem[],
  size: number,
  seed: number,
): { sample: number[]; rest: number[] } {
  if (!(size >= 2) || size >= items.length) {
    throw new RangeError(
      `stratifiedPatientSample: sample size ${size} must be >= 2 and below the ${items.length} images`,
    );
  }
  const byPatient = new Map<string, number[]>();
  items.forEach((it, i) => {
    const list = byPatient.get(it.patientId) ?? [];
    list.push(i);
    byPatient.set(it.patientId, list);
  });
  const groups: [number[], number[]] = [[], []];
  const patients = [...byPatient.values()];
  patients.forEach((idx, p) => {
    const pos = idx.filter((i) => items[i].y === 1).length;
    groups[pos * 2 > idx.length ? 1 : 0].push(p);
  });
  const nPos = items.filter((it) => it.y === 1).length;
  const quota = [
    Math.round(size * (1 - nPos / items.length)),
    size - Math.round(size * (1 - nPos / items.length)),
  ];
  const rng = makeRng(seed);
  const inSample = new Set<number>();
  for (const label of [0, 1]) {
    let taken = 0;
    for (const p of shuffle(groups[label], rng)) {
      if (taken >= quota[label]) break;
      for (const i of patients[p]) inSample.add(i);
      taken += patients[p].length;
    }
  }
  const sample: number[] = [], rest: number[] = [];
  items.forEach((_, i) => (inSample.has(i) ? sample : rest).push(i));
  return { sample, rest };
}

/**
 * Re-picks the threshold on a small labelled sample of a new site and reports, on the rest of the
 * site's images, the metrics at the original and at the new threshold with patient-level
 * bootstrap 95% intervals, and the paired change. `items[i]` and `scores[i]` describe image i.
 */
export function siteCalibrate(
  items: readonly LabelledItem[],
  scores: ArrayLike<number>,
  opts: SiteCalibrationOptions,
): SiteCalibrationResult {
  if (items.length !== scores.length) {
    throw new RangeError(
      `siteCalibrate: ${items.length} labelled images but ${scores.length} scores`,
    );
  }
  const seed = opts.seed ?? 0, nBoot = opts.nBoot ?? 1000;
  const policy: ThresholdPolicy = opts.policy ?? { kind: "sensitivity", target: 0.95 };
  const size = opts.sampleSize ?? 80;
  const { sample, rest } = stratifiedPatientSample(items, size, seed);
  const ys = sample.map((i) => items[i].y), ss = sample.map((i) => scores[i]);
  if (!ys.includes(1) || !ys.includes(0)) {
    throw new RangeError(
      `siteCalibrate: the calibration sample of ${sample.length} images has only one class; ` +
        `label both classes at the site or raise sampleSize`,
    );
  }
  const newThreshold = chooseThreshold(ys, ss, policy).threshold;
  const yr = rest.map((i) => items[i].y), sr = rest.map((i) => scores[i]);
  const gr = rest.map((i) => items[i].patientId);
  const bo = { groups: gr, nBoot, seed };
  const before = bootstrapMetrics(yr, sr, { ...bo, threshold: opts.threshold });
  const after = bootstrapMetrics(yr, sr, { ...bo, threshold: newThreshold });
  const names: ChangeMetric[] = ["accuracy", "sensitivity", "specificity", "precision", "f1"];
  const change = bootstrapStats(yr.length, (idx) => {
    const y = idx.map((i) => yr[i]), s = idx.map((i) => sr[i]);
    const a = binaryMetrics(y, s, newThreshold), b = binaryMetrics(y, s, opts.threshold);
    return Object.fromEntries(names.map((k) => [k, a[k] - b[k]])) as Record<ChangeMetric, number>;
  }, bo).intervals;
  const patients = (idx: number[]) => new Set(idx.map((i) => items[i].patientId)).size;
  return {
    policy: policyName(policy),
    seed,
    originalThreshold: opts.threshold,
    newThreshold,
    sample: {
      n: sample.length,
      positives: ys.filter((v) => v === 1).length,
      patients: patients(sample),
      indices: sample,
    },
    rest: { n: rest.length, positives: yr.filter((v) => v === 1).length, patients: patients(rest) },
    before,
    after,
    change,
  };
}

/** A plain-text summary of a site calibration, for the CLI. */
export function formatSiteCalibration(r: SiteCalibrationResult): string {
  const lines = [
    `Site calibration (${r.policy}, seed ${r.seed}): sample ${r.sample.n} images ` +
    `(${r.sample.positives} pneumonia, ${r.sample.patients} patients); rest ${r.rest.n} images ` +
    `(${r.rest.positives} pneumonia, ${r.rest.patients} patients)`,
    `threshold ${r.originalThreshold.toFixed(4)} -> ${r.newThreshold.toFixed(4)}`,
    `metric        before (95% CI)          after (95% CI)           change (95% CI)`,
  ];
  for (const k of ["sensitivity", "specificity", "precision", "f1", "accuracy"] as const) {
    const change = r.change[k];
    const sign = (x: number) => formatSigned(x);
    lines.push(
      `${k.padEnd(13)} ${formatInterval(r.before.metrics[k]).padEnd(24)} ` +
        `${formatInterval(r.after.metrics[k]).padEnd(24)} ` +
        `${sign(change.estimate)} (${sign(change.lo)} to ${sign(change.hi)})`,
    );
  }
  lines.push(`auc (threshold-free) ${formatInterval(r.after.metrics.auc)}`);
  return lines.join("\n");
}
