/**
 * Adaptation to a new site without its labels: a site has images long before it has diagnoses.
 *
 * - **AdaBN** (Li et al. 2016, "Revisiting batch normalization for practical domain adaptation"):
 *   the batch-norm moving statistics are re-estimated on the new site's images, so every layer
 *   sees its input standardised by the site's own means and variances. {@link adaptBatchNorm}
 *   runs training-mode forward passes over the site's images with each batch-norm layer's
 *   momentum set so that its moving statistics become the image-weighted average of the batch
 *   statistics (no weight changes).
 * - **Prior correction** (Saerens, Latinne, Decaestecker 2002, "Adjusting the outputs of a
 *   classifier to new a priori probabilities: a simple procedure", Neural Computation 14:21-41):
 *   {@link emPrior} estimates the share of pneumonia at the site from the model's unlabelled
 *   scores by EM, and {@link priorCorrection} moves the scores from the prior of the data the
 *   threshold was chosen on (validation, estimated the same way) to the site's prior.
 *
 * @example
 * ```ts
 * import { adaptBatchNorm, priorCorrection } from "./adapt.ts";
 * adaptBatchNorm(run.model, sitePixels, nSite, run.preprocessing); // in place
 * const pc = priorCorrection(siteScores, valScores, 0.5);
 * pc.scores; // compare with the stored threshold
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";
import { normalisePixels } from "../models/preprocessing.ts";
import type { Preprocessing } from "../models/types.ts";

/** What `--adapt` can ask for. */
export type AdaptMode = "none" | "bn" | "prior" | "bn+prior";

/** The adaptation modes, for argument checking. */
export const ADAPT_MODES: readonly AdaptMode[] = ["none", "bn", "prior", "bn+prior"];

/** The two switches of a mode; an unknown mode is an error listing the known ones. */
export function parseAdapt(mode: string): { bn: boolean; prior: boolean } {
  if (!(ADAPT_MODES as readonly string[]).includes(mode)) {
    throw new Error(`--adapt "${mode}" is not one of ${ADAPT_MODES.join(", ")}`);
  }
  return {
    bn: mode === "bn" || mode === "bn+prior",
    prior: mode === "prior" || mode === "bn+prior",
  };
}

/** A batch-norm layer as tfjs-layers has it (the momentum is read at each call). */
interface BatchNormLike {
  momentum: number;
}

/** Every batch-norm layer of `model`, nested models (a pretrained base) included, in order. */
export function batchNormLayers(model: tfl.LayersModel): (tfl.layers.Layer & BatchNormLike)[] {
  const out: (tfl.layers.Layer & BatchNormLike)[] = [];
  const visit = (layers: tfl.layers.Layer[]) => {
    for (const l of layers) {
      if (l.getClassName() === "BatchNormalization") {
        out.push(l as tfl.layers.Layer & BatchNormLike);
      }
      const inner = (l as unknown as { layers?: tfl.layers.Layer[] }).layers;
      if (Array.isArray(inner)) visit(inner);
    }
  };
  visit(model.layers);
  return out;
}

/** What {@link adaptBatchNorm} did. */
export interface BatchNormAdaptation {
  /** Batch-norm layers whose statistics were replaced. */
  layers: number;
  /** Images the statistics were estimated on. */
  images: number;
}

/**
 * AdaBN in place: replaces the moving mean and variance of every batch-norm layer with the
 * average, weighted by batch size, of the batch statistics over the `n` images in `pixels`
 * (uint8 HWC at the run's preprocessing, as `loadRunImages` returns them). Each batch is a
 * training-mode forward pass (so a layer's statistics are those of its input when the layers
 * before it normalise with the site's batches, as in AdaBN), with momentum
 * `seen / (seen + batch)`: after the last batch the moving statistics are the running average.
 * The average of batch variances slightly underestimates the pooled variance (it leaves out the
 * spread of the batch means); large batches keep that small. Momenta are restored afterwards.
 */
export function adaptBatchNorm(
  model: tfl.LayersModel,
  pixels: Uint8Array,
  n: number,
  pre: Preprocessing,
  opts: { batch?: number } = {},
): BatchNormAdaptation {
  const bns = batchNormLayers(model);
  const bytes = pre.size * pre.size * pre.channels;
  if (pixels.length < n * bytes) {
    throw new RangeError(
      `adaptBatchNorm: ${n} images of ${pre.size}x${pre.size}x${pre.channels} need ` +
        `${n * bytes} bytes, got ${pixels.length}`,
    );
  }
  if (bns.length === 0 || n === 0) return { layers: bns.length, images: 0 };
  const batch = opts.batch ?? 64;
  const saved = bns.map((l) => l.momentum);
  let seen = 0;
  try {
    for (let start = 0; start < n; start += batch) {
      const b = Math.min(batch, n - start);
      // Momentum m keeps m of the old statistics: seen / (seen + b) gives a running average.
      for (const l of bns) l.momentum = seen / (seen + b);
      const x = normalisePixels(pre, pixels.subarray(start * bytes, (start + b) * bytes));
      tf.tidy(() => {
        model.apply(tf.tensor4d(x, [b, pre.size, pre.size, pre.channels]), { training: true });
      });
      seen += b;
    }
  } finally {
    bns.forEach((l, i) => (l.momentum = saved[i]));
  }
  return { layers: bns.length, images: seen };
}

