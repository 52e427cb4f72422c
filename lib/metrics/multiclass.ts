/**
 * Three-class metrics (normal / bacterial / viral): confusion matrix, per-class one-vs-rest
 * precision, recall (sensitivity), specificity and F1, and the bacterial-vs-viral comparison with
 * Kermany et al. 2018.
 *
 * @example
 * ```ts
 * import { multiclassReport, argmaxRows } from "./multiclass.ts";
 * const rep = multiclassReport(yTrue, argmaxRows(probs, 3), ["normal", "bacteria", "virus"]);
 * rep.perClass[1].recall; // sensitivity for bacterial pneumonia
 * ```
 * @module
 */

import { checkLengths, metricsFromConfusion } from "./classification.ts";

/**
 * Figures of Kermany et al. 2018, "Identifying Medical Diagnoses and Treatable Diseases by
 * Image-Based Deep Learning", Cell 172(5):1122-1131, on their held-out pediatric chest X-ray test
 * set (transfer learning from Inception V3). Which class is positive in bacterial vs viral is not
 * spelled out there; this project compares with bacterial as the positive class.
 */
export const KERMANY_2018 = {
  citation: "Kermany DS, Goldbaum M, Cai W, et al. Identifying Medical Diagnoses and Treatable " +
    "Diseases by Image-Based Deep Learning. Cell. 2018;172(5):1122-1131.e9. " +
    "doi:10.1016/j.cell.2018.02.010",
  pneumoniaVsNormal: { auc: 0.968, sensitivity: 0.932, specificity: 0.901 },
  bacterialVsViral: { accuracy: 0.907, sensitivity: 0.886, specificity: 0.909 },
} as const;

/** Index of the largest value of each row of a flat N x k array (ties: the first). */
export function argmaxRows(flat: ArrayLike<number>, k: number): number[] {
  if (flat.length % k !== 0) {
    throw new RangeError(`argmaxRows: ${flat.length} values is not a whole number of rows of ${k}`);
  }
  const out: number[] = [];
  for (let i = 0; i < flat.length; i += k) {
    let best = 0;
    for (let j = 1; j < k; j++) if (flat[i + j] > flat[i + best]) best = j;
    out.push(best);
  }
  return out;
}

/** `m[i][j]` = samples of true class i predicted as j; labels must be integers in [0, k). */
export function confusionMatrix(
  yTrue: ArrayLike<number>,
  yPred: ArrayLike<number>,
  k: number,
): number[][] {
  checkLengths("confusionMatrix", yTrue, yPred);
  const m = Array.from({ length: k }, () => new Array(k).fill(0));
  for (let i = 0; i < yTrue.length; i++) {
    const t = yTrue[i], p = yPred[i];
    if (!Number.isInteger(t) || t < 0 || t >= k || !Number.isInteger(p) || p < 0 || p >= k) {
      throw new RangeError(
        `confusionMatrix: sample ${i} has true ${t}, predicted ${p}; expected integers in [0, ${k})`,
      );
    }
    m[t][p]++;
  }
  return m;
}

/** One-vs-rest metrics of one class. */
export interface ClassMetrics {
  name: string;
  /** True samples of this class. */
  support: number;
  precision: number;
  /** Sensitivity. */
  recall: number;
  specificity: number;
  f1: number;
}

/** Everything the three-class chapter shows. */
export interface MulticlassReport {
  labels: string[];
  matrix: number[][];
  accuracy: number;
  perClass: ClassMetrics[];
  /** Unweighted means over classes (NaN entries make the mean NaN: a class was never seen). */
  macro: { precision: number; recall: number; f1: number };
  n: number;
}

/** Confusion matrix, accuracy, per-class and macro metrics. */
export function multiclassReport(
  yTrue: ArrayLike<number>,
  yPred: ArrayLike<number>,
  labels: readonly string[],
): MulticlassReport {
  const k = labels.length;
  const matrix = confusionMatrix(yTrue, yPred, k);
  const n = yTrue.length;
  let correct = 0;
  for (let i = 0; i < k; i++) correct += matrix[i][i];
  const perClass = labels.map((name, c) => {
    const tp = matrix[c][c];
    const fn = matrix[c].reduce((a, b) => a + b, 0) - tp;
    const fp = matrix.reduce((a, row) => a + row[c], 0) - tp;
    const m = metricsFromConfusion({ tp, fn, fp, tn: n - tp - fn - fp });
    return {
      name,
      support: tp + fn,
      precision: m.precision,
      recall: m.sensitivity,
      specificity: m.specificity,
      f1: m.f1,
    };
  });
  const mean = (key: "precision" | "recall" | "f1") => perClass.reduce((a, c) => a + c[key], 0) / k;
  return {
    labels: [...labels],
    matrix,
    accuracy: correct / n,
    perClass,
    macro: { precision: mean("precision"), recall: mean("recall"), f1: mean("f1") },
    n,
  };
}

/**
 * Bacterial vs viral on the pneumonia images only (true class 1 = bacteria or 2 = virus), as in
 * Kermany et al.: bacterial is positive; an image is called bacterial when
 * P(bacteria) >= P(virus). `probs` is the flat N x 3 softmax output (normal, bacteria, virus).
 */
export function bacterialVsViral(
  yTrue: ArrayLike<number>,
  probs: ArrayLike<number>,
): { accuracy: number; sensitivity: number; specificity: number; n: number } {
  if (probs.length !== yTrue.length * 3) {
    throw new RangeError(
      `bacterialVsViral: ${yTrue.length} labels need ${
        yTrue.length * 3
      } probabilities, got ${probs.length}`,
    );
  }
  let tp = 0, fn = 0, fp = 0, tn = 0;
  for (let i = 0; i < yTrue.length; i++) {
    if (yTrue[i] === 0) continue;
    const calledBacterial = probs[i * 3 + 1] >= probs[i * 3 + 2];
    if (yTrue[i] === 1) calledBacterial ? tp++ : fn++;
    else calledBacterial ? fp++ : tn++;
  }
  const m = metricsFromConfusion({ tp, fn, fp, tn });
  return { accuracy: m.accuracy, sensitivity: m.sensitivity, specificity: m.specificity, n: m.n };
}
