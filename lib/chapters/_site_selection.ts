/**
 * Chapter 16's selection section: the result of the pre-registered site selection rule
 * (docs/site-selection-rule.md), as `deno task select --out` wrote it and the reference keeps it
 * (`outputs/reference/selection.json`): the table of the incumbent and every candidate, and the
 * prose that says what the rule chose, with the number of comparisons and the selection-adjusted
 * estimate. Every number in the prose comes from that file.
 * @module
 */
import { rowsToHtml } from "../charts/table.ts";
import type { Selection, SelectRow } from "../eval/site_select.ts";
import { fmtP } from "../eval/site_cv.ts";
import { formatInterval, type Interval } from "../metrics/bootstrap.ts";
import { formatMetric, formatSigned } from "../metrics/format.ts";
import { readJson } from "../util/atomic.ts";
import { projectPath } from "../util/project.ts";

/** Where the reference keeps the selection that made it (or kept it). */
export const SELECTION_PATH = "outputs/reference/selection.json";

/**
 * JSON writes NaN as null: read such a field back as NaN (formatMetric and formatSigned take null
 * as it is; fmtP, formatInterval and sorting need the NaN).
 */
const num = (x: number | null | undefined): number => (typeof x === "number" ? x : NaN);

const iv = (x: Interval) =>
  formatInterval({ ...x, estimate: num(x.estimate), lo: num(x.lo), hi: num(x.hi) });

/** The selection file, or null when there is none (a checkout without a rule run). */
export async function readSelection(
  rel = SELECTION_PATH,
): Promise<{ selection: Selection; path: string } | null> {
  const selection = await readJson<Selection>(projectPath(rel)).catch(() => null);
  if (!selection?.rows?.length) return null;
  return { selection, path: rel };
}

/** One table row per run: the incumbent first, then the candidates in the rule's order. */
export function selectionRows(s: Selection): Record<string, string>[] {
  const sens = (r: SelectRow, p: "calibrated" | "strict") => {
    const e = p === "calibrated" ? r.cv.calibrated : r.cv.strict;
    return e
      ? `${formatMetric(e.sensitivity.estimate)} / ${formatMetric(e.specificity.estimate)}`
      : "-";
  };
  return s.rows.map((r) => {
    const v = r.vsIncumbent;
    return {
      run: r.role === "incumbent" ? `${r.name} (incumbent)` : r.name,
      "site ROC-AUC (95% CI)": iv(r.auc),
      "CV ROC-AUC": formatMetric(r.cv.meanFoldAuc),
      "val ROC-AUC": formatMetric(r.valAuc),
      "gain (DeLong 95% CI)": v
        ? `${formatSigned(v.diff, 4)} (${formatSigned(v.lo, 4)} to ${formatSigned(v.hi, 4)})`
        : "",
      "Holm p": v ? fmtP(num(v.pHolm)) : "",
      "patient bootstrap CI of gain": v
        ? `${formatSigned(v.bootLo, 4)} to ${formatSigned(v.bootHi, 4)}`
        : "",
      "CV calibrated sens / spec": sens(r, "calibrated"),
      "strict sens / spec": sens(r, "strict"),
      verdict: v ? v.verdict : "",
    };
  });
}

/** The selection table as HTML (or why there is none). */
export function selectionTableHtml(r: { selection: Selection; path: string } | null): string {
  if (!r) {
    return rowsToHtml([{
      note: `No selection: ${SELECTION_PATH} is missing (deno task select --out writes it; ` +
        "docs/site-selection-rule.md has the commands)",
    }]);
  }
  const s = r.selection;
  return rowsToHtml(selectionRows(s), {
    wrap: ["run", "site ROC-AUC (95% CI)", "gain (DeLong 95% CI)", "verdict"],
    caption: `${r.path}: ${s.n} site images (${s.positives} pneumonia, ${s.patients} patients), ` +
      `${s.folds}-fold patient cross-validation (seed ${s.seed}); site intervals and the gain's ` +
      "bootstrap from resampling whole patients; CV calibrated: each fold's threshold picked on " +
      "the other folds' labels; strict: the stored threshold, no site label",
  });
}

