/**
 * Per-epoch metrics and the decision threshold, computed with the plain metric functions of
 * lib/metrics/.
 * @module
 */
import {
  binaryCrossEntropy,
  type BinaryMetrics,
  binaryMetrics,
  rocAuc,
  thresholdForSensitivity,
} from "../metrics/classification.ts";
import { formatMetric } from "../metrics/format.ts";

/** One split's metrics for one epoch (at threshold 0.5). */
export interface EpochMetrics {
  loss: number;
  accuracy: number;
  recall: number;
  precision: number;
  f1: number;
  /** NaN when the split has one class only. */
  auc: number;
}

/** What {@link epochLogLine} prints for one epoch. */
export interface EpochLog {
  epoch: number;
  epochs: number;
  train: EpochMetrics;
  val: EpochMetrics;
  timeS: number;
  /** Whether this epoch's model was kept (marked `*`). */
  improved: boolean;
  /** First epoch of the weight average the validation figures are of, when averaging. */
  averagedFrom?: number;
}

/**
 * The training log line of one epoch; an undefined metric (precision with no positive
 * prediction, AUC with one class) reads `n/a`, as in the report's tables.
 */
export function epochLogLine(e: EpochLog): string {
  const f = (v: number) => formatMetric(v, 4);
  const t = e.train, v = e.val;
  return `epoch ${e.epoch}/${e.epochs} loss ${f(t.loss)} acc ${f(t.accuracy)} auc ${f(t.auc)} | ` +
    `val loss ${f(v.loss)} acc ${f(v.accuracy)} rec ${f(v.recall)} prec ${f(v.precision)} ` +
    `f1 ${f(v.f1)} auc ${f(v.auc)} | ${e.timeS.toFixed(1)} s${e.improved ? " *" : ""}` +
    (e.averagedFrom !== undefined ? ` (val: mean of epochs ${e.averagedFrom}-${e.epoch})` : "");
}

/** ROC-AUC, or NaN when undefined (one class only). */
export function safeAuc(y: ArrayLike<number>, p: ArrayLike<number>): number {
  try {
    return rocAuc(y, p);
  } catch {
    return NaN;
  }
}

/** Metrics at 0.5 for binary labels `y` and P(pneumonia) `p`; `loss` defaults to the BCE. */
export function epochMetrics(
  y: ArrayLike<number>,
  p: ArrayLike<number>,
  loss?: number,
): EpochMetrics {
  const m = binaryMetrics(y, p, 0.5);
  return {
    loss: loss ?? binaryCrossEntropy(y, p),
    accuracy: m.accuracy,
    recall: m.sensitivity,
    precision: m.precision,
    f1: m.f1,
    auc: safeAuc(y, p),
  };
}

/** The decision threshold of a run and the validation metrics behind it (threshold.json). */
export interface ThresholdRecord {
  threshold: number;
  policy: string;
  targetSensitivity: number;
  /** Which predictions it was chosen on. */
  chosenOn: string;
  n: number;
  auc: number;
  atThreshold: BinaryMetrics;
  at05: BinaryMetrics;
  /** With a margin policy: the threshold each candidate set of predictions gave. */
  candidates?: Record<string, number>;
}

/**
 * The policy with a margin for acquisition shift: the threshold is the lower of (a) the default
 * policy on the clean validation predictions and (b) the same policy on the validation images
 * pooled with `perturbed` seeded augmented copies of them, so that sensitivity >= target holds on
 * both. Metrics stored beside it are on the clean validation predictions.
 */
export function chooseThresholdWithMargin(
  y: number[],
  p: number[],
  perturbed: number[][],
  target = 0.95,
): ThresholdRecord {
  const clean = chooseThreshold(y, p, target);
  const yAll = [...y, ...perturbed.flatMap(() => y)];
  const pAll = [...p, ...perturbed.flat()];
  const hard = thresholdForSensitivity(yAll, pAll, target);
  const threshold = Math.min(clean.threshold, hard);
  return {
    ...clean,
    threshold,
    policy: `lower of the highest thresholds with sensitivity >= ${target} on val and on val ` +
      `pooled with ${perturbed.length} augmented copies`,
    chosenOn: `val + ${perturbed.length} augmented copies`,
    atThreshold: binaryMetrics(y, p, threshold),
    candidates: { val: clean.threshold, valPerturbed: hard },
  };
}

/**
 * The default policy: the highest threshold that keeps validation sensitivity >= `target`;
 * validation metrics at that threshold and at 0.5 are stored beside it.
 */
export function chooseThreshold(
  y: ArrayLike<number>,
  p: ArrayLike<number>,
  target = 0.95,
  chosenOn = "val",
): ThresholdRecord {
  const threshold = thresholdForSensitivity(y, p, target);
  return {
    threshold,
    policy: `highest threshold with ${chosenOn} sensitivity >= ${target}`,
    targetSensitivity: target,
    chosenOn,
    n: y.length,
    auc: safeAuc(y, p),
    atThreshold: binaryMetrics(y, p, threshold),
    at05: binaryMetrics(y, p, 0.5),
  };
}
