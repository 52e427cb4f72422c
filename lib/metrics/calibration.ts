/**
 * Calibration: reliability diagram bins, expected calibration error, Brier score, and temperature
 * scaling fitted on validation logits and stored with the run.
 *
 * Temperature scaling (Guo et al. 2017) divides the logit by one scalar T fitted to minimise the
 * validation negative log-likelihood; it changes probabilities but not the ranking (AUC is
 * unchanged). The NLL of sigmoid(a * z) is convex in a = 1/T, so a golden-section search over a is
 * exact up to its tolerance; it is written by hand because it is twenty lines and no npm
 * optimisation package is worth a dependency for one scalar.
 *
 * @example
 * ```ts
 * import { fitTemperature, applyTemperature, probsToLogits } from "./calibration.ts";
 * const fit = fitTemperature(yVal, probsToLogits(pVal));
 * const calibrated = applyTemperature(probsToLogits(pTest), fit.temperature);
 * ```
 * @module
 */

import { join } from "node:path";
import { readJson, writeJsonAtomic } from "../util/atomic.ts";
import { binaryCrossEntropy, checkLabelsAndScores } from "./classification.ts";

/** One bin of a reliability diagram. */
export interface ReliabilityBin {
  /** Lower edge (inclusive). */
  lo: number;
  /** Upper edge (exclusive, except the last bin which includes 1). */
  hi: number;
  /** Samples in the bin. */
  count: number;
  /** Mean predicted probability in the bin (NaN when empty). */
  meanPredicted: number;
  /** Observed fraction of positives in the bin (NaN when empty). */
  fractionPositive: number;
}

function checkProbs(what: string, yTrue: ArrayLike<number>, p: ArrayLike<number>): void {
  checkLabelsAndScores(what, yTrue, p);
  for (let i = 0; i < p.length; i++) {
    if (p[i] < 0 || p[i] > 1) {
      throw new RangeError(`${what}: probability at index ${i} is ${p[i]}; expected [0, 1]`);
    }
  }
}

/** Equal-width bins over [0, 1]: bin k holds probabilities in [k/n, (k+1)/n). */
export function reliabilityBins(
  yTrue: ArrayLike<number>,
  yProb: ArrayLike<number>,
  nBins = 10,
): ReliabilityBin[] {
  checkProbs("reliabilityBins", yTrue, yProb);
  if (!Number.isInteger(nBins) || nBins < 1) {
    throw new RangeError(`reliabilityBins: nBins ${nBins} must be a positive integer`);
  }
  const count = new Array(nBins).fill(0), sumP = new Array(nBins).fill(0);
  const sumY = new Array(nBins).fill(0);
  for (let i = 0; i < yTrue.length; i++) {
    const k = Math.min(nBins - 1, Math.floor(yProb[i] * nBins));
    count[k]++;
    sumP[k] += yProb[i];
    sumY[k] += yTrue[i];
  }
  return count.map((c, k) => ({
    lo: k / nBins,
    hi: (k + 1) / nBins,
    count: c,
    meanPredicted: c ? sumP[k] / c : NaN,
    fractionPositive: c ? sumY[k] / c : NaN,
  }));
}

/**
 * Expected calibration error: the count-weighted mean over bins of
 * |fraction of positives - mean predicted probability| (binary, equal-width bins).
 */
export function expectedCalibrationError(
  yTrue: ArrayLike<number>,
  yProb: ArrayLike<number>,
  nBins = 10,
): number {
  const bins = reliabilityBins(yTrue, yProb, nBins);
  let ece = 0;
  for (const b of bins) {
    if (b.count) ece += (b.count / yTrue.length) * Math.abs(b.fractionPositive - b.meanPredicted);
  }
  return ece;
}

/** Brier score: mean squared difference between probability and 0/1 label. */
export function brierScore(yTrue: ArrayLike<number>, yProb: ArrayLike<number>): number {
  checkProbs("brierScore", yTrue, yProb);
  let s = 0;
  for (let i = 0; i < yTrue.length; i++) s += (yProb[i] - yTrue[i]) ** 2;
  return s / yTrue.length;
}

