/**
 * How far an image lies from the training distribution, measured on the model's own features:
 * the Mahalanobis distance of its penultimate features (`penultimateWith`, `models/features.ts`)
 * from a Gaussian fitted to the training images' features (Lee et al. 2018, "A simple unified
 * framework for detecting out-of-distribution samples"), with a threshold calibrated on the
 * validation images so that a chosen share (95%) of in-distribution images pass.
 *
 * The covariance is shrunk towards a scaled identity (`(1 - s) S + s tr(S)/d I`) so that it is
 * well conditioned with a few thousand images. Plain functions over plain arrays, no TF.js: the
 * browser page runs them too. The linear algebra (Cholesky factorisation and inverse of a
 * 128 x 128 matrix) is written here because no linear-algebra package is a dependency and
 * TF.js has no matrix inverse.
 *
 * @example
 * ```ts
 * import { fitOod, mahalanobis } from "./ood.ts";
 * const fit = fitOod(trainFeats, nTrain, valFeats, nVal, { dim: 128 });
 * mahalanobis(fit, oneImageFeatures) > fit.threshold; // out of distribution
 * ```
 * @module
 */

/** Schema tag of `ood.json`. */
export const OOD_SCHEMA = "xray-ood/1";

/** The fitted feature Gaussian and its calibrated threshold (the feature part of `ood.json`). */
export interface OodFit {
  dim: number;
  mean: number[];
  /** Inverse of the shrunk covariance, row-major dim x dim. */
  precision: number[];
  shrinkage: number;
  /** Distance above which an image is flagged. */
  threshold: number;
  /** Share of validation images at or below the threshold (the target, e.g. 0.95). */
  quantile: number;
  trainImages: number;
  valImages: number;
  /** Validation distances: median, 95th and 99th percentile, maximum. */
  valDistances: { p50: number; p95: number; p99: number; max: number };
}

/** Linear-interpolated quantile (numpy's default) of `values`; NaN when empty. */
export function quantile(values: ArrayLike<number>, q: number): number {
  const v = Float64Array.from(values).sort();
  if (v.length === 0) return NaN;
  const pos = (v.length - 1) * Math.min(1, Math.max(0, q));
  const lo = Math.floor(pos), hi = Math.ceil(pos);
  return v[lo] + (v[hi] - v[lo]) * (pos - lo);
}

/** Lower-triangular L with A = L L^T for a symmetric positive-definite n x n `a` (row-major). */
export function cholesky(a: ArrayLike<number>, n: number): Float64Array {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * n + j];
      for (let k = 0; k < j; k++) s -= l[i * n + k] * l[j * n + k];
      if (i === j) {
        if (!(s > 0)) {
          throw new Error(`cholesky: matrix is not positive definite (pivot ${i} is ${s})`);
        }
        l[i * n + i] = Math.sqrt(s);
      } else l[i * n + j] = s / l[j * n + j];
    }
  }
  return l;
}

/** Inverse of a symmetric positive-definite n x n matrix, through its Cholesky factor. */
export function invertSpd(a: ArrayLike<number>, n: number): Float64Array {
  const l = cholesky(a, n);
  // Solve L Y = I column by column, then L^T X = Y.
  const inv = new Float64Array(n * n);
  const y = new Float64Array(n);
  for (let c = 0; c < n; c++) {
    for (let i = 0; i < n; i++) {
      let s = i === c ? 1 : 0;
      for (let k = 0; k < i; k++) s -= l[i * n + k] * y[k];
      y[i] = s / l[i * n + i];
    }
    for (let i = n - 1; i >= 0; i--) {
      let s = y[i];
      for (let k = i + 1; k < n; k++) s -= l[k * n + i] * inv[k * n + c];
      inv[i * n + c] = s / l[i * n + i];
    }
  }
  return inv;
}

/** Mahalanobis distance of one feature vector from the fitted Gaussian. */
export function mahalanobis(
  fit: Pick<OodFit, "dim" | "mean" | "precision">,
  f: ArrayLike<number>,
): number {
  const d = fit.dim;
  if (f.length !== d) {
    throw new RangeError(`mahalanobis: ${f.length} features, the fit has ${d} (another model?)`);
  }
  const diff = new Float64Array(d);
  for (let i = 0; i < d; i++) diff[i] = f[i] - fit.mean[i];
  let s = 0;
  for (let i = 0; i < d; i++) {
    let row = 0;
    for (let j = 0; j < d; j++) row += fit.precision[i * d + j] * diff[j];
    s += diff[i] * row;
  }
  return Math.sqrt(Math.max(0, s));
}

/**
 * Fits the Gaussian on `nTrain` training feature vectors (row-major, `dim` each) and sets the
 * threshold at the `quantile` (default 0.95) of the `nVal` validation distances.
 */
export function fitOod(
  train: Float32Array,
  nTrain: number,
  val: Float32Array,
  nVal: number,
  opts: { dim: number; quantile?: number; shrinkage?: number },
): OodFit {
  const d = opts.dim, q = opts.quantile ?? 0.95, s = opts.shrinkage ?? 0.1;
  if (train.length !== nTrain * d || val.length !== nVal * d) {
    throw new RangeError(
      `fitOod: ${train.length} train and ${val.length} val values for ${nTrain} and ${nVal} ` +
        `vectors of ${d}`,
    );
  }
  if (nTrain < 2 || nVal < 1) {
    throw new Error(
      `fitOod: needs at least 2 training and 1 validation image, got ${nTrain}, ${nVal}`,
    );
  }
  const mean = new Float64Array(d);
  for (let i = 0; i < nTrain; i++) for (let j = 0; j < d; j++) mean[j] += train[i * d + j];
  for (let j = 0; j < d; j++) mean[j] /= nTrain;
  const cov = new Float64Array(d * d);
  const x = new Float64Array(d);
  for (let i = 0; i < nTrain; i++) {
    for (let j = 0; j < d; j++) x[j] = train[i * d + j] - mean[j];
    for (let a = 0; a < d; a++) for (let b = 0; b <= a; b++) cov[a * d + b] += x[a] * x[b];
  }
  let trace = 0;
  for (let a = 0; a < d; a++) {
    for (let b = 0; b <= a; b++) cov[b * d + a] = cov[a * d + b] /= nTrain - 1;
    trace += cov[a * d + a];
  }
  // Features that never vary (dead units) still need a positive variance.
  const target = Math.max(trace / d, 1e-6);
  for (let a = 0; a < d; a++) {
    for (let b = 0; b < d; b++) cov[a * d + b] *= 1 - s;
    cov[a * d + a] += s * target;
  }
  const fit = { dim: d, mean: Array.from(mean), precision: Array.from(invertSpd(cov, d)) };
  const dist = Array.from(
    { length: nVal },
    (_, i) => mahalanobis(fit, val.subarray(i * d, (i + 1) * d)),
  );
  return {
    ...fit,
    shrinkage: s,
    threshold: quantile(dist, q),
    quantile: q,
    trainImages: nTrain,
    valImages: nVal,
    valDistances: {
      p50: quantile(dist, 0.5),
      p95: quantile(dist, 0.95),
      p99: quantile(dist, 0.99),
      max: Math.max(...dist),
    },
  };
}
