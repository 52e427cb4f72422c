import assert from "node:assert/strict";
import { cholesky, fitOod, invertSpd, mahalanobis, quantile } from "../../lib/metrics/ood.ts";
import { makeRng } from "../../lib/util/rng.ts";

Deno.test("quantile interpolates as numpy's default", () => {
  assert.equal(quantile([1, 2, 3, 4], 0.5), 2.5);
  assert.equal(quantile([10, 0, 5], 0.95), 9.5); // sorted 0 5 10; pos 1.9
  assert.ok(Number.isNaN(quantile([], 0.5)));
});

Deno.test("cholesky and invertSpd on a hand-worked matrix", () => {
  // A = [[4, 2], [2, 3]]: L = [[2, 0], [1, sqrt 2]], A^-1 = [[3, -2], [-2, 4]] / 8.
  const l = cholesky([4, 2, 2, 3], 2);
  assert.deepEqual(Array.from(l).map((v) => +v.toFixed(12)), [2, 0, 1, +Math.SQRT2.toFixed(12)]);
  const inv = invertSpd([4, 2, 2, 3], 2);
  [3 / 8, -2 / 8, -2 / 8, 4 / 8].forEach((v, i) => assert.ok(Math.abs(inv[i] - v) < 1e-12));
  assert.throws(() => cholesky([1, 2, 2, 1], 2), /not positive definite/);
});

Deno.test("Mahalanobis distance: identity precision is the Euclidean distance; dimension checked", () => {
  const fit = { dim: 2, mean: [1, 1], precision: [1, 0, 0, 1] };
  assert.equal(mahalanobis(fit, [4, 5]), 5);
  assert.throws(() => mahalanobis(fit, [1, 2, 3]), /3 features, the fit has 2/);
});

Deno.test("fitOod: 95% of in-distribution validation vectors pass, far vectors do not", () => {
  const rng = makeRng(1), d = 4;
  const gauss = () => Math.sqrt(-2 * Math.log(rng() || 1e-12)) * Math.cos(2 * Math.PI * rng());
  const sample = (n: number, shift = 0) =>
    Float32Array.from({ length: n * d }, (_, i) => gauss() * (1 + (i % d)) + shift);
  const fit = fitOod(sample(2000), 2000, sample(400), 400, { dim: d, shrinkage: 0.01 });
  const val = sample(1000);
  let pass = 0;
  for (let i = 0; i < 1000; i++) {
    pass += mahalanobis(fit, val.subarray(i * d, i * d + d)) <= fit.threshold ? 1 : 0;
  }
  assert.ok(pass > 930 && pass < 970, `pass rate ${pass / 1000}`);
  const far = sample(100, 10);
  for (let i = 0; i < 100; i++) {
    assert.ok(mahalanobis(fit, far.subarray(i * d, i * d + d)) > fit.threshold);
  }
  assert.equal(fit.quantile, 0.95);
  assert.ok(Math.abs(fit.threshold - fit.valDistances.p95) < 1e-12);
  // sqrt(chi2(4) 95th percentile) = sqrt(9.49) = 3.08 for a Gaussian.
  assert.ok(Math.abs(fit.threshold - 3.08) < 0.35, `threshold ${fit.threshold}`);
});