/** Logistic function. */
export function sigmoid(z: number): number {
  return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
}

/** Logits of probabilities, clipped to [eps, 1 - eps] first (eps = 1e-7, as Keras). */
export function probsToLogits(p: ArrayLike<number>, eps = 1e-7): number[] {
  return Array.from(p, (v) => {
    const q = Math.min(1 - eps, Math.max(eps, v));
    return Math.log(q / (1 - q));
  });
}

/** Probabilities sigmoid(z / T). */
export function applyTemperature(logits: ArrayLike<number>, temperature: number): number[] {
  if (!(temperature > 0) || !Number.isFinite(temperature)) {
    throw new RangeError(
      `applyTemperature: temperature ${temperature} must be positive and finite`,
    );
  }
  return Array.from(logits, (z) => sigmoid(z / temperature));
}

/** Temperature fitted on validation, as stored with a run in `calibration.json`. */
export interface TemperatureFit {
  temperature: number;
  /** Validation NLL before (T = 1) and after scaling. */
  nllBefore: number;
  nllAfter: number;
  /** ECE (10 bins) before and after, on the data the fit used. */
  eceBefore: number;
  eceAfter: number;
  /** Samples used. */
  n: number;
}

/**
 * Fits T in [minT, maxT] minimising the mean NLL of sigmoid(z / T) by golden-section search on
 * a = 1 / T (NLL is convex in a). Default range [0.05, 20].
 */
export function fitTemperature(
  yTrue: ArrayLike<number>,
  logits: ArrayLike<number>,
  opts: { minT?: number; maxT?: number; tol?: number } = {},
): TemperatureFit {
  checkLabelsAndScores("fitTemperature", yTrue, logits);
  const minT = opts.minT ?? 0.05, maxT = opts.maxT ?? 20, tol = opts.tol ?? 1e-7;
  const nll = (a: number) => binaryCrossEntropy(yTrue, applyTemperature(logits, 1 / a), 1e-12);
  let lo = 1 / maxT, hi = 1 / minT;
  const g = (Math.sqrt(5) - 1) / 2;
  let x1 = hi - g * (hi - lo), x2 = lo + g * (hi - lo);
  let f1 = nll(x1), f2 = nll(x2);
  while (hi - lo > tol) {
    if (f1 <= f2) {
      hi = x2, x2 = x1, f2 = f1;
      x1 = hi - g * (hi - lo), f1 = nll(x1);
    } else {
      lo = x1, x1 = x2, f1 = f2;
      x2 = lo + g * (hi - lo), f2 = nll(x2);
    }
  }
  const a = (lo + hi) / 2, temperature = 1 / a;
  const before = applyTemperature(logits, 1), after = applyTemperature(logits, temperature);
  return {
    temperature,
    nllBefore: nll(1),
    nllAfter: nll(a),
    eceBefore: expectedCalibrationError(yTrue, before),
    eceAfter: expectedCalibrationError(yTrue, after),
    n: yTrue.length,
  };
}

/** File name of the temperature stored in a run folder. */
export const CALIBRATION_FILE = "calibration.json";

/** Writes the fit to `<runDir>/calibration.json` (atomic), with what it was fitted on. */
export async function writeCalibration(
  runDir: string,
  fit: TemperatureFit,
  fittedOn = "val_predictions.csv",
): Promise<string> {
  const path = join(runDir, CALIBRATION_FILE);
  await writeJsonAtomic(path, { method: "temperature", fittedOn, ...fit });
  return path;
}

/** Reads `<runDir>/calibration.json`, or null when the run has none. */
export async function readCalibration(
  runDir: string,
): Promise<(TemperatureFit & { method: string; fittedOn: string }) | null> {
  const path = join(runDir, CALIBRATION_FILE);
  try {
    await Deno.stat(path);
  } catch {
    return null;
  }
  const v = await readJson<TemperatureFit & { method: string; fittedOn: string }>(path);
  if (!(v.temperature > 0)) {
    throw new Error(`${path}: expected a positive "temperature", got ${v.temperature}`);
  }
  return v;
}
