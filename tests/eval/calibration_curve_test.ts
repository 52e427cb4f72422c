import assert from "node:assert/strict";
import { calibrationCurve, formatCalibrationCurve } from "../../lib/eval/calibration_curve.ts";
import { makeRng } from "../../lib/util/rng.ts";

/** 240 images of 120 patients (two each), 65% pneumonia, scores that overlap a little. */
function site(seed = 1) {
  const rng = makeRng(seed);
  const items: { y: 0 | 1; patientId: string }[] = [], scores: number[] = [];
  for (let p = 0; p < 120; p++) {
    const y = (p % 20 < 13 ? 1 : 0) as 0 | 1;
    for (let k = 0; k < 2; k++) {
      items.push({ y, patientId: `p${p}` });
      scores.push(Math.min(1, Math.max(0, (y ? 0.7 : 0.3) + (rng() - 0.5) * 0.6)));
    }
  }
  return { items, scores };
}

Deno.test("calibrationCurve: one row per size, rates and spreads in range, seeded", () => {
  const { items, scores } = site();
  const rows = calibrationCurve(items, scores, { sizes: [20, 60, "all", 500], draws: 60, seed: 3 });
  assert.deepEqual(rows.map((r) => r.size), [20, 60, "all"], "a size above the site is skipped");
  for (const r of rows) {
    assert.ok(r.draws > 50 && r.draws <= 60);
    assert.ok(r.heldRate >= 0 && r.heldRate <= 1);
    assert.ok(r.specificity.lo <= r.specificity.median && r.specificity.median <= r.specificity.hi);
  }
  assert.ok(Math.abs(rows[0].meanSample - 20) <= 2, `sample ${rows[0].meanSample}`);
  // The bootstrap draws as many patients as the site has: 240 images on average.
  assert.ok(Math.abs(rows[2].meanSample - 240) < 10, `bootstrap sample ${rows[2].meanSample}`);
  // More labels, less spread in the specificity that follows.
  const width = (i: number) => rows[i].specificity.hi - rows[i].specificity.lo;
  assert.ok(width(1) < width(0), `${width(1)} vs ${width(0)}`);
  assert.deepEqual(calibrationCurve(items, scores, { sizes: [20], draws: 10, seed: 3 }), [
    calibrationCurve(items, scores, { sizes: [20], draws: 10, seed: 3 })[0],
  ]);
  assert.match(formatCalibrationCurve(rows), /^labelled images/);
});

Deno.test("calibrationCurve: a stricter pick on the sample holds the target more often", () => {
  const { items, scores } = site(2);
  const [plain] = calibrationCurve(items, scores, { sizes: [60], draws: 100 });
  const [strict] = calibrationCurve(items, scores, { sizes: [60], draws: 100, pickTarget: 0.99 });
  assert.ok(strict.heldRate > plain.heldRate, `${strict.heldRate} vs ${plain.heldRate}`);
  assert.ok(strict.specificity.median <= plain.specificity.median);
  assert.throws(() => calibrationCurve(items, scores.slice(1)), /240 images but 239 scores/);
});
