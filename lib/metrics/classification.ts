/**
 * Binary classification metrics as plain functions over plain arrays.
 *
 * Conventions (used everywhere in the project):
 * - labels are 0 (NORMAL) or 1 (PNEUMONIA); scores are probabilities of class 1;
 * - a score is called positive when `score >= threshold`;
 * - a metric that is undefined for the given data (for example sensitivity without any positive
 *   label, precision without any positive prediction) is `NaN`, never a silent 0; ROC-AUC throws
 *   instead, because a caller asking for AUC on one class has a bug or an unusable sample.
 *
 * Written by hand because the npm registry offers no maintained, typed metrics library that works
 * on plain arrays under Deno; every function is checked against scikit-learn values in the tests.
 *
 * @example
 * ```ts
 * import { binaryMetrics, rocAuc } from "./classification.ts";
 * const y = [0, 0, 1, 1], s = [0.1, 0.4, 0.35, 0.8];
 * rocAuc(y, s); // 0.75
 * binaryMetrics(y, s, 0.5).sensitivity; // 0.5
 * ```
 * @module
 */

/** Counts of a binary confusion matrix. */
export interface Confusion {
  tn: number;
  fp: number;
  fn: number;
  tp: number;
}

/** Everything `binaryMetrics` reports at one threshold. */
export interface BinaryMetrics extends Confusion {
  /** (tp + tn) / n. */
  accuracy: number;
  /** Recall, true positive rate: tp / (tp + fn); NaN when there is no positive label. */
  sensitivity: number;
  /** True negative rate: tn / (tn + fp); NaN when there is no negative label. */
  specificity: number;
  /** Positive predictive value: tp / (tp + fp); NaN when nothing is predicted positive. */
  precision: number;
  /** 2tp / (2tp + fp + fn); NaN only when there are no positive labels and no positive predictions. */
  f1: number;
  /** Number of samples. */
  n: number;
}

/** Throws unless `a` and `b` have the same, non-zero length. */
export function checkLengths(what: string, a: ArrayLike<unknown>, b: ArrayLike<unknown>): void {
  if (a.length !== b.length) {
    throw new RangeError(
      `${what}: yTrue has length ${a.length} but the second array has length ${b.length}; ` +
        `they must be paired one to one`,
    );
  }
  if (a.length === 0) throw new RangeError(`${what}: got empty arrays; need at least one sample`);
}

/** Throws unless every label is exactly 0 or 1. */
export function checkBinaryLabels(what: string, y: ArrayLike<number>): void {
  for (let i = 0; i < y.length; i++) {
    if (y[i] !== 0 && y[i] !== 1) {
      throw new RangeError(`${what}: label at index ${i} is ${y[i]}; expected 0 or 1`);
    }
  }
}

/** Throws unless every score is a finite number. */
export function checkScores(what: string, s: ArrayLike<number>): void {
  for (let i = 0; i < s.length; i++) {
    if (!Number.isFinite(s[i])) {
      throw new RangeError(`${what}: score at index ${i} is ${s[i]}; expected a finite number`);
    }
  }
}

/**
 * The checks of every metric on binary labels and scores: same non-zero length, labels 0 or 1,
 * finite scores (in that order; `what` names the caller in the error).
 */
export function checkLabelsAndScores(
  what: string,
  yTrue: ArrayLike<number>,
  yScore: ArrayLike<number>,
): void {
  checkLengths(what, yTrue, yScore);
  checkBinaryLabels(what, yTrue);
  checkScores(what, yScore);
}

/** Confusion counts of 0/1 labels against 0/1 predictions. */
export function confusion(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): Confusion {
  checkLengths("confusion", yTrue, yPred);
  checkBinaryLabels("confusion (yTrue)", yTrue);
  checkBinaryLabels("confusion (yPred)", yPred);
  let tn = 0, fp = 0, fn = 0, tp = 0;
  for (let i = 0; i < yTrue.length; i++) {
    if (yTrue[i] === 1) yPred[i] === 1 ? tp++ : fn++;
    else yPred[i] === 1 ? fp++ : tn++;
  }
  return { tn, fp, fn, tp };
}