/** The outcome of {@link emPrior}. */
export interface PriorEstimate {
  /** Estimated share of positives (pneumonia) in the scored images. */
  prior: number;
  iterations: number;
  converged: boolean;
}

const clampP = (p: number) => Math.min(1 - 1e-7, Math.max(1e-7, p));

/**
 * Moves posteriors P(pneumonia | x) computed under prior `from` to prior `to` (Bayes' rule with
 * the class-conditional likelihoods unchanged): odds are multiplied by
 * `[to / (1 - to)] / [from / (1 - from)]`. Monotone, so the ranking (ROC-AUC) is unchanged.
 */
export function shiftPrior(p: ArrayLike<number>, from: number, to: number): number[] {
  for (const [name, v] of [["from", from], ["to", to]] as const) {
    if (!(v > 0 && v < 1)) throw new RangeError(`shiftPrior: prior ${name} = ${v} not in (0, 1)`);
  }
  const r1 = to / from, r0 = (1 - to) / (1 - from);
  return Array.from(p, (q) => {
    const a = r1 * clampP(q), b = r0 * (1 - clampP(q));
    return a / (a + b);
  });
}

/**
 * EM estimate of the positive share among unlabelled images (Saerens et al. 2002): starting from
 * `basePrior`, the prior the posteriors `p` were computed under, alternate adjusting the
 * posteriors to the current estimate (E step) and setting the estimate to their mean (M step),
 * until it moves less than `tol`.
 */
export function emPrior(
  p: ArrayLike<number>,
  basePrior: number,
  opts: { maxIter?: number; tol?: number } = {},
): PriorEstimate {
  if (p.length === 0) throw new RangeError("emPrior: no scores");
  if (!(basePrior > 0 && basePrior < 1)) {
    throw new RangeError(`emPrior: base prior ${basePrior} not in (0, 1)`);
  }
  for (let i = 0; i < p.length; i++) {
    if (!(p[i] >= 0 && p[i] <= 1)) {
      throw new RangeError(`emPrior: score ${i} = ${p[i]} not in [0, 1]`);
    }
  }
  const maxIter = opts.maxIter ?? 1000, tol = opts.tol ?? 1e-8;
  let prior = basePrior;
  for (let it = 1; it <= maxIter; it++) {
    const adjusted = shiftPrior(p, basePrior, prior);
    const next = adjusted.reduce((s, q) => s + q, 0) / adjusted.length;
    const bounded = Math.min(1 - 1e-6, Math.max(1e-6, next));
    if (Math.abs(bounded - prior) < tol) return { prior: bounded, iterations: it, converged: true };
    prior = bounded;
  }
  return { prior, iterations: maxIter, converged: false };
}

/** What {@link priorCorrection} returns. */
export interface PriorCorrection {
  /** The prior the model's posteriors are taken to be computed under (see `basePrior`). */
  basePrior: number;
  /** EM estimate on the reference scores (the validation split the threshold was chosen on). */
  reference: PriorEstimate;
  /** EM estimate on the site's scores. */
  site: PriorEstimate;
  /** The site's scores moved from the reference prior to the site prior. */
  scores: number[];
}

/**
 * Prior correction of a site's scores for use with a threshold chosen on reference (validation)
 * scores: both priors are estimated by EM from the same base prior, and the site's scores are
 * moved from the reference's prior to the site's, so the stored threshold keeps its meaning
 * (same odds of pneumonia) at the site's prevalence. `basePrior`: the prior the loss was
 * minimised under (0.5 with class weights or resampling to balance, else the training share).
 */
export function priorCorrection(
  siteScores: ArrayLike<number>,
  referenceScores: ArrayLike<number>,
  basePrior: number,
): PriorCorrection {
  const reference = emPrior(referenceScores, basePrior);
  const site = emPrior(siteScores, basePrior);
  return {
    basePrior,
    reference,
    site,
    scores: shiftPrior(siteScores, reference.prior, site.prior),
  };
}
