import assert from "node:assert/strict";
import {
  isMeasured,
  mergeRows,
  recipeRow,
  recipeTableMarkdown,
  recipeTableRows,
  type UnmeasuredRow,
} from "../../lib/eval/recipe_table.ts";
import type { SiteScoring } from "../../lib/eval/site_eval.ts";
import type { ImageRecord } from "../../lib/data/types.ts";
import { meetsTargets, SITE_TARGETS } from "../../lib/eval/site_targets.ts";

/** A scoring of 40 images of 20 patients: positives score 0.6-0.99, negatives 0.0-0.7. */
function scoring(withValidation: boolean): SiteScoring {
  const y = Array.from({ length: 40 }, (_, i) => (i % 3 === 0 ? 0 : 1));
  const prob = y.map((v, i) => (v ? 0.6 + (i % 10) * 0.04 : (i % 8) * 0.1));
  const patient = y.map((_, i) => `p${Math.floor(i / 2)}`);
  return {
    runs: ["a", "b"],
    adapt: "none",
    tta: 2,
    source: "site",
    scored: { records: [] as ImageRecord[], y, prob, patient },
    calibration: null,
    threshold: 0.62,
    thresholdFrom: "re-chosen on validation",
    targetSensitivity: 0.95,
    prior: null,
    validation: withValidation ? { y, prob } : null,
    failures: [],
  };
}

Deno.test("recipeRow: validation, test part and site at the strict threshold, with intervals", () => {
  const row = recipeRow(
    { name: "r", what: "w" },
    scoring(true),
    scoring(false),
    { trainS: 12.4, epochs: 8, trainImages: 100 },
    200,
  );
  assert.equal(row.threshold, 0.62);
  assert.equal(row.site.n, 40);
  assert.equal(row.validation!.n, 40);
  assert.equal(row.test!.sensitivity, row.site.sensitivity.estimate);
  // 0.62 misses the positives at 0.60 only (images 10 and 20): 24 of 26.
  assert.ok(Math.abs(row.site.sensitivity.estimate - 24 / 26) < 1e-12);
  assert.ok(row.site.auc.lo <= row.site.auc.estimate && row.site.auc.estimate <= row.site.auc.hi);
  assert.deepEqual(row.runs, ["a", "b"]);
  const [t] = recipeTableRows([row]);
  assert.equal(t["train time (s)"], 12);
  assert.match(String(t["site spec (95% CI)"]), /^\d\.\d{3} \(\d\.\d{3}\u2011\d\.\d{3}\)$/);
  const md = recipeTableMarkdown([row]).split("\n");
  assert.equal(md.length, 3);
  assert.match(md[0], /^\| recipe \| what \| val AUC/);
  assert.equal(recipeTableMarkdown([]), "(no recipes)");
  const noVal = recipeRow({ name: "r", what: "w" }, scoring(false), null, {
    trainS: 1,
    epochs: 1,
    trainImages: 1,
  }, 20);
  assert.equal(noVal.validation, null);
  assert.equal(recipeTableRows([noVal])[0]["val AUC"], "-");
});

Deno.test("meetsTargets: all three figures at once, NaN never", () => {
  assert.ok(meetsTargets({ auc: 0.981, sensitivity: 0.96, specificity: 0.91 }, "strict"));
  assert.ok(!meetsTargets({ auc: 0.981, sensitivity: 0.977, specificity: 0.849 }, "strict"));
  assert.ok(meetsTargets({ auc: 0.981, sensitivity: 0.954, specificity: 0.93 }, "calibrated"));
  assert.ok(!meetsTargets({ auc: 0.977, sensitivity: 0.954, specificity: 0.914 }, "calibrated"));
  assert.ok(!meetsTargets({ auc: NaN, sensitivity: 1, specificity: 1 }, "strict"));
  assert.equal(SITE_TARGETS.calibrated.auc, 0.98);
});

Deno.test("recipe table: an unmeasured recipe stays, as 'not measured' with its time so far", () => {
  const gap: UnmeasuredRow = {
    name: "f-long",
    what: "w",
    runs: ["f-long"],
    notMeasured: "unfinished run f-long (4 of 8 epochs)",
    trainS: 648.4,
    epochs: 4,
  };
  const row = recipeRow({ name: "r", what: "w" }, scoring(true), null, {
    trainS: 1,
    epochs: 1,
    trainImages: 1,
  }, 20);
  assert.ok(!isMeasured(gap));
  assert.ok(isMeasured(row));
  const [, t] = recipeTableRows([row, gap]);
  assert.equal(t["site AUC (95% CI)"], "not measured: unfinished run f-long (4 of 8 epochs)");
  assert.equal(t["train time (s)"], 648);
  assert.equal(t.epochs, 4);
  assert.equal(t.threshold, "-");
  assert.equal(recipeTableRows([{ ...gap, trainS: 0 }])[0]["train time (s)"], "-");
  const md = recipeTableMarkdown([row, gap]).split("\n");
  assert.equal(md.length, 4);
  assert.match(md[3], /^\| f-long \| w \| - \|/);
});

Deno.test("mergeRows: fresh rows replace theirs, the others are kept, in recipe order", () => {
  const r = (name: string, trainS: number): UnmeasuredRow => ({
    name,
    what: "w",
    runs: [name],
    notMeasured: "x",
    trainS,
    epochs: 0,
  });
  const merged = mergeRows([r("a", 1), r("c", 1), r("z", 1)], [r("c", 2), r("b", 2)], [
    "a",
    "b",
    "c",
  ]);
  assert.deepEqual(merged.map((x) => `${x.name}${x.trainS}`), ["a1", "b2", "c2", "z1"]);
  assert.deepEqual(mergeRows([], [r("b", 1), r("a", 1)], []).map((x) => x.name), ["b", "a"]);
});
