/**
 * Comparing two ROC-AUCs measured on the same images: DeLong's test and a paired patient
 * bootstrap, plus Holm's correction when several candidates are compared with one incumbent.
 *
 * DeLong, DeLong and Clarke-Pearson (1988) estimate the covariance of correlated AUCs from their
 * structural components: for positive i, V10_i = mean over negatives j of psi(X_i, Y_j), for
 * negative j, V01_j = mean over positives i of psi(X_i, Y_j), with psi = 1, 1/2, 0 when X > Y,
 * X = Y, X < Y. Then Var(AUC) = S10 / m + S01 / n (S the sample covariances, m positives, n
 * negatives). The components come from mid-ranks in O(N log N) (Sun and Xu 2014):
 * V10_i = (Tz_i - Tx_i) / n and V01_j = 1 - (Tz_j - Ty_j) / m, where Tz is the mid-rank among all
 * images, Tx among the positives and Ty among the negatives.
 *
 * DeLong treats images as independent; images of one patient are not, so the patient bootstrap
 * ({@link pairedBootstrapAucDiff}) is the check that respects clusters. Written by hand: no
 * maintained npm package implements DeLong's test on plain arrays (the statistics are a few
 * lines; they are checked in the tests against a brute-force O(m n) computation).
 *
 * @example
 * ```ts
 * import { delongTest, holmAdjust } from "./roc_compare.ts";
 * const t = delongTest([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9], [0.1, 0.3, 0.4, 0.9]);
 * t.diff; // AUC(B) - AUC(A) = 0.25
 * holmAdjust([0.01, 0.04, 0.03]); // [0.03, 0.06, 0.06]
 * ```
 * @module
 */
import { type BootstrapOptions, bootstrapStats, type Interval } from "./bootstrap.ts";
import { checkLabelsAndScores, rocAuc } from "./classification.ts";

/** Mid-ranks (1-based; ties share the mean of their ranks) of `xs`, in O(N log N). */
export function midRanks(xs: ArrayLike<number>): Float64Array {
  const n = xs.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => xs[a] - xs[b]);
  const r = new Float64Array(n);
  for (let i = 0; i < n;) {
    let j = i;
    while (j + 1 < n && xs[order[j + 1]] === xs[order[i]]) j++;
    const mid = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) r[order[k]] = mid;
    i = j + 1;
  }
  return r;
}

/** DeLong's structural components of one or more scorings of the same images. */
export interface DelongComponents {
  /** AUC of each scoring. */
  auc: number[];
  /** V10[k][i]: scoring k, i-th positive image (in image order). */
  v10: Float64Array[];
  /** V01[k][j]: scoring k, j-th negative image (in image order). */
  v01: Float64Array[];
  /** Positives (m) and negatives (n). */
  nPos: number;
  nNeg: number;
}

/**
 * The structural components of every scoring in `scores` (each one score per image of
 * `yTrue`), by mid-ranks (Sun and Xu 2014). Throws when a class is missing (AUC undefined).
 */
export function delongComponents(
  yTrue: ArrayLike<number>,
  scores: readonly ArrayLike<number>[],
): DelongComponents {
  if (scores.length === 0) throw new RangeError("delongComponents: no scoring given");
  for (const s of scores) checkLabelsAndScores("delongComponents", yTrue, s);
  const pos: number[] = [], neg: number[] = [];
  for (let i = 0; i < yTrue.length; i++) (yTrue[i] === 1 ? pos : neg).push(i);
  const m = pos.length, n = neg.length;
  if (m === 0 || n === 0) {
    throw new RangeError(
      `delongComponents: AUC undefined with one class only (${m} positives, ${n} negatives)`,
    );
  }
  const auc: number[] = [], v10: Float64Array[] = [], v01: Float64Array[] = [];
  for (const s of scores) {
    const tz = midRanks(s);
    const tx = midRanks(pos.map((i) => s[i]));
    const ty = midRanks(neg.map((j) => s[j]));
    const a = new Float64Array(m), b = new Float64Array(n);
    let sumPos = 0;
    pos.forEach((i, k) => {
      a[k] = (tz[i] - tx[k]) / n;
      sumPos += tz[i];
    });
    neg.forEach((j, k) => (b[k] = 1 - (tz[j] - ty[k]) / m));
    auc.push((sumPos - (m * (m + 1)) / 2) / (m * n));
    v10.push(a);
    v01.push(b);
  }
  return { auc, v10, v01, nPos: m, nNeg: n };
}

