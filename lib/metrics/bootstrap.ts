/**
 * Bootstrap confidence intervals resampled by patient (cluster bootstrap).
 *
 * Images of one patient are correlated (same lungs, same visit), so resampling images would make
 * intervals too narrow. Here whole patients are drawn with replacement, and every image of a drawn
 * patient enters the resample. A resample where a metric is undefined (for example AUC when every
 * drawn patient is negative, precision with no positive prediction) is skipped for that metric and
 * counted in `nSkipped`. Intervals are percentile intervals (linear interpolation between order
 * statistics, numpy's default), seeded with `lib/util/rng.ts`, so the same seed gives the same
 * interval.
 *
 * @example
 * ```ts
 * import { bootstrapMetrics } from "./bootstrap.ts";
 * const ci = bootstrapMetrics(yTrue, yScore, { groups: patientIds, threshold: 0.5, seed: 1 });
 * ci.metrics.auc; // { estimate, lo, hi, nValid, nSkipped }
 * ```
 * @module
 */

import { makeRng } from "../util/rng.ts";
import { formatMetric, UNDEFINED_METRIC } from "./format.ts";
import { binaryMetrics, checkLengths, rocAuc } from "./classification.ts";

/** Metrics that `bootstrapMetrics` can put an interval on. */
export type BootMetric = "auc" | "accuracy" | "sensitivity" | "specificity" | "precision" | "f1";

/** All of them, in report order. */
export const BOOT_METRICS: readonly BootMetric[] = [
  "auc",
  "accuracy",
  "sensitivity",
  "specificity",
  "precision",
  "f1",
];

/** A point estimate with its bootstrap interval. */
export interface Interval {
  /** The statistic on the full sample (NaN when undefined there). */
  estimate: number;
  /** Lower bound of the interval (NaN when no resample gave a defined value). */
  lo: number;
  /** Upper bound of the interval. */
  hi: number;
  /** Resamples where the statistic was defined. */
  nValid: number;
  /** Resamples skipped because the statistic was undefined there. */
  nSkipped: number;
}

/** Options of the patient-level bootstrap. */
export interface BootstrapOptions {
  /**
   * Cluster id per sample (the patient id). Without it every sample is its own cluster, which
   * understates the uncertainty when patients have several images.
   */
  groups?: ArrayLike<string | number>;
  /** Number of resamples (default 1000). */
  nBoot?: number;
  /** Seed of the resampling (default 0). */
  seed?: number;
  /** Coverage of the interval (default 0.95). */
  level?: number;
}

/** Quantile with linear interpolation between order statistics of a sorted array (numpy type 7). */
export function quantileSorted(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h), hi = Math.ceil(h);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

/** Sample indices of each cluster, in order of first appearance. */
export function clusterIndices(groups: ArrayLike<string | number>): number[][] {
  const byId = new Map<string | number, number[]>();
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i];
    let list = byId.get(g);
    if (!list) byId.set(g, list = []);
    list.push(i);
  }
  return [...byId.values()];
}

/**
 * Generic cluster bootstrap: `stats(indices)` returns named statistics for the samples at
 * `indices` (a value that is NaN, or a throw, marks the statistic undefined on that resample).
 * `stats` is first called on all samples for the estimates. Used for metric intervals and for
 * paired differences (for example the change a new threshold makes).
 */
