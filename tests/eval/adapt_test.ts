import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { initBackend } from "../../lib/backend/select.ts";
import {
  adaptBatchNorm,
  batchNormLayers,
  emPrior,
  parseAdapt,
  priorCorrection,
  shiftPrior,
} from "../../lib/eval/adapt.ts";
import { preprocessingFor } from "../../lib/models/registry.ts";
import { makeRng } from "../../lib/util/rng.ts";

await initBackend({ prefer: "cpu" });

Deno.test("parseAdapt: the four modes, and an unknown one names the known ones", () => {
  assert.deepEqual(parseAdapt("none"), { bn: false, prior: false });
  assert.deepEqual(parseAdapt("bn"), { bn: true, prior: false });
  assert.deepEqual(parseAdapt("prior"), { bn: false, prior: true });
  assert.deepEqual(parseAdapt("bn+prior"), { bn: true, prior: true });
  assert.throws(() => parseAdapt("tent"), /none, bn, prior, bn\+prior/);
});

Deno.test("adaptBatchNorm: moving mean and variance become the site's; momentum restored", () => {
  const m = tfl.sequential();
  m.add(tfl.layers.batchNormalization({ inputShape: [4, 4, 1], momentum: 0.99 }));
  const pre = preprocessingFor("compact", { size: 4 });
  const rng = makeRng(3);
  const n = 100, px = new Uint8Array(n * 16);
  for (let i = 0; i < px.length; i++) px[i] = 150 + Math.floor(rng() * 60); // site: bright
  const res = adaptBatchNorm(m, px, n, pre, { batch: 50 });
  assert.deepEqual(res, { layers: 1, images: 100 });
  assert.equal(batchNormLayers(m)[0].momentum, 0.99);
  const [gamma, beta, mean, variance] = m.getWeights().map((w) => w.dataSync()[0]);
  assert.equal(gamma, 1);
  assert.equal(beta, 0);
  const x = Array.from(px, (v) => v / 255);
  const mu = x.reduce((s, v) => s + v, 0) / x.length;
  const sd2 = x.reduce((s, v) => s + (v - mu) ** 2, 0) / x.length;
  assert.ok(Math.abs(mean - mu) < 1e-4, `mean ${mean} vs ${mu}`);
  // The average of the two batches' variances: within 3% of the pooled variance here.
  assert.ok(Math.abs(variance - sd2) / sd2 < 0.03, `variance ${variance} vs ${sd2}`);
});

Deno.test("adaptBatchNorm finds batch norm inside a nested model, and checks the pixel count", () => {
  const inner = tfl.sequential();
  inner.add(tfl.layers.batchNormalization({ inputShape: [2, 2, 1] }));
  const outer = tfl.sequential();
  outer.add(inner);
  outer.add(tfl.layers.flatten());
  assert.equal(batchNormLayers(outer).length, 1);
  assert.throws(
    () => adaptBatchNorm(outer, new Uint8Array(3), 1, preprocessingFor("compact", { size: 2 })),
    /need 4 bytes/,
  );
  const res = adaptBatchNorm(
    outer,
    new Uint8Array(8).fill(255),
    2,
    preprocessingFor("compact", { size: 2 }),
  );
  assert.equal(res.images, 2);
  assert.ok(Math.abs((inner.layers[0].getWeights()[2].dataSync()[0]) - 1) < 1e-6);
  tf.disposeVariables();
});

Deno.test("shiftPrior: Bayes' rule on the odds, monotone, identity when the priors agree", () => {
  assert.deepEqual(shiftPrior([0.3, 0.8], 0.5, 0.5).map((v) => +v.toFixed(12)), [0.3, 0.8]);
  // odds 1 at prior 0.5 -> odds 3 at prior 0.75
  assert.ok(Math.abs(shiftPrior([0.5], 0.5, 0.75)[0] - 0.75) < 1e-12);
  const s = shiftPrior([0.1, 0.4, 0.9], 0.7, 0.3);
  assert.ok(s[0] < s[1] && s[1] < s[2]);
  assert.throws(() => shiftPrior([0.5], 0, 0.5), /prior from = 0/);
});

Deno.test("emPrior recovers a new prior from calibrated posteriors (Saerens et al. 2002)", () => {
  // Scores from two Gaussian classes (means -1, +1, sd 1) as exact posteriors at prior 0.5.
  const rng = makeRng(7);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
  const post = (x: number) => 1 / (1 + Math.exp(-2 * x)); // log-likelihood ratio 2x
  const sample = (n: number, pi: number) =>
    Array.from({ length: n }, () => post(gauss() + (rng() < pi ? 1 : -1)));
  const site = emPrior(sample(4000, 0.2), 0.5);
  assert.ok(site.converged);
  assert.ok(Math.abs(site.prior - 0.2) < 0.03, `EM prior ${site.prior}`);
  const pc = priorCorrection(sample(4000, 0.2), sample(4000, 0.7), 0.5);
  assert.ok(Math.abs(pc.reference.prior - 0.7) < 0.03, `reference prior ${pc.reference.prior}`);
  assert.ok(pc.scores.every((v) => v >= 0 && v <= 1));
  assert.throws(() => emPrior([], 0.5), /no scores/);
  assert.throws(() => emPrior([1.5], 0.5), /score 0 = 1.5/);
});