/** Sample covariance matrix (denominator N - 1) of the rows of `v` (each a variable). */
function covariance(v: Float64Array[]): number[][] {
  const k = v.length, len = v[0].length;
  const means = v.map((x) => x.reduce((s, t) => s + t, 0) / len);
  const c = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  if (len < 2) return c;
  for (let a = 0; a < k; a++) {
    for (let b = a; b < k; b++) {
      let s = 0;
      for (let i = 0; i < len; i++) s += (v[a][i] - means[a]) * (v[b][i] - means[b]);
      c[a][b] = c[b][a] = s / (len - 1);
    }
  }
  return c;
}

/** DeLong's covariance matrix of the AUCs of several scorings of the same images. */
export function delongCovariance(
  yTrue: ArrayLike<number>,
  scores: readonly ArrayLike<number>[],
): { auc: number[]; cov: number[][]; nPos: number; nNeg: number } {
  const c = delongComponents(yTrue, scores);
  const s10 = covariance(c.v10), s01 = covariance(c.v01);
  const cov = s10.map((row, a) => row.map((v, b) => v / c.nPos + s01[a][b] / c.nNeg));
  return { auc: c.auc, cov, nPos: c.nPos, nNeg: c.nNeg };
}

/** DeLong's variance of one AUC: S10 / m + S01 / n. */
export function delongVariance(yTrue: ArrayLike<number>, score: ArrayLike<number>): number {
  return delongCovariance(yTrue, [score]).cov[0][0];
}

/**
 * Standard normal CDF to double precision (absolute error about 1e-15): Hart's algorithm 5666 as
 * given by G. West, "Better approximations to cumulative normal functions" (2005), figure 2.
 * Written by hand: no dependency for one function.
 */
export function normalCdf(z: number): number {
  if (Number.isNaN(z)) return NaN;
  const x = Math.abs(z);
  let c: number;
  if (x > 37) c = 0;
  else {
    const e = Math.exp(-x * x / 2);
    if (x < 7.07106781186547) {
      let b = 3.52624965998911e-02 * x + 0.700383064443688;
      b = b * x + 6.37396220353165;
      b = b * x + 33.912866078383;
      b = b * x + 112.079291497871;
      b = b * x + 221.213596169931;
      b = b * x + 220.206867912376;
      c = e * b;
      b = 8.83883476483184e-02 * x + 1.75566716318264;
      b = b * x + 16.064177579207;
      b = b * x + 86.7807322029461;
      b = b * x + 296.564248779674;
      b = b * x + 637.333633378831;
      b = b * x + 793.826512519948;
      b = b * x + 440.413735824752;
      c /= b;
    } else {
      let b = x + 0.65;
      b = x + 4 / b;
      b = x + 3 / b;
      b = x + 2 / b;
      b = x + 1 / b;
      c = e / b / 2.506628274631;
    }
  }
  return z > 0 ? 1 - c : c;
}

