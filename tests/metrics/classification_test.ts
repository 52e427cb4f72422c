import assert from "node:assert/strict";
import {
  binaryCrossEntropy,
  binaryMetrics,
  confusion,
  rocAuc,
  thresholdForSensitivity,
} from "../../lib/metrics/classification.ts";
import { SK_S, SK_Y } from "./_sklearn_ref.ts";

const close = (a: number, b: number, tol = 1e-12) =>
  assert.ok(Math.abs(a - b) <= tol, `expected ${b}, got ${a}`);

Deno.test("confusion counts a hand-worked case", () => {
  // y:    0 0 0 1 1 1 1
  // pred: 0 1 0 1 0 1 1  -> tn 2, fp 1, fn 1, tp 3
  assert.deepEqual(confusion([0, 0, 0, 1, 1, 1, 1], [0, 1, 0, 1, 0, 1, 1]), {
    tn: 2,
    fp: 1,
    fn: 1,
    tp: 3,
  });
});

Deno.test("binaryMetrics on a hand-worked case", () => {
  const m = binaryMetrics([0, 0, 0, 1, 1, 1, 1], [0.1, 0.6, 0.2, 0.9, 0.4, 0.5, 0.7], 0.5);
  assert.deepEqual([m.tn, m.fp, m.fn, m.tp, m.n], [2, 1, 1, 3, 7]);
  close(m.accuracy, 5 / 7);
  close(m.sensitivity, 3 / 4);
  close(m.specificity, 2 / 3);
  close(m.precision, 3 / 4);
  close(m.f1, 6 / 8);
});

Deno.test("binaryMetrics matches scikit-learn at 0.5 (score >= threshold is positive)", () => {
  const m = binaryMetrics(SK_Y, SK_S, 0.5);
  // sklearn confusion_matrix(y, s >= 0.5).ravel() = [4 9 6 11]
  assert.deepEqual([m.tn, m.fp, m.fn, m.tp], [4, 9, 6, 11]);
  close(m.accuracy, 0.5);
  close(m.sensitivity, 0.6470588235294118);
  close(m.precision, 0.55);
  close(m.f1, 0.5945945945945946);
});

Deno.test("undefined metrics are NaN, not 0", () => {
  const noPred = binaryMetrics([0, 1, 1], [0.1, 0.2, 0.3], 0.5);
  assert.ok(Number.isNaN(noPred.precision), "precision without positive predictions");
  assert.equal(noPred.sensitivity, 0);
  assert.equal(noPred.f1, 0);
  const onlyNeg = binaryMetrics([0, 0], [0.1, 0.2], 0.5);
  assert.ok(Number.isNaN(onlyNeg.sensitivity));
  assert.ok(Number.isNaN(onlyNeg.f1));
  assert.equal(onlyNeg.specificity, 1);
  const onlyPos = binaryMetrics([1, 1], [0.7, 0.2], 0.5);
  assert.ok(Number.isNaN(onlyPos.specificity));
});

Deno.test("rocAuc: hand-worked, ties and scikit-learn", () => {
  close(rocAuc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]), 0.75);
  close(rocAuc([0, 1], [0.5, 0.5]), 0.5); // a tie counts one half
  close(rocAuc([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]), 1);
  close(rocAuc([1, 1, 0, 0], [0.1, 0.2, 0.8, 0.9]), 0);
  // sklearn roc_auc_score(y, s) = 0.44796380090497734
  close(rocAuc(SK_Y, SK_S), 0.44796380090497734);
});

Deno.test("rocAuc throws on one class, errors name the lengths", () => {
  assert.throws(
    () => rocAuc([1, 1, 1], [0.2, 0.5, 0.9]),
    /one class only \(3 positives, 0 negatives/,
  );
  assert.throws(() => rocAuc([0, 1], [0.5]), /length 2 .* length 1/);
  assert.throws(() => binaryMetrics([0, 1, 1], [0.5]), /length 3 .* length 1/);
  assert.throws(() => confusion([0, 2], [0, 1]), /index 1 is 2; expected 0 or 1/);
  assert.throws(() => rocAuc([0, 1], [0.5, NaN]), /finite/);
});

Deno.test("binaryCrossEntropy matches hand values and scikit-learn", () => {
  close(binaryCrossEntropy([1, 0], [0.8, 0.4]), -(Math.log(0.8) + Math.log(0.6)) / 2);
  // sklearn log_loss(y, s.clip(1e-7, 1 - 1e-7)) = 1.8853374086815633
  close(binaryCrossEntropy(SK_Y, SK_S), 1.8853374086815633, 1e-9);
});

Deno.test("thresholdForSensitivity picks the highest threshold that keeps the target", () => {
  const y = [1, 1, 1, 1, 0, 0, 0];
  const s = [0.9, 0.8, 0.6, 0.3, 0.7, 0.2, 0.1];
  assert.equal(thresholdForSensitivity(y, s, 0.75), 0.6); // 3 of 4 positives
  assert.equal(thresholdForSensitivity(y, s, 0.76), 0.3); // needs all 4
  assert.equal(thresholdForSensitivity(y, s, 1), 0.3);
  assert.equal(thresholdForSensitivity(y, s, 0.25), 0.9);
  // 20 positives, target 0.95 -> exactly 19 (no float overshoot to 20)
  const y20 = Array(20).fill(1);
  const s20 = y20.map((_, i) => (i + 1) / 100);
  assert.equal(thresholdForSensitivity(y20, s20, 0.95), 0.02);
  for (const target of [0.5, 0.9, 0.95, 1]) {
    const t = thresholdForSensitivity(SK_Y, SK_S, target);
    assert.ok(binaryMetrics(SK_Y, SK_S, t).sensitivity >= target);
    const above = SK_S.filter((v) => v > t);
    if (above.length) {
      const next = Math.min(...above);
      assert.ok(binaryMetrics(SK_Y, SK_S, next).sensitivity < target, `target ${target}`);
    }
  }
  assert.throws(() => thresholdForSensitivity([0, 0], [0.1, 0.2]), /no positive labels/);
  assert.throws(() => thresholdForSensitivity([1], [0.1], 0), /must be in \(0, 1\]/);
});
