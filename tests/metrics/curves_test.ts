import assert from "node:assert/strict";
import {
  averagePrecision,
  precisionRecallCurve,
  rocCurve,
  trapezoidArea,
} from "../../lib/metrics/curves.ts";
import { rocAuc } from "../../lib/metrics/classification.ts";
import { SK_S, SK_Y } from "./_sklearn_ref.ts";

const closeAll = (a: number[], b: number[], tol = 1e-12) => {
  assert.equal(a.length, b.length, `lengths ${a.length} vs ${b.length}`);
  a.forEach((v, i) =>
    assert.ok(Math.abs(v - b[i]) <= tol, `index ${i}: expected ${b[i]}, got ${v}`)
  );
};

Deno.test("rocCurve: hand-worked with a tie", () => {
  const pts = rocCurve([0, 1, 0, 1], [0.2, 0.9, 0.5, 0.5]);
  assert.deepEqual(pts, [
    { threshold: Infinity, fpr: 0, tpr: 0 },
    { threshold: 0.9, fpr: 0, tpr: 0.5 },
    { threshold: 0.5, fpr: 0.5, tpr: 1 }, // the tie moves both at once
    { threshold: 0.2, fpr: 1, tpr: 1 },
  ]);
});

Deno.test("rocCurve matches scikit-learn roc_curve(drop_intermediate=False) and rocAuc", () => {
  const pts = rocCurve(SK_Y, SK_S);
  // sklearn 1.2.1 values; its first threshold is max + 1 = 2.0 where ours is Infinity.
  closeAll(pts.map((p) => p.fpr), [
    0.0,
    0.0,
    0.15384615384615385,
    0.3076923076923077,
    0.46153846153846156,
    0.6153846153846154,
    0.6923076923076923,
    0.7692307692307693,
    0.8461538461538461,
    1.0,
    1.0,
  ]);
  closeAll(pts.map((p) => p.tpr), [
    0.0,
    0.058823529411764705,
    0.11764705882352941,
    0.29411764705882354,
    0.35294117647058826,
    0.5294117647058824,
    0.6470588235294118,
    0.7647058823529411,
    0.7647058823529411,
    0.8823529411764706,
    1.0,
  ]);
  closeAll(pts.slice(1).map((p) => p.threshold), [
    1.0,
    0.9,
    0.8,
    0.7,
    0.6,
    0.5,
    0.4,
    0.3,
    0.1,
    0.0,
  ]);
  const area = trapezoidArea(pts.map((p) => p.fpr), pts.map((p) => p.tpr));
  assert.ok(Math.abs(area - rocAuc(SK_Y, SK_S)) < 1e-12);
  assert.throws(() => rocCurve([1, 1], [0.1, 0.2]), /one class only/);
});

Deno.test("precisionRecallCurve and averagePrecision match scikit-learn", () => {
  const pts = precisionRecallCurve(SK_Y, SK_S);
  closeAll(pts.map((p) => p.precision), [
    0.5666666666666667,
    0.5357142857142857,
    0.5416666666666666,
    0.5652173913043478,
    0.55,
    0.5294117647058824,
    0.5,
    0.5555555555555556,
    0.5,
    1.0,
    1.0,
  ]);
  closeAll(pts.map((p) => p.recall), [
    1.0,
    0.8823529411764706,
    0.7647058823529411,
    0.7647058823529411,
    0.6470588235294118,
    0.5294117647058824,
    0.35294117647058826,
    0.29411764705882354,
    0.11764705882352941,
    0.058823529411764705,
    0.0,
  ]);
  // sklearn average_precision_score(y, s) = 0.570005802832642
  assert.ok(Math.abs(averagePrecision(SK_Y, SK_S) - 0.570005802832642) < 1e-12);
  // hand-worked: y = [0, 1, 1], perfect ranking -> AP 1; worst ranking of one positive among 2
  assert.equal(averagePrecision([0, 1, 1], [0.2, 0.9, 0.4]), 1);
  assert.equal(averagePrecision([1, 0], [0.1, 0.9]), 0.5);
  assert.throws(() => precisionRecallCurve([0, 0], [0.1, 0.2]), /no positive labels/);
});
