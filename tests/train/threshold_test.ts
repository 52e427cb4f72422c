import assert from "node:assert/strict";
import { chooseThreshold, chooseThresholdWithMargin } from "../../lib/train/epoch_metrics.ts";

// 20 positives scored 0.81..1.00 and 5 negatives scored 0.1..0.5 (hand-worked).
const pos = Array.from({ length: 20 }, (_, i) => 0.81 + i * 0.01);
const y = [...pos.map(() => 1), 0, 0, 0, 0, 0];
const p = [...pos, 0.1, 0.2, 0.3, 0.4, 0.5];

Deno.test("default policy: the highest threshold keeping sensitivity >= 0.95 (19 of 20)", () => {
  const t = chooseThreshold(y, p, 0.95);
  assert.ok(Math.abs(t.threshold - 0.82) < 1e-12); // the 19th highest positive score
  assert.equal(t.atThreshold.tp, 19);
  assert.equal(t.atThreshold.specificity, 1);
  assert.equal(t.at05.tp, 20);
  assert.equal(t.at05.fp, 1); // 0.5 >= 0.5 counts as positive
});

Deno.test("margin policy: the lower of the clean and the augmented-copies thresholds", () => {
  // Augmented copy: every positive scores 0.2 lower; pooled, the 38th highest of 40 positive scores (20 clean, then 0.80, 0.79, ...) is 0.63.
  const hard = p.map((v, i) => (y[i] === 1 ? v - 0.2 : v));
  const t = chooseThresholdWithMargin(y, p, [hard], 0.95);
  assert.ok(Math.abs(t.threshold - 0.63) < 1e-9, `got ${t.threshold}`);
  assert.ok(Math.abs(t.candidates!.val - 0.82) < 1e-12);
  assert.equal(t.atThreshold.tp, 20); // metrics on the clean predictions
  // An easier copy never raises the threshold above the clean one.
  const easy = p.map((v, i) => (y[i] === 1 ? Math.min(1, v + 0.1) : v));
  assert.ok(Math.abs(chooseThresholdWithMargin(y, p, [easy], 0.95).threshold - 0.82) < 1e-12);
});
