import assert from "node:assert/strict";
import type { Selection, SelectRow } from "../../lib/eval/site_select.ts";
import {
  readSelection,
  selectionRows,
  selectionSummary,
  selectionTableHtml,
} from "../../lib/chapters/_site_selection.ts";

const I = (estimate: number, lo = estimate - 0.01, hi = estimate + 0.01) => ({
  estimate,
  lo,
  hi,
  nValid: 100,
  nSkipped: 0,
});

function row(name: string, auc: number, vs: SelectRow["vsIncumbent"]): SelectRow {
  return {
    name,
    dir: `outputs/recipes/${name}`,
    role: vs ? "candidate" : "incumbent",
    auc: I(auc),
    cv: {
      name,
      auc: I(auc),
      foldAuc: [auc, auc],
      meanFoldAuc: auc - 0.001,
      calibrated: { thresholds: [0.4, 0.5], sensitivity: I(0.951), specificity: I(0.883) },
      strict: { threshold: 0.4585, sensitivity: I(0.977), specificity: I(0.849) },
    },
    valAuc: 0.995,
    vsIncumbent: vs,
    cached: false,
  };
}

const vs = (diff: number, clears: boolean, verdict: string): SelectRow["vsIncumbent"] => ({
  diff,
  lo: diff - 0.008,
  hi: diff + 0.008,
  pDelong: clears ? 0.001 : 0.2,
  pHolm: clears ? 0.007 : 0.9,
  bootLo: diff - 0.009,
  bootHi: diff + 0.009,
  valDiff: 0,
  valPWorse: 0.5,
  clears,
  verdict,
});

function selection(chosen: "reference" | "pl-s42"): Selection {
  const clears = chosen !== "reference";
  return {
    source: "site/test",
    n: 267,
    positives: 174,
    patients: 169,
    folds: 5,
    seed: 0,
    alpha: 0.05,
    nComparisons: 2,
    priorComparisons: 47,
    runningTotal: 49,
    rows: [
      row("reference", 0.981, null),
      row(
        "pl-s42",
        0.99,
        vs(clears ? 0.009 : 0.004, clears, clears ? "replaces" : "keep the incumbent: x"),
      ),
      row("long", 0.975, vs(-0.006, false, "keep the incumbent: DeLong Holm p 1")),
    ],
    chosen: { name: chosen, dir: `outputs/${chosen}`, replacesIncumbent: clears },
    selectionAdjusted: {
      perFold: [],
      meanAuc: 0.979,
      incumbentMeanAuc: 0.978,
      chosenCounts: { reference: 4, "pl-s42": 1 },
      nComparisons: 2,
    },
    leftOut: 0,
  };
}

Deno.test("selection prose: nothing cleared keeps the incumbent and names the largest gain", () => {
  const text = selectionSummary(selection("reference"));
  assert.match(text, /No candidate cleared the rule\*\*, so the incumbent \(reference\) stays/);
  assert.match(text, /largest gain was pl-s42's: \+0\.0040/);
  assert.match(
    text,
    /\+0\.0120, Holm-adjusted one-sided p 0\.90; patient bootstrap -0\.0050 to \+0\.0130\); x\./,
  );
  assert.match(text, /asked 49 times \(47 before this rule\)/);
  assert.match(text, /mean held-out ROC-AUC 0\.979 against 0\.978/);
  assert.match(text, /the rule chose reference in 4, pl-s42 in 1 of the 5 folds/);
  assert.match(text, /sensitivity 0\.951 \(0\.941 to 0\.961\)/);
  assert.match(text, /stored threshold 0\.4585/);
});

Deno.test("selection prose: a cleared candidate replaces the incumbent", () => {
  const text = selectionSummary(selection("pl-s42"));
  assert.match(text, /\*\*pl-s42 cleared the rule\*\* and replaces the incumbent: \+0\.0090/);
  assert.match(text, /Holm-adjusted one-sided p 0\.0070/);
  assert.doesNotMatch(text, /No candidate/);
});

Deno.test("selection table: a row per run, NaN written as null by JSON reads as undefined", () => {
  const s = JSON.parse(JSON.stringify(selection("reference"))) as Selection;
  (s.rows[2] as { valAuc: number | null }).valAuc = null;
  const rows = selectionRows(s);
  assert.equal(rows.length, 3);
  assert.equal(rows[0].run, "reference (incumbent)");
  assert.equal(rows[0]["gain (DeLong 95% CI)"], "");
  assert.equal(rows[1]["gain (DeLong 95% CI)"], "+0.0040 (-0.0040 to +0.0120)");
  assert.equal(rows[1]["strict sens / spec"], "0.977 / 0.849");
  assert.notEqual(rows[2]["val ROC-AUC"], "NaN");
  const html = selectionTableHtml({ selection: s, path: "x/selection.json" });
  assert.match(html, /267 site images \(174 pneumonia, 169 patients\)/);
  assert.match(html, /keep the incumbent: DeLong Holm p 1/);
});

Deno.test("selection: a missing file says how to make one", async () => {
  assert.equal(await readSelection("outputs/does-not-exist/selection.json"), null);
  assert.match(selectionTableHtml(null), /deno task select --out writes it/);
});

Deno.test("the committed selection kept the reference, as the documents say", async () => {
  const r = await readSelection();
  assert.ok(r, "outputs/reference/selection.json is missing or empty");
  const s = r.selection;
  assert.equal(s.chosen.replacesIncumbent, false);
  assert.equal(s.rows[0].role, "incumbent");
  assert.equal(s.nComparisons, 7);
  assert.equal(s.runningTotal, s.priorComparisons + s.nComparisons);
  const readme = await Deno.readTextFile(
    new URL("../../outputs/reference/README.md", import.meta.url),
  );
  assert.match(readme, /No\s+candidate cleared it, so this model stays the reference/);
  assert.match(readme, new RegExp(`asked ${s.runningTotal} times`));
  assert.match(selectionSummary(s), /No candidate cleared the rule/);
  assert.match(selectionSummary(s), /kept the incumbent in all 5 folds/);
});