/** Metrics derived from confusion counts (see `BinaryMetrics` for when each is NaN). */
export function metricsFromConfusion(c: Confusion): BinaryMetrics {
  const { tn, fp, fn, tp } = c;
  const n = tn + fp + fn + tp;
  const div = (a: number, b: number) => (b === 0 ? NaN : a / b);
  return {
    accuracy: div(tp + tn, n),
    sensitivity: div(tp, tp + fn),
    specificity: div(tn, tn + fp),
    precision: div(tp, tp + fp),
    f1: div(2 * tp, 2 * tp + fp + fn),
    tn,
    fp,
    fn,
    tp,
    n,
  };
}

/**
 * Accuracy, sensitivity, specificity, precision, F1 and the confusion counts at one threshold
 * (`score >= threshold` is positive).
 */
export function binaryMetrics(
  yTrue: ArrayLike<number>,
  yScore: ArrayLike<number>,
  threshold = 0.5,
): BinaryMetrics {
  checkLengths("binaryMetrics", yTrue, yScore);
  checkScores("binaryMetrics", yScore);
  const pred = Array.from(yScore, (s) => (s >= threshold ? 1 : 0));
  return metricsFromConfusion(confusion(yTrue, pred));
}

/**
 * Area under the ROC curve, computed as the Mann-Whitney U statistic with mid-ranks, so tied
 * scores count one half (identical to the trapezoidal area of the ROC curve, and to
 * scikit-learn's `roc_auc_score`). Throws when yTrue holds one class only: AUC is undefined then.
 */
export function rocAuc(yTrue: ArrayLike<number>, yScore: ArrayLike<number>): number {
  checkLabelsAndScores("rocAuc", yTrue, yScore);
  const n = yTrue.length;
  let nPos = 0;
  for (let i = 0; i < n; i++) nPos += yTrue[i];
  const nNeg = n - nPos;
  if (nPos === 0 || nNeg === 0) {
    throw new RangeError(
      `rocAuc: undefined with one class only (${nPos} positives, ${nNeg} negatives among ${n})`,
    );
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => yScore[a] - yScore[b]);
  // Sum of mid-ranks (1-based) of the positives.
  let rankSumPos = 0;
  for (let i = 0; i < n;) {
    let j = i;
    while (j + 1 < n && yScore[order[j + 1]] === yScore[order[i]]) j++;
    const midRank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) if (yTrue[order[k]] === 1) rankSumPos += midRank;
    i = j + 1;
  }
  return (rankSumPos - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}

/**
 * Mean binary cross-entropy (natural log), with scores clipped to [eps, 1 - eps] as Keras does
 * (eps = 1e-7), so a confident wrong answer costs about 16.1 rather than infinity.
 */
export function binaryCrossEntropy(
  yTrue: ArrayLike<number>,
  yScore: ArrayLike<number>,
  eps = 1e-7,
): number {
  checkLabelsAndScores("binaryCrossEntropy", yTrue, yScore);
  let sum = 0;
  for (let i = 0; i < yTrue.length; i++) {
    const p = Math.min(1 - eps, Math.max(eps, yScore[i]));
    sum += yTrue[i] === 1 ? -Math.log(p) : -Math.log(1 - p);
  }
  return sum / yTrue.length;
}

/**
 * The highest threshold t such that sensitivity (`score >= t` counts as positive) is at least
 * `target`: the k-th highest score among the positives, with k = ceil(target * positives).
 * Throws when there are no positives or the target is outside (0, 1].
 */
export function thresholdForSensitivity(
  yTrue: ArrayLike<number>,
  yScore: ArrayLike<number>,
  target = 0.95,
): number {
  checkLabelsAndScores("thresholdForSensitivity", yTrue, yScore);
  if (!(target > 0 && target <= 1)) {
    throw new RangeError(`thresholdForSensitivity: target ${target} must be in (0, 1]`);
  }
  const pos: number[] = [];
  for (let i = 0; i < yTrue.length; i++) if (yTrue[i] === 1) pos.push(yScore[i]);
  if (pos.length === 0) {
    throw new RangeError(
      `thresholdForSensitivity: no positive labels among ${yTrue.length}; sensitivity is undefined`,
    );
  }
  pos.sort((a, b) => b - a);
  // Guard against float error in target * n (e.g. 0.95 * 20 = 19.000000000000004).
  const k = Math.min(pos.length, Math.max(1, Math.ceil(target * pos.length - 1e-9)));
  return pos[k - 1];
}
