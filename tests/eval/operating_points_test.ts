import assert from "node:assert/strict";
import {
  choosePolicies,
  chooseThreshold,
  meetsWhoMinimum,
  policiesOnTest,
  screeningProjection,
  STANDARD_POLICIES,
  tradeoffTable,
} from "../../lib/eval/operating_points.ts";

// Hand-worked table (score, label), nPos = nNeg = 4:
//  t    tp fp  sens spec  J    F1
//  0.9  1  0   .25  1     .25  .4
//  0.8  2  0   .5   1     .5   .667
//  0.7  2  1   .5   .75   .25  .571
//  0.6  3  1   .75  .75   .5   .75
//  0.4  3  2   .75  .5    .25  .667
//  0.3  4  2   1    .5    .5   .8
//  0.2  4  3   1    .25   .25  .727
//  0.1  4  4   1    0     0    .667
const S = [0.9, 0.8, 0.7, 0.6, 0.4, 0.3, 0.2, 0.1];
const Y = [1, 1, 0, 1, 0, 1, 0, 0];

Deno.test("policies pick the hand-worked thresholds", () => {
  assert.equal(chooseThreshold(Y, S, { kind: "sensitivity", target: 0.95 }).threshold, 0.3);
  assert.equal(chooseThreshold(Y, S, { kind: "sensitivity", target: 0.75 }).threshold, 0.6);
  // J = 0.5 at 0.8, 0.6 and 0.3: the highest wins
  assert.equal(chooseThreshold(Y, S, { kind: "youden" }).threshold, 0.8);
  assert.equal(chooseThreshold(Y, S, { kind: "max_f1" }).threshold, 0.3);
  // cost 5:1 at prevalence 0.5: 0.25 at t = 0.3 is the minimum
  assert.equal(chooseThreshold(Y, S, { kind: "cost", costFn: 5 }).threshold, 0.3);
  // a false alarm 5x worse than a miss: 0.25 at t = 0.8
  assert.equal(chooseThreshold(Y, S, { kind: "cost", costFn: 1, costFp: 5 }).threshold, 0.8);
  // calling nothing positive can be cheapest
  assert.equal(
    chooseThreshold([0, 1], [0.9, 0.1], { kind: "cost", costFn: 1, costFp: 2 }).threshold,
    Infinity,
  );
  const ops = choosePolicies(Y, S, STANDARD_POLICIES);
  assert.deepEqual(ops.map((o) => o.policy), [
    "sensitivity >= 0.95",
    "Youden's J",
    "max F1",
    "cost FN:FP = 5:1",
  ]);
  assert.equal(ops[0].metrics.sensitivity, 1);
  assert.equal(ops[0].meetsWho, false); // specificity 0.5
  assert.throws(() => chooseThreshold([1, 1], [0.2, 0.4], { kind: "youden" }), /both classes/);
});

Deno.test("WHO minimum flag", () => {
  assert.equal(meetsWhoMinimum(0.9, 0.7), true);
  assert.equal(meetsWhoMinimum(0.89, 0.99), false);
  assert.equal(meetsWhoMinimum(0.99, 0.69), false);
  assert.equal(meetsWhoMinimum(NaN, 1), false);
});

Deno.test("trade-off table projects to a prevalence", () => {
  const { prevalence, rows } = tradeoffTable(Y, S, { prevalence: 0.2, thresholds: [0.6, 0.95] });
  assert.equal(prevalence, 0.2);
  // t = 0.6: sens .75, spec .75 -> referrals 100 (0.2 .75 + 0.8 .25) = 35, missed 5, PPV .15/.35
  assert.ok(Math.abs(rows[0].referralsPer100 - 35) < 1e-9);
  assert.ok(Math.abs(rows[0].missedPer100 - 5) < 1e-9);
  assert.ok(Math.abs(rows[0].ppv - 0.15 / 0.35) < 1e-12);
  // t = 0.95: nothing referred, PPV undefined
  assert.equal(rows[1].referralsPer100, 0);
  assert.ok(Number.isNaN(rows[1].ppv));
  const def = tradeoffTable(Y, S);
  assert.equal(def.prevalence, 0.5);
  assert.equal(def.rows.length, 19);
  assert.equal(def.rows[0].threshold, 0.05);
  assert.equal(def.rows[18].threshold, 0.95);
});

Deno.test("policiesOnTest applies validation thresholds to test", () => {
  const rows = policiesOnTest({ yTrue: Y, yScore: S }, {
    yTrue: [0, 1, 1],
    yScore: [0.35, 0.5, 0.2],
  }, [
    { kind: "sensitivity", target: 0.95 },
  ]);
  assert.equal(rows[0].threshold, 0.3);
  assert.deepEqual([rows[0].test.tn, rows[0].test.fp, rows[0].test.fn, rows[0].test.tp], [
    0,
    1,
    1,
    1,
  ]);
});

Deno.test("a fixed threshold sits in the same table as the re-picked policies", () => {
  const fixed = { kind: "fixed", threshold: 0.65, name: "stored threshold" } as const;
  const op = chooseThreshold(Y, S, fixed);
  assert.equal(op.policy, "stored threshold");
  assert.equal(op.threshold, 0.65);
  assert.equal(op.metrics.sensitivity, 0.5); // 0.9 and 0.8 of the four positives
  const rows = policiesOnTest({ yTrue: Y, yScore: S }, { yTrue: Y, yScore: S }, [
    fixed,
    ...STANDARD_POLICIES,
  ]);
  assert.deepEqual(rows.map((r) => r.threshold), [0.65, 0.3, 0.8, 0.3, 0.3]);
});

Deno.test("screeningProjection: per 1,000 children, PPV and NPV by Bayes' rule", () => {
  const [q] = screeningProjection(0.9, 0.8, [0.1]);
  assert.ok(Math.abs(q.truePositivesPer1000 - 90) < 1e-9);
  assert.ok(Math.abs(q.falseAlarmsPer1000 - 180) < 1e-9);
  assert.ok(Math.abs(q.referredPer1000 - 270) < 1e-9);
  assert.ok(Math.abs(q.missedPer1000 - 10) < 1e-9);
  assert.ok(Math.abs(q.ppv - 1 / 3) < 1e-12);
  assert.ok(Math.abs(q.npv - 720 / 730) < 1e-12);
  assert.deepEqual(screeningProjection(0.9, 0.8).map((r) => r.prevalence), [0.05, 0.1, 0.2]);
  assert.ok(Number.isNaN(screeningProjection(0, 1, [0.1])[0].ppv)); // nobody referred
  assert.throws(() => screeningProjection(0.9, 0.8, [1.5]), /prevalence 1.5/);
});