export function bootstrapStats<K extends string>(
  n: number,
  stats: (indices: number[]) => Record<K, number>,
  opts: BootstrapOptions = {},
): {
  intervals: Record<K, Interval>;
  nBoot: number;
  nClusters: number;
  seed: number;
  level: number;
} {
  const nBoot = opts.nBoot ?? 1000, seed = opts.seed ?? 0, level = opts.level ?? 0.95;
  if (!(level > 0 && level < 1)) throw new RangeError(`bootstrap: level ${level} not in (0, 1)`);
  if (!(nBoot >= 1)) throw new RangeError(`bootstrap: nBoot ${nBoot} must be >= 1`);
  if (opts.groups && opts.groups.length !== n) {
    throw new RangeError(`bootstrap: groups has length ${opts.groups.length}, data has ${n}`);
  }
  if (n === 0) throw new RangeError("bootstrap: no samples");
  const clusters = opts.groups
    ? clusterIndices(opts.groups)
    : Array.from({ length: n }, (_, i) => [i]);
  const safe = (idx: number[]): Partial<Record<K, number>> => {
    try {
      return stats(idx);
    } catch {
      return {};
    }
  };
  const all = Array.from({ length: n }, (_, i) => i);
  const est = safe(all);
  const names = Object.keys(est) as K[];
  const samples = new Map<K, number[]>();
  const skipped = new Map<K, number>();
  const rng = makeRng(seed);
  // Keys may be missing from `est` when stats threw on the full sample; collect lazily.
  const record = (k: K, v: number | undefined) => {
    if (!samples.has(k)) samples.set(k, []), skipped.set(k, 0);
    if (v === undefined || Number.isNaN(v)) skipped.set(k, skipped.get(k)! + 1);
    else samples.get(k)!.push(v);
  };
  for (const k of names) samples.set(k, []), skipped.set(k, 0);
  for (let b = 0; b < nBoot; b++) {
    const idx: number[] = [];
    for (let c = 0; c < clusters.length; c++) {
      const members = clusters[Math.floor(rng() * clusters.length)];
      for (const i of members) idx.push(i);
    }
    const s = safe(idx);
    const keys = new Set<K>([...samples.keys(), ...(Object.keys(s) as K[])]);
    for (const k of keys) record(k, s[k]);
  }
  const alpha = (1 - level) / 2;
  const intervals = {} as Record<K, Interval>;
  for (const [k, vals] of samples) {
    vals.sort((a, b) => a - b);
    intervals[k] = {
      estimate: est[k] ?? NaN,
      lo: quantileSorted(vals, alpha),
      hi: quantileSorted(vals, 1 - alpha),
      nValid: vals.length,
      nSkipped: skipped.get(k)!,
    };
  }
  return { intervals, nBoot, nClusters: clusters.length, seed, level };
}

/** Result of `bootstrapMetrics`. */
export interface MetricIntervals {
  metrics: Record<BootMetric, Interval>;
  threshold: number;
  nBoot: number;
  /** Number of clusters (patients) resampled. */
  nClusters: number;
  n: number;
  seed: number;
  level: number;
}

/**
 * ROC-AUC, accuracy, sensitivity, specificity, precision and F1 at `threshold`, each with a
 * patient-level bootstrap interval. Pass `groups` (patient ids) for the cluster bootstrap.
 */
export function bootstrapMetrics(
  yTrue: ArrayLike<number>,
  yScore: ArrayLike<number>,
  opts: BootstrapOptions & { threshold?: number } = {},
): MetricIntervals {
  checkLengths("bootstrapMetrics", yTrue, yScore);
  const threshold = opts.threshold ?? 0.5;
  const y = Array.from(yTrue), s = Array.from(yScore);
  const stats = (idx: number[]): Record<BootMetric, number> => {
    const yy = idx.map((i) => y[i]), ss = idx.map((i) => s[i]);
    const m = binaryMetrics(yy, ss, threshold);
    let auc = NaN;
    try {
      auc = rocAuc(yy, ss);
    } catch { /* one class only in this resample: undefined, counted as skipped */ }
    return {
      auc,
      accuracy: m.accuracy,
      sensitivity: m.sensitivity,
      specificity: m.specificity,
      precision: m.precision,
      f1: m.f1,
    };
  };
  const r = bootstrapStats(y.length, stats, opts);
  return {
    metrics: r.intervals,
    threshold,
    nBoot: r.nBoot,
    nClusters: r.nClusters,
    n: y.length,
    seed: r.seed,
    level: r.level,
  };
}

/** "0.912 (0.887 to 0.934)"; "n/a" when the estimate is undefined (NaN), as every metric. */
export function formatInterval(iv: Interval, digits = 3): string {
  if (Number.isNaN(iv.estimate)) return UNDEFINED_METRIC;
  const f = (x: number) => formatMetric(x, digits);
  return `${f(iv.estimate)} (${f(iv.lo)} to ${f(iv.hi)})`;
}