/** The section's prose: what the rule compared, what it chose, and how far to trust it. */
export function selectionSummary(s: Selection): string {
  const cands = s.rows.filter((r) => r.vsIncumbent);
  const inc = s.rows.find((r) => r.role === "incumbent") ?? s.rows[0];
  const best = [...cands].sort((a, b) => num(b.vsIncumbent!.diff) - num(a.vsIncumbent!.diff))[0];
  const gain = (r: SelectRow) => {
    const v = r.vsIncumbent!;
    return `${formatSigned(v.diff, 4)} in site ROC-AUC (DeLong 95% CI ` +
      `${formatSigned(v.lo, 4)} to ${formatSigned(v.hi, 4)}, Holm-adjusted one-sided ` +
      `p ${fmtP(num(v.pHolm))}; patient bootstrap ${formatSigned(v.bootLo, 4)} to ` +
      `${formatSigned(v.bootHi, 4)})`;
  };
  const cleared = cands.filter((r) => r.vsIncumbent!.clears);
  const chosen = s.rows.find((r) => r.name === s.chosen.name) ?? inc;
  const n = s.selectionAdjusted;
  const entries = Object.entries(n.chosenCounts ?? {}).sort((a, b) => b[1] - a[1]);
  const choices = entries.length === 1 && entries[0][0] === inc.name
    ? `kept the incumbent in all ${entries[0][1]} folds`
    : `chose ${entries.map(([k, c]) => `${k} in ${c}`).join(", ")} of the ${s.folds} folds`;
  const parts = [
    `The rule was written before any candidate was trained (docs/site-selection-rule.md): ` +
    `${s.nComparisons} candidates against the incumbent ${inc.name} on the ${s.n} site images, ` +
    "site ROC-AUC as the metric, and a candidate clears only when DeLong's one-sided test holds " +
    `after Holm's correction over all ${s.nComparisons}, the patient bootstrap interval of its ` +
    "gain lies above zero, and validation does not drop. The site sample has now been asked " +
    `${s.runningTotal} times (${s.priorComparisons} before this rule), which is why a single ` +
    "best figure on it is worth little.",
    s.chosen.replacesIncumbent
      ? `**${chosen.name} cleared the rule** and replaces the incumbent: ${gain(chosen)}` +
        (cleared.length > 1
          ? `; ${cleared.length} candidates cleared, the rule takes the highest site ROC-AUC.`
          : ".")
      : `**No candidate cleared the rule**, so the incumbent (${inc.name}) stays. The largest ` +
        `gain was ${best.name}'s: ${gain(best)}; ` +
        `${best.vsIncumbent!.verdict.replace(/^keep the incumbent: /, "")}.`,
    `Selection-adjusted estimate (nested ${s.folds}-fold cross-validation of the whole ` +
    "procedure: in each fold the rule sees only the other folds and its choice is scored on the " +
    `held-out one): mean held-out ROC-AUC ${formatMetric(n.meanAuc)} against ` +
    `${formatMetric(n.incumbentMeanAuc)} for always keeping the incumbent; the rule ` +
    `${choices}.`,
    `The chosen model, ${chosen.name}: cross-validated ROC-AUC ` +
    `${formatMetric(chosen.cv.meanFoldAuc)}; calibrated protocol (each fold's threshold ` +
    `from the other folds' labels) sensitivity ${iv(chosen.cv.calibrated.sensitivity)}, ` +
    `specificity ${iv(chosen.cv.calibrated.specificity)}` +
    (chosen.cv.strict
      ? `; strict protocol (stored threshold ${formatMetric(chosen.cv.strict.threshold, 4)}) ` +
        `sensitivity ${iv(chosen.cv.strict.sensitivity)}, specificity ` +
        `${iv(chosen.cv.strict.specificity)}.`
      : ".") +
    " These are estimates on the site sample with their intervals; the held-back part of the " +
    "official test split is where the targets are judged.",
  ];
  return parts.join("\n\n");
}
