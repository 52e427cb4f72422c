/**
 * Per-epoch metrics and the decision threshold, computed with H6's plain metric functions.
 * @module
 */
import {
  binaryCrossEntropy,
  binaryMetrics,
  type BinaryMetrics,
  rocAuc,
  thresholdForSensitivity,
} from "../metrics/classification.ts";

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

/** ROC-AUC, or NaN when undefined (one class only). */
export function safeAuc(y: ArrayLike<number>, p: ArrayLike<number>): number {
  try {
    return rocAuc(y, p);
  } catch {
    return NaN;
  }
}

/** Metrics at 0.5 for binary labels `y` and P(pneumonia) `p`; `loss` defaults to the BCE. */
export function epochMetrics(y: ArrayLike<number>, p: ArrayLike<number>, loss?: number): EpochMetrics {
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
