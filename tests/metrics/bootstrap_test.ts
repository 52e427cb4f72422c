import assert from "node:assert/strict";
import {
  bootstrapMetrics,
  bootstrapStats,
  clusterIndices,
  formatInterval,
  quantileSorted,
} from "../../lib/metrics/bootstrap.ts";
import { makeRng } from "../../lib/util/rng.ts";

/** 60 patients with 1-3 images each, scores noisy around the label. */
function makeData(seed: number) {
  const rng = makeRng(seed);
  const y: number[] = [], s: number[] = [], g: string[] = [];
  for (let p = 0; p < 60; p++) {
    const label = p % 3 === 0 ? 0 : 1;
    const k = 1 + Math.floor(rng() * 3);
    for (let j = 0; j < k; j++) {
      y.push(label);
      s.push(Math.min(1, Math.max(0, label * 0.35 + 0.3 + (rng() - 0.5) * 0.6)));
      g.push(`person${p}`);
    }
  }
  return { y, s, g };
}

Deno.test("quantileSorted interpolates like numpy", () => {
  // np.quantile([1, 2, 3, 4], [0.025, 0.5, 0.975]) = [1.075, 2.5, 3.925]
  const q = [0.025, 0.5, 0.975].map((p) => quantileSorted([1, 2, 3, 4], p));
  q.forEach((v, i) => assert.ok(Math.abs(v - [1.075, 2.5, 3.925][i]) < 1e-12));
  assert.deepEqual(clusterIndices(["a", "b", "a", "c"]), [[0, 2], [1], [3]]);
});

Deno.test("bootstrapMetrics is reproducible with a seed and brackets the estimate", () => {
  const { y, s, g } = makeData(3);
  const a = bootstrapMetrics(y, s, { groups: g, nBoot: 300, seed: 11, threshold: 0.5 });
  const b = bootstrapMetrics(y, s, { groups: g, nBoot: 300, seed: 11, threshold: 0.5 });
  const c = bootstrapMetrics(y, s, { groups: g, nBoot: 300, seed: 12, threshold: 0.5 });
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.metrics.auc, c.metrics.auc);
  assert.equal(a.nClusters, 60);
  for (const [name, iv] of Object.entries(a.metrics)) {
    assert.ok(iv.lo <= iv.estimate && iv.estimate <= iv.hi, `${name}: ${formatInterval(iv)}`);
    assert.ok(iv.hi - iv.lo > 0, `${name} has a non-empty interval`);
    assert.equal(iv.nValid + iv.nSkipped, 300);
  }
});

Deno.test("resampling by patient widens intervals when images of a patient agree", () => {
  // Each patient has 5 identical images: per-image resampling pretends 5x the information.
  const rng = makeRng(5);
  const y: number[] = [], s: number[] = [], g: number[] = [];
  for (let p = 0; p < 40; p++) {
    const label = p % 2,
      score = Math.min(1, Math.max(0, 0.5 + (label - 0.5) * 0.4 + (rng() - 0.5)));
    for (let j = 0; j < 5; j++) y.push(label), s.push(score), g.push(p);
  }
  const byPatient = bootstrapMetrics(y, s, { groups: g, nBoot: 400, seed: 1 }).metrics.auc;
  const byImage = bootstrapMetrics(y, s, { nBoot: 400, seed: 1 }).metrics.auc;
  assert.ok(
    byPatient.hi - byPatient.lo > 1.5 * (byImage.hi - byImage.lo),
    `patient width ${byPatient.hi - byPatient.lo} vs image width ${byImage.hi - byImage.lo}`,
  );
});

Deno.test("undefined resamples are skipped and counted", () => {
  // 1 positive patient among 6: many resamples draw no positive -> AUC and sensitivity undefined.
  const y = [0, 0, 0, 0, 0, 1], s = [0.1, 0.2, 0.3, 0.4, 0.6, 0.9];
  const r = bootstrapMetrics(y, s, { nBoot: 200, seed: 2 });
  assert.ok(r.metrics.auc.nSkipped > 20, `skipped ${r.metrics.auc.nSkipped}`);
  assert.equal(r.metrics.auc.nSkipped + r.metrics.auc.nValid, 200);
  assert.equal(r.metrics.sensitivity.nSkipped, r.metrics.auc.nSkipped);
  assert.equal(r.metrics.specificity.nSkipped, 0);
  // (1 - 1/6)^6 of resamples have no positive: expect about 67 of 200
  assert.ok(Math.abs(r.metrics.auc.nSkipped - 200 * (5 / 6) ** 6) < 25);
});

Deno.test("bootstrapStats supports custom statistics and checks lengths", () => {
  const r = bootstrapStats(4, (idx) => ({ mean: idx.reduce((a, i) => a + i, 0) / idx.length }), {
    nBoot: 50,
    seed: 0,
  });
  assert.equal(r.intervals.mean.estimate, 1.5);
  assert.throws(
    () => bootstrapStats(3, () => ({ x: 1 }), { groups: ["a"] }),
    /length 1, data has 3/,
  );
  assert.throws(() => bootstrapMetrics([0, 1], [0.3]), /length 2 .* length 1/);
});

Deno.test("formatInterval", () => {
  const iv = { estimate: 0.5, lo: -0.25, hi: 0.75, nValid: 10, nSkipped: 0 };
  assert.equal(formatInterval(iv), "0.500 (-0.250 to 0.750)");
  assert.equal(formatInterval({ ...iv, estimate: NaN }), "n/a");
  assert.equal(formatInterval({ ...iv, lo: NaN }, 2), "0.50 (n/a to 0.75)");
});
