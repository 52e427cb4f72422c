import assert from "node:assert/strict";
import {
  delongComponents,
  delongCovariance,
  delongTest,
  delongVariance,
  holmAdjust,
  midRanks,
  normalCdf,
  normalQuantile,
  pairedBootstrapAucDiff,
} from "../../lib/metrics/roc_compare.ts";
import { rocAuc } from "../../lib/metrics/classification.ts";
import { makeRng } from "../../lib/util/rng.ts";

const close = (a: number, b: number, tol = 1e-9, what = "") =>
  assert.ok(Math.abs(a - b) <= tol, `${what} ${a} vs ${b}`);

/** DeLong's components straight from the definition, O(m n): the reference of the fast ones. */
function bruteComponents(y: number[], s: number[]) {
  const pos = s.filter((_, i) => y[i] === 1), neg = s.filter((_, i) => y[i] === 0);
  const psi = (x: number, w: number) => (x > w ? 1 : x === w ? 0.5 : 0);
  const v10 = pos.map((x) => neg.reduce((t, w) => t + psi(x, w), 0) / neg.length);
  const v01 = neg.map((w) => pos.reduce((t, x) => t + psi(x, w), 0) / pos.length);
  return { auc: v10.reduce((t, v) => t + v, 0) / pos.length, v10, v01 };
}

function bruteCov(y: number[], a: number[], b: number[]) {
  const ca = bruteComponents(y, a), cb = bruteComponents(y, b);
  const cov = (u: number[], v: number[]) => {
    const mu = u.reduce((t, x) => t + x, 0) / u.length,
      mv = v.reduce((t, x) => t + x, 0) / v.length;
    return u.reduce((t, x, i) => t + (x - mu) * (v[i] - mv), 0) / (u.length - 1);
  };
  const m = ca.v10.length, n = ca.v01.length;
  return {
    aa: cov(ca.v10, ca.v10) / m + cov(ca.v01, ca.v01) / n,
    bb: cov(cb.v10, cb.v10) / m + cov(cb.v01, cb.v01) / n,
    ab: cov(ca.v10, cb.v10) / m + cov(ca.v01, cb.v01) / n,
  };
}

/** Correlated scorings with ties (scores rounded to 0.05). */
function makeScores(seed: number, n: number) {
  const rng = makeRng(seed);
  const y: number[] = [], a: number[] = [], b: number[] = [], g: string[] = [];
  for (let i = 0; i < n; i++) {
    const label = rng() < 0.6 ? 1 : 0;
    const shared = rng();
    y.push(label);
    a.push(Math.round((0.4 * label + 0.6 * shared) * 20) / 20);
    b.push(Math.round((0.5 * label + 0.4 * shared + 0.2 * rng()) * 20) / 20);
    g.push(`p${Math.floor(i / 2)}`);
  }
  return { y, a, b, g };
}

Deno.test("midRanks: ties share the mean rank", () => {
  assert.deepEqual(Array.from(midRanks([0.3, 0.1, 0.3, 0.2])), [3.5, 1, 3.5, 2]);
});

Deno.test("delongComponents (mid-ranks) equal the O(m n) definition, ties included", () => {
  for (const seed of [1, 2, 3]) {
    const { y, a, b } = makeScores(seed, 57);
    const fast = delongComponents(y, [a, b]);
    for (const [k, s] of [a, b].entries()) {
      const ref = bruteComponents(y, s);
      close(fast.auc[k], ref.auc, 1e-12, "auc");
      close(fast.auc[k], rocAuc(y, s), 1e-12, "auc vs rocAuc");
      ref.v10.forEach((v, i) => close(fast.v10[k][i], v, 1e-12, "v10"));
      ref.v01.forEach((v, j) => close(fast.v01[k][j], v, 1e-12, "v01"));
    }
    const cov = delongCovariance(y, [a, b]).cov, ref = bruteCov(y, a, b);
    close(cov[0][0], ref.aa, 1e-12, "var a");
    close(cov[1][1], ref.bb, 1e-12, "var b");
    close(cov[0][1], ref.ab, 1e-12, "cov");
  }
});

Deno.test("delongVariance of one AUC: S10/m + S01/n, by hand on four images", () => {
  // Positives 0.9, 0.4; negatives 0.5, 0.1. V10 = [1, 0.5], V01 = [0.5, 1]; AUC 0.75.
  // S10 = S01 = 0.125 (sample variance), so Var = 0.125/2 + 0.125/2 = 0.125.
  const y = [1, 1, 0, 0], s = [0.9, 0.4, 0.5, 0.1];
  close(delongVariance(y, s), 0.125, 1e-15);
  // Perfect separation: every component is 1, no variance.
  assert.equal(delongVariance([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]), 0);
});