/**
 * Standard normal quantile (Acklam's algorithm, relative error below 1.2e-9): by hand for the
 * same reason as {@link normalCdf}.
 */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`normalQuantile: p ${p} not in (0, 1)`);
  const a = [
    -39.69683028665376,
    220.9460984245205,
    -275.9285104469687,
    138.357751867269,
    -30.66479806614716,
    2.506628277459239,
  ];
  const b = [
    -54.47609879822406,
    161.5858368580409,
    -155.6989798598866,
    66.80131188771972,
    -13.28068155288572,
  ];
  const c = [
    -0.007784894002430293,
    -0.3223964580411365,
    -2.400758277161838,
    -2.549732539343734,
    4.374664141464968,
    2.938163982698783,
  ];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const lo = 0.02425;
  if (p < lo) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
      ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > 1 - lo) return -normalQuantile(1 - p);
  const q = p - 0.5, r = q * q;
  return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
    (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

/** DeLong's test of AUC(B) - AUC(A) on the same images. */
export interface AucComparison {
  aucA: number;
  aucB: number;
  /** AUC(B) - AUC(A). */
  diff: number;
  /** Its standard error, sqrt(Var A + Var B - 2 Cov AB). */
  se: number;
  /** diff / se (0 when both are 0: identical rankings; +-Infinity when only se is 0). */
  z: number;
  /** Two-sided p-value of "no difference". */
  pTwoSided: number;
  /** One-sided p-value of "B is no better than A" (small when B ranks better). */
  pOneSided: number;
  /** Normal-theory interval of the difference at `level`. */
  lo: number;
  hi: number;
  level: number;
  nPos: number;
  nNeg: number;
}

/**
 * DeLong's test comparing scorings A and B of the same images (`yTrue`): the difference
 * AUC(B) - AUC(A), its standard error, z, the two-sided and the one-sided (B better) p-values,
 * and a normal interval at `level` (default 0.95).
 */
export function delongTest(
  yTrue: ArrayLike<number>,
  scoreA: ArrayLike<number>,
  scoreB: ArrayLike<number>,
  opts: { level?: number } = {},
): AucComparison {
  const level = opts.level ?? 0.95;
  if (!(level > 0 && level < 1)) throw new RangeError(`delongTest: level ${level} not in (0, 1)`);
  const { auc, cov, nPos, nNeg } = delongCovariance(yTrue, [scoreA, scoreB]);
  const diff = auc[1] - auc[0];
  const se = Math.sqrt(Math.max(0, cov[0][0] + cov[1][1] - 2 * cov[0][1]));
  // A difference of exactly zero with zero variance (same ranking) is no evidence either way.
  const z = se > 0 ? diff / se : diff === 0 ? 0 : Math.sign(diff) * Infinity;
  const half = normalQuantile(1 - (1 - level) / 2) * se;
  return {
    aucA: auc[0],
    aucB: auc[1],
    diff,
    se,
    z,
    pTwoSided: Math.min(1, 2 * (1 - normalCdf(Math.abs(z)))),
    pOneSided: 1 - normalCdf(z),
    lo: diff - half,
    hi: diff + half,
    level,
    nPos,
    nNeg,
  };
}

/** The paired patient bootstrap of AUC(B) - AUC(A) ({@link pairedBootstrapAucDiff}). */
export interface PairedAucBootstrap {
  /** AUC(B) - AUC(A): estimate and percentile interval over the resamples. */
  diff: Interval;
  aucA: Interval;
  aucB: Interval;
  /** Share of valid resamples where B did not rank better (diff <= 0): a one-sided p-value. */
  pOneSided: number;
  nBoot: number;
  nClusters: number;
  seed: number;
  level: number;
}

/**
 * Paired patient bootstrap of AUC(B) - AUC(A): whole patients (`groups`) drawn with
 * replacement, both scorings judged on the same resample. Resamples with one class only are
 * skipped (counted in `nSkipped`).
 */
export function pairedBootstrapAucDiff(
  yTrue: ArrayLike<number>,
  scoreA: ArrayLike<number>,
  scoreB: ArrayLike<number>,
  opts: BootstrapOptions = {},
): PairedAucBootstrap {
  checkLabelsAndScores("pairedBootstrapAucDiff", yTrue, scoreA);
  checkLabelsAndScores("pairedBootstrapAucDiff", yTrue, scoreB);
  const y = Array.from(yTrue), a = Array.from(scoreA), b = Array.from(scoreB);
  let notBetter = 0, valid = 0;
  let first = true;
  const r = bootstrapStats(y.length, (idx) => {
    const yy = idx.map((i) => y[i]);
    let aa = NaN, bb = NaN;
    try {
      aa = rocAuc(yy, idx.map((i) => a[i]));
      bb = rocAuc(yy, idx.map((i) => b[i]));
    } catch { /* one class only in this resample: undefined */ }
    const d = bb - aa;
    // The first call is the full sample (the estimate), not a resample.
    if (first) first = false;
    else if (!Number.isNaN(d)) {
      valid++;
      if (d <= 0) notBetter++;
    }
    return { diff: d, aucA: aa, aucB: bb };
  }, opts);
  return {
    diff: r.intervals.diff,
    aucA: r.intervals.aucA,
    aucB: r.intervals.aucB,
    pOneSided: valid ? notBetter / valid : NaN,
    nBoot: r.nBoot,
    nClusters: r.nClusters,
    seed: r.seed,
    level: r.level,
  };
}

/**
 * Holm's step-down adjustment of `p` (family-wise error control for several comparisons):
 * sorted ascending, p_(k) * (K - k + 1), made monotone, capped at 1; returned in input order.
 * NaN p-values stay NaN and do not count as comparisons.
 */
export function holmAdjust(p: readonly number[]): number[] {
  const idx = p.map((_, i) => i).filter((i) => !Number.isNaN(p[i])).sort((a, b) => p[a] - p[b]);
  const k = idx.length;
  const out = p.map(() => NaN);
  let running = 0;
  idx.forEach((i, r) => {
    running = Math.max(running, Math.min(1, p[i] * (k - r)));
    out[i] = running;
  });
  return out;
}
