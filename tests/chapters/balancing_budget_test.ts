import assert from "node:assert/strict";
import type { RunRecord } from "../../lib/chapters/_context.ts";
import {
  type BudgetComparison,
  budgetSummary,
  valDifferences,
} from "../../lib/chapters/09_balancing.ts";

/** A run record with only what the comparison reads: validation labels, scores, patients. */
function fakeRun(name: string, prob: number[], y: number[], trainImages = 24): RunRecord {
  return {
    name,
    val: {
      y,
      prob,
      patient: y.map((_, i) => `p${i >> 1}`),
      relPath: y.map((_, i) => `v/${i}.png`),
    },
    summary: { trainImages, epochsRun: 2 },
  } as unknown as RunRecord;
}

const y = Array.from({ length: 40 }, (_, i) => (i % 4 === 0 ? 0 : 1));
const good = y.map((v, i) => (v ? 0.6 + (i % 7) / 20 : 0.3 + (i % 5) / 20));
const noisy = y.map((_, i) => ((i * 37) % 11) / 11);

Deno.test("valDifferences: a run minus itself is 0; a separating run beats a noisy one", () => {
  const same = valDifferences(fakeRun("a", good, y), fakeRun("b", good, y), 1, 200);
  for (const k of ["AUC", "sensitivity", "specificity", "F1"] as const) {
    assert.deepEqual([same[k].estimate, same[k].lo, same[k].hi], [0, 0, 0], k);
  }
  const d = valDifferences(fakeRun("a", good, y), fakeRun("b", noisy, y), 1, 200).AUC;
  assert.ok(d.estimate > 0.3 && d.lo > 0, `AUC difference ${JSON.stringify(d)}`);
  const other = { ...fakeRun("c", good, y), val: { ...fakeRun("c", good, y).val, relPath: [] } };
  assert.throws(() => valDifferences(fakeRun("a", good, y), other, 1, 10), /different images/);
});

Deno.test("budgetSummary states the budget and reads each interval against 0", () => {
  const iv = (estimate: number, lo: number, hi: number) => ({
    estimate,
    lo,
    hi,
    nValid: 10,
    nSkipped: 0,
  });
  const diffs = {
    AUC: iv(0.05, 0.01, 0.1),
    sensitivity: iv(-0.1, -0.2, -0.01),
    specificity: iv(0, -0.1, 0.1),
    F1: iv(0, -0.1, 0.1),
  };
  const b = {
    images: { down: 24, noneSameSize: 24, noneAll: 48 },
    vsSameSize: diffs,
    vsAll: { ...diffs, AUC: iv(-0.01, -0.05, 0.03) },
    nBoot: 10,
  } as unknown as BudgetComparison;
  const text = budgetSummary(b);
  assert.match(text, /same number of training images \(24 downsampled, 24 without balancing\)/);
  assert.match(text, /downsampling raised validation AUC \(0\.050/);
  assert.match(text, /lowered sensitivity/);
  assert.match(text, /no difference to specificity/);
  assert.match(text, /all 48 images.*no difference to validation AUC/s);
});
