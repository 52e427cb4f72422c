/**
 * Mixup (Zhang et al. 2018, "mixup: Beyond Empirical Risk Minimization"): each training batch is
 * replaced by convex combinations of its images and of their targets, x = l x_i + (1 - l) x_j and
 * y = l y_i + (1 - l) y_j, with j a seeded permutation of the batch and one l ~ Beta(a, a) per
 * batch; the per-image loss weights (class weights) mix the same way. A regulariser that makes
 * the model's score change linearly between training images, which is reported to help ranking
 * and calibration away from the training distribution. Config `mixup: a` (`--mixup A`); a = 0.2
 * is the paper's ImageNet setting.
 *
 * Written by hand: TF.js has no Beta or Gamma sampler that takes our seeded generator, and the
 * mixing is a few lines over the batch arrays the training step already builds.
 *
 * @example
 * ```ts
 * import { mixBatch } from "./mixup.ts";
 * mixBatch({ x, y, w, n: 32, imageSize: 128 * 128, outDim: 1 }, makeRng(7), 0.2); // in place
 * ```
 * @module
 */
import type { Rng } from "../util/rng.ts";

/** A standard normal draw (Box-Muller) from `rng`. */
function normal(rng: Rng): number {
  const u = Math.max(rng(), 1e-12), v = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/**
 * A Gamma(shape, 1) draw: Marsaglia and Tsang (2000), with the shape + 1 boost (times U^(1/shape))
 * for shapes below 1.
 */
export function gammaSample(rng: Rng, shape: number): number {
  if (!(shape > 0)) throw new Error(`gammaSample: shape ${shape} must be > 0`);
  if (shape < 1) return gammaSample(rng, shape + 1) * Math.pow(Math.max(rng(), 1e-12), 1 / shape);
  const d = shape - 1 / 3, c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number, v: number;
    do {
      x = normal(rng);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = rng();
    if (u < 1 - 0.0331 * x ** 4 || Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) {
      return d * v;
    }
  }
}

/** A Beta(a, b) draw from two Gamma draws. */
export function betaSample(rng: Rng, a: number, b = a): number {
  const x = gammaSample(rng, a), y = gammaSample(rng, b);
  return x + y > 0 ? x / (x + y) : 0.5;
}

/** One training batch as the step takes it. */
export interface MixableBatch {
  /** n images of `imageSize` values each (model input, already normalised). */
  x: Float32Array;
  /** n targets of `outDim` values each (labels, or one-hot rows). */
  y: Float32Array;
  /** n loss weights. */
  w: Float32Array;
  n: number;
  imageSize: number;
  outDim: number;
}

/**
 * Mixes the batch in place (see the module doc) with l ~ Beta(`alpha`, `alpha`) and a partner
 * permutation, both drawn from `rng`; returns l and the partners.
 */
export function mixBatch(
  b: MixableBatch,
  rng: Rng,
  alpha: number,
): { lambda: number; partner: number[] } {
  if (!(alpha > 0)) throw new Error(`mixup: alpha ${alpha} must be > 0`);
  const { n, imageSize: s, outDim: d } = b;
  if (b.x.length !== n * s || b.y.length !== n * d || b.w.length !== n) {
    throw new Error(
      `mixup: a batch of ${n} needs ${n * s} inputs, ${n * d} targets and ${n} weights ` +
        `(got ${b.x.length}, ${b.y.length}, ${b.w.length})`,
    );
  }
  const lambda = betaSample(rng, alpha);
  const partner = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [partner[i], partner[j]] = [partner[j], partner[i]];
  }
  const x0 = b.x.slice(), y0 = b.y.slice(), w0 = b.w.slice();
  const mu = 1 - lambda;
  for (let i = 0; i < n; i++) {
    const j = partner[i];
    for (let k = 0; k < s; k++) b.x[i * s + k] = lambda * x0[i * s + k] + mu * x0[j * s + k];
    for (let k = 0; k < d; k++) b.y[i * d + k] = lambda * y0[i * d + k] + mu * y0[j * d + k];
    b.w[i] = lambda * w0[i] + mu * w0[j];
  }
  return { lambda, partner };
}
