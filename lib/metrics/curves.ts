/**
 * ROC and precision-recall curves, and average precision, over plain arrays.
 *
 * Both curves have one point per distinct score (ties move together), with the same convention as
 * `classification.ts`: a score is positive when `score >= threshold`. Results match
 * scikit-learn's `roc_curve(..., drop_intermediate=False)`, `precision_recall_curve` and
 * `average_precision_score` (checked in the tests). Written by hand for the same reason as
 * `classification.ts`: no typed metrics library on npm that works on plain arrays.
 *
 * @example
 * ```ts
 * import { rocCurve, averagePrecision } from "./curves.ts";
 * const pts = rocCurve([0, 1, 1], [0.2, 0.9, 0.4]); // [{threshold: Infinity, fpr: 0, tpr: 0}, ...]
 * averagePrecision([0, 1, 1], [0.2, 0.9, 0.4]); // 1
 * ```
 * @module
 */

import { checkLabelsAndScores } from "./classification.ts";

/** One point of the ROC curve. */
export interface RocPoint {
  /** Scores >= threshold are positive; the first point has threshold Infinity (nothing positive). */
  threshold: number;
  /** False positive rate, 1 - specificity. */
  fpr: number;
  /** True positive rate, sensitivity. */
  tpr: number;
}

/** One point of the precision-recall curve. */
export interface PrPoint {
  /** Scores >= threshold are positive; the final point (recall 0, precision 1) has Infinity. */
  threshold: number;
  precision: number;
  recall: number;
}

/** Cumulative counts at each distinct threshold, from the highest score down. */
export interface ThresholdCounts {
  threshold: number;
  tp: number;
  fp: number;
}

/**
 * True and false positives at every distinct score, scanning from the highest score down: entry i
 * counts everything with `score >= threshold_i`. Also returns the totals of positives and
 * negatives; callers decide whether one class only is an error.
 */
export function countsByThreshold(
  yTrue: ArrayLike<number>,
  yScore: ArrayLike<number>,
  what = "countsByThreshold",
): { counts: ThresholdCounts[]; nPos: number; nNeg: number } {
  checkLabelsAndScores(what, yTrue, yScore);
  const n = yTrue.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => yScore[b] - yScore[a]);
  const counts: ThresholdCounts[] = [];
  let tp = 0, fp = 0;
  for (let i = 0; i < n;) {
    const t = yScore[order[i]];
    while (i < n && yScore[order[i]] === t) {
      if (yTrue[order[i]] === 1) tp++;
      else fp++;
      i++;
    }
    counts.push({ threshold: t, tp, fp });
  }
  return { counts, nPos: tp, nNeg: fp };
}

/**
 * ROC curve from (0, 0) at threshold Infinity to (1, 1) at the lowest score, one point per distinct
 * score. Throws when yTrue holds one class only (a rate would divide by zero).
 */
export function rocCurve(yTrue: ArrayLike<number>, yScore: ArrayLike<number>): RocPoint[] {
  const { counts, nPos, nNeg } = countsByThreshold(yTrue, yScore, "rocCurve");
  if (nPos === 0 || nNeg === 0) {
    throw new RangeError(
      `rocCurve: undefined with one class only (${nPos} positives, ${nNeg} negatives)`,
    );
  }
  const pts: RocPoint[] = [{ threshold: Infinity, fpr: 0, tpr: 0 }];
  for (const c of counts) pts.push({ threshold: c.threshold, fpr: c.fp / nNeg, tpr: c.tp / nPos });
  return pts;
}

/**
 * Precision-recall curve ordered by increasing threshold (as scikit-learn), ending with the point
 * (recall 0, precision 1). Points above the threshold where full recall is first reached are
 * kept; the ones below it (same recall, lower precision) are dropped, as scikit-learn does.
 * Throws when there are no positive labels (recall undefined).
 */
export function precisionRecallCurve(
  yTrue: ArrayLike<number>,
  yScore: ArrayLike<number>,
): PrPoint[] {
  const { counts, nPos } = countsByThreshold(yTrue, yScore, "precisionRecallCurve");
  if (nPos === 0) {
    throw new RangeError("precisionRecallCurve: no positive labels; recall undefined");
  }
  const desc: PrPoint[] = [];
  for (const c of counts) {
    desc.push({ threshold: c.threshold, precision: c.tp / (c.tp + c.fp), recall: c.tp / nPos });
    if (c.tp === nPos) break;
  }
  const asc = desc.reverse();
  asc.push({ threshold: Infinity, precision: 1, recall: 0 });
  return asc;
}

/**
 * Average precision: sum over thresholds of (R_k - R_{k-1}) * P_k, the step-wise area under the
 * precision-recall curve without interpolation (scikit-learn's `average_precision_score`).
 */
export function averagePrecision(yTrue: ArrayLike<number>, yScore: ArrayLike<number>): number {
  const pts = precisionRecallCurve(yTrue, yScore);
  let ap = 0;
  for (let i = 0; i < pts.length - 1; i++) {
    ap += (pts[i].recall - pts[i + 1].recall) * pts[i].precision;
  }
  return ap;
}

/** Trapezoidal area under a curve given as points sorted by x (used for ROC sanity checks). */
export function trapezoidArea(xs: readonly number[], ys: readonly number[]): number {
  if (xs.length !== ys.length) {
    throw new RangeError(`trapezoidArea: xs has length ${xs.length}, ys has length ${ys.length}`);
  }
  let a = 0;
  for (let i = 1; i < xs.length; i++) a += ((xs[i] - xs[i - 1]) * (ys[i] + ys[i - 1])) / 2;
  return a;
}
