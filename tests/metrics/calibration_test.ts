import assert from "node:assert/strict";
import {
  applyTemperature,
  brierScore,
  expectedCalibrationError,
  fitTemperature,
  probsToLogits,
  readCalibration,
  reliabilityBins,
  sigmoid,
  writeCalibration,
} from "../../lib/metrics/calibration.ts";
import { rocAuc } from "../../lib/metrics/classification.ts";
import { makeRng, randNormal } from "../../lib/util/rng.ts";
import { SK_S, SK_Y } from "./_sklearn_ref.ts";

Deno.test("reliability bins and ECE on a hand-worked case", () => {
  // bins of width 0.5: [0, 0.5) holds 0.1, 0.3 (labels 0, 1); [0.5, 1] holds 0.8, 1.0 (labels 1, 1)
  const bins = reliabilityBins([0, 1, 1, 1], [0.1, 0.3, 0.8, 1.0], 2);
  assert.deepEqual(bins.map((b) => b.count), [2, 2]);
  assert.ok(Math.abs(bins[0].meanPredicted - 0.2) < 1e-12);
  assert.equal(bins[0].fractionPositive, 0.5);
  assert.ok(Math.abs(bins[1].meanPredicted - 0.9) < 1e-12);
  assert.equal(bins[1].fractionPositive, 1);
  // ECE = 0.5 * |0.5 - 0.2| + 0.5 * |1 - 0.9| = 0.2
  assert.ok(
    Math.abs(expectedCalibrationError([0, 1, 1, 1], [0.1, 0.3, 0.8, 1.0], 2) - 0.2) < 1e-12,
  );
  assert.ok(Number.isNaN(reliabilityBins([0], [0.1], 3)[2].meanPredicted));
  assert.throws(() => reliabilityBins([0], [1.2]), /expected \[0, 1\]/);
});

Deno.test("brierScore matches scikit-learn", () => {
  // sklearn brier_score_loss(y, s) = 0.35533333333333333
  assert.ok(Math.abs(brierScore(SK_Y, SK_S) - 0.35533333333333333) < 1e-12);
  assert.equal(brierScore([1, 0], [1, 0]), 0);
});

Deno.test("fitTemperature recovers the temperature of over-confident logits", () => {
  const rng = makeRng(4);
  const y: number[] = [], z: number[] = [];
  for (let i = 0; i < 4000; i++) {
    const trueLogit = 1.5 * randNormal(rng);
    y.push(rng() < sigmoid(trueLogit) ? 1 : 0);
    z.push(3 * trueLogit); // a model 3x over-confident
  }
  const fit = fitTemperature(y, z);
  assert.ok(Math.abs(fit.temperature - 3) < 0.3, `T = ${fit.temperature}`);
  assert.ok(fit.nllAfter < fit.nllBefore);
  assert.ok(fit.eceAfter < fit.eceBefore);
  // ranking unchanged
  const p = applyTemperature(z, fit.temperature);
  assert.equal(rocAuc(y, p), rocAuc(y, applyTemperature(z, 1)));
});

Deno.test("logits round-trip and calibration.json is stored with the run", async () => {
  const l = probsToLogits([0.2, 0.5, 0.9]);
  applyTemperature(l, 1).forEach((v, i) => assert.ok(Math.abs(v - [0.2, 0.5, 0.9][i]) < 1e-12));
  assert.throws(() => applyTemperature(l, 0), /must be positive/);
  const dir = await Deno.makeTempDir();
  try {
    assert.equal(await readCalibration(dir), null);
    const fit = fitTemperature([0, 1, 1, 0], [-1, 2, 0.5, 0.3]);
    await writeCalibration(dir, fit);
    const back = await readCalibration(dir);
    assert.equal(back?.temperature, fit.temperature);
    assert.equal(back?.method, "temperature");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