Deno.test("delongTest matches an independent numpy computation", () => {
  // Reference: numpy/scipy brute force (psi matrix, np.cov, norm.sf) on these 15 images.
  const y = [1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0];
  const a = [0.9, 0.8, 0.7, 0.55, 0.4, 0.6, 0.3, 0.5, 0.2, 0.6, 0.1, 0.35, 0.45, 0.8, 0.05];
  const b = [0.95, 0.6, 0.75, 0.5, 0.65, 0.7, 0.2, 0.3, 0.25, 0.55, 0.15, 0.4, 0.5, 0.85, 0.1];
  const t = delongTest(y, a, b);
  close(t.aucA, 0.8660714285714286, 1e-12);
  close(t.aucB, 0.9375, 1e-12);
  close(t.diff, 0.0714285714285714, 1e-12);
  close(t.se, 0.06830433561886323, 1e-12);
  close(t.z, 1.0457399340964435, 1e-10);
  close(t.pTwoSided, 0.2956811200203008, 1e-12);
  close(t.pOneSided, 0.1478405600101504, 1e-12);
  close(t.hi - t.diff, 1.959963984540054 * t.se, 1e-8);
  close(t.diff - t.lo, t.hi - t.diff, 1e-12);
  // Swapping A and B flips the sign and the one-sided p.
  const s = delongTest(y, b, a);
  close(s.diff, -t.diff, 1e-15);
  close(s.pOneSided, 1 - t.pOneSided, 1e-12);
  close(s.pTwoSided, t.pTwoSided, 1e-12);
});

Deno.test("delongTest: identical or equally ranked scorings show no difference", () => {
  const { y, a } = makeScores(4, 40);
  const t = delongTest(y, a, a.map((v) => 2 * v + 1));
  assert.equal(t.diff, 0);
  assert.equal(t.se, 0);
  assert.equal(t.z, 0);
  assert.equal(t.pTwoSided, 1);
  assert.equal(t.pOneSided, 0.5);
  assert.throws(() => delongTest([1, 1], [0.2, 0.3], [0.1, 0.4]), /one class only/);
  assert.throws(() => delongTest([0, 1], [0.2], [0.1, 0.4]), /length/);
});

Deno.test("normalCdf and normalQuantile match scipy", () => {
  close(normalCdf(1.959963984540054), 0.975, 1e-14);
  close(normalCdf(-3), 0.0013498980316300933, 1e-15);
  close(normalCdf(9), 1 - 1.1285884059538408e-19, 1e-15);
  close(normalCdf(0.5), 0.6914624612740131, 1e-14);
  close(normalCdf(0), 0.5, 1e-9);
  close(normalQuantile(0.001), -3.090232306167813, 1e-8);
  close(normalQuantile(0.9), 1.2815515655446004, 1e-8);
  close(normalQuantile(0.5), 0, 1e-12);
  assert.throws(() => normalQuantile(1), /not in/);
});

Deno.test("pairedBootstrapAucDiff: zero for identical scores, agrees with DeLong otherwise", () => {
  const { y, a, b, g } = makeScores(5, 200);
  const same = pairedBootstrapAucDiff(y, a, a, { groups: g, nBoot: 200, seed: 1 });
  assert.equal(same.diff.estimate, 0);
  assert.equal(same.diff.lo, 0);
  assert.equal(same.diff.hi, 0);
  assert.equal(same.pOneSided, 1);
  const r = pairedBootstrapAucDiff(y, a, b, { groups: g, nBoot: 400, seed: 1 });
  const t = delongTest(y, a, b);
  close(r.diff.estimate, t.diff, 1e-12);
  assert.equal(r.nClusters, 100);
  // Same scale of uncertainty: the bootstrap interval's half-width within a factor 1.6 of DeLong's.
  const ratio = (r.diff.hi - r.diff.lo) / (t.hi - t.lo);
  assert.ok(ratio > 1 / 1.6 && ratio < 1.6, `width ratio ${ratio}`);
  // Seeded.
  assert.deepEqual(pairedBootstrapAucDiff(y, a, b, { groups: g, nBoot: 400, seed: 1 }), r);
});

Deno.test("holmAdjust: step-down, monotone, capped, input order, NaN left out", () => {
  assert.deepEqual(holmAdjust([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06]);
  assert.deepEqual(holmAdjust([0.5, 0.6]), [1, 1]);
  const r = holmAdjust([0.02, NaN, 0.04]);
  close(r[0], 0.04, 1e-15);
  assert.ok(Number.isNaN(r[1]));
  close(r[2], 0.04, 1e-15);
  assert.deepEqual(holmAdjust([]), []);
});
