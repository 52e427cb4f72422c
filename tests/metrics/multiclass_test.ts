import assert from "node:assert/strict";
import {
  argmaxRows,
  bacterialVsViral,
  confusionMatrix,
  KERMANY_2018,
  multiclassReport,
} from "../../lib/metrics/multiclass.ts";

// scikit-learn 1.2.1: confusion_matrix(YT, YP) and precision_recall_fscore_support(YT, YP)
const YT = [0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 0, 1, 2, 1];
const YP = [0, 1, 0, 1, 1, 2, 1, 2, 1, 2, 0, 1, 0, 1];
const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-8, `${a} vs ${b}`);

Deno.test("confusion matrix and per-class metrics match scikit-learn", () => {
  assert.deepEqual(confusionMatrix(YT, YP, 3), [[3, 1, 0], [0, 5, 1], [1, 1, 2]]);
  const r = multiclassReport(YT, YP, ["normal", "bacteria", "virus"]);
  [0.75, 0.71428571, 0.66666667].forEach((v, i) => close(r.perClass[i].precision, v));
  [0.75, 0.83333333, 0.5].forEach((v, i) => close(r.perClass[i].recall, v));
  [0.75, 0.76923077, 0.57142857].forEach((v, i) => close(r.perClass[i].f1, v));
  assert.deepEqual(r.perClass.map((c) => c.support), [4, 6, 4]);
  close(r.macro.precision, 0.7103174603174603);
  close(r.macro.recall, 0.6944444444444445);
  close(r.macro.f1, 0.696886446886447);
  close(r.accuracy, 10 / 14);
  // specificity of normal by hand: 10 non-normal, 1 of them called normal -> 9/10
  close(r.perClass[0].specificity, 0.9);
  assert.throws(() => confusionMatrix([0, 3], [0, 1], 3), /sample 1 has true 3/);
  assert.throws(() => confusionMatrix([0], [0, 1], 3), /length 1 .* length 2/);
});

Deno.test("argmaxRows and bacterial vs viral", () => {
  assert.deepEqual(argmaxRows([0.1, 0.7, 0.2, 0.5, 0.2, 0.3, 0.2, 0.2, 0.6], 3), [1, 0, 2]);
  assert.throws(() => argmaxRows([1, 2], 3), /whole number of rows/);
  // normal ignored; bacteria: 2 called bacterial, 1 viral; virus: 1 called viral, 1 bacterial
  const y = [0, 1, 1, 1, 2, 2];
  const p = [
    [0.9, 0.05, 0.05],
    [0.1, 0.6, 0.3],
    [0.7, 0.2, 0.1], // normal wins overall, but bacteria >= virus -> bacterial
    [0.1, 0.3, 0.6],
    [0.2, 0.2, 0.6],
    [0.2, 0.5, 0.3],
  ].flat();
  const bv = bacterialVsViral(y, p);
  assert.equal(bv.n, 5);
  close(bv.sensitivity, 2 / 3);
  close(bv.specificity, 1 / 2);
  close(bv.accuracy, 3 / 5);
  assert.equal(KERMANY_2018.bacterialVsViral.accuracy, 0.907);
  assert.throws(() => bacterialVsViral([1, 2], [0.1, 0.2]), /need 6 probabilities/);
});
