/**
 * Chapter 17, conclusions and recommendations: sentences generated from the numbers this run
 * produced (results of chapters 6, 7 and 9 and the run folders), never written by hand.
 * @module
 */
import { meetsWhoMinimum, WHO_SCREENING_MINIMUM } from "../eval/operating_points.ts";
import { readResult } from "./_context.ts";
import type { ReportSettings } from "../report/settings.ts";
import type { BalanceRow } from "./09_balancing.ts";
import type { Choice, ComparisonRow } from "./06_comparison.ts";
import type { TestEvaluation } from "./07_evaluation.ts";

/** Published reference points quoted from the project's issues (with their sources). */
export const REFERENCES = {
  kermany: {
    auc: 0.968,
    sensitivity: 0.932,
    specificity: 0.901,
    source: "Kermany et al. 2018, Cell",
  },
  seedPrecision: {
    precision: 0.721,
    source: "The seed Keras notebook's final model (official test split)",
  },
} as const;

/** Everything the conclusions are written from. */
export interface ConclusionInputs {
  profile: string;
  choice: Choice & { rows: ComparisonRow[] };
  test: TestEvaluation;
  balance: BalanceRow[] | null;
}

/** Reads the results of chapters 6, 7 and 9 (balancing optional). */
export async function conclusionInputs(s: ReportSettings): Promise<ConclusionInputs> {
  return {
    profile: s.profile.name,
    choice: await readResult<Choice & { rows: ComparisonRow[] }>(s, "choice", "06_comparison"),
    test: await readResult<TestEvaluation>(s, "test", "07_evaluation"),
    balance: await readResult<BalanceRow[]>(s, "balance", "09_balancing").catch(() => null),
  };
}

const f = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : "undefined");
const signed = (x: number) => `${x >= 0 ? "+" : ""}${x.toFixed(3)}`;

/** The findings, one Markdown bullet each. */
export function findings(c: ConclusionInputs): string[] {
  const out: string[] = [];
  const t = c.test, m = t.atThreshold, rows = c.choice.rows;
  const chosen = rows.find((r) => r.run === c.choice.run)!;
  out.push(
    `**Final model:** \`${c.choice.run}\` (${c.choice.model}), chosen by ${c.choice.rule}. Tested on ` +
      `${t.source}, it reached ROC-AUC ${f(t.auc)}; at its stored threshold ${
        f(t.threshold)
      } sensitivity ` +
      `${f(m.sensitivity)}, specificity ${f(m.specificity)}, precision ${f(m.precision)}, F1 ${
        f(m.f1)
      }, ` +
      `accuracy ${f(m.accuracy)} (${m.fn} missed pneumonias, ${m.fp} false alarms).`,
  );
  out.push(
    `**Threshold:** at 0.5 instead, sensitivity would be ${
      f(t.at05.sensitivity)
    } and specificity ` +
      `${f(t.at05.specificity)}; the stored threshold is ${
        t.threshold < 0.5 ? "lower" : "higher"
      } than 0.5 ` +
      `(${t.threshold < 0.5 ? "more" : "fewer"} images called pneumonia): ` +
      `${signed(m.sensitivity - t.at05.sensitivity)} sensitivity, ${
        signed(m.specificity - t.at05.specificity)
      } specificity.`,
  );
  const valGap = chosen.AUC - t.auc;
  if (Number.isFinite(valGap)) {
    out.push(
      `**Validation vs test:** validation ROC-AUC ${f(chosen.AUC)}, test ${f(t.auc)} (${
        signed(-valGap)
      }). ` +
        (valGap > 0.02
          ? "Validation is optimistic: the test images are harder or shifted, so thresholds tuned on validation may not hold."
          : "Validation predicted the test result well."),
    );
  }
  const who = meetsWhoMinimum(m.sensitivity, m.specificity);
  out.push(
    `**Screening bar:** the WHO minimum for a screening test (sensitivity >= ${WHO_SCREENING_MINIMUM.sensitivity}, ` +
      `specificity >= ${WHO_SCREENING_MINIMUM.specificity}) is ${
        who ? "met" : "not met"
      } at the stored threshold.`,
  );
  const k = REFERENCES.kermany;
  out.push(
    `**Published reference:** ${k.source} report AUC ${k.auc}, sensitivity ${k.sensitivity}, specificity ` +
      `${k.specificity} on their test set; this run: ${f(t.auc)} (${signed(t.auc - k.auc)}), ${
        f(m.sensitivity)
      } ` +
      `(${signed(m.sensitivity - k.sensitivity)}), ${f(m.specificity)} (${
        signed(m.specificity - k.specificity)
      }). ` +
      `${REFERENCES.seedPrecision.source} had precision ${REFERENCES.seedPrecision.precision}; this run's is ${
        f(m.precision)
      }.` +
      (t.officialTest ? "" : " (Different test images: not a like-for-like comparison.)"),
  );
  const byAuc = [...rows].sort((a, b) => (b.AUC || 0) - (a.AUC || 0));
  out.push(
    `**Models:** by validation ROC-AUC, ${byAuc.map((r) => `${r.run} ${f(r.AUC)}`).join(", ")}. ` +
      `The smallest model by parameters is ${
        [...rows].sort((a, b) => a["trainable params"] - b["trainable params"])[0].run
      }; ` +
      `the fastest per epoch is ${
        [...rows].sort((a, b) => a["time per epoch (s)"] - b["time per epoch (s)"])[0].run
      }.`,
  );
  const d25 = rows.find((r) => r.run === "dense_baseline_25"),
    d75 = rows.find((r) => r.run === "dense_baseline_75");
  if (d25 && d75) {
    out.push(
      `**More data (dense baseline):** 25% -> 75% of the training images changed validation AUC by ` +
        `${signed(d75.AUC - d25.AUC)} and F1 by ${signed(d75.F1 - d25.F1)}.`,
    );
  }
  const cnn = rows.find((r) => r.run === "cnn"), reg = rows.find((r) => r.run === "cnn_reg");
  if (cnn && reg) {
    out.push(
      `**Regularisation:** dropout + L2 changed validation AUC by ${
        signed(reg.AUC - cnn.AUC)
      } and F1 by ` +
        `${signed(reg.F1 - cnn.F1)} relative to the plain CNN.`,
    );
  }
  if (c.balance?.length) {
    const none = c.balance.find((r) => r.mode === "none");
    const best = c.balance.reduce((a, b) => ((b.F1 || 0) > (a.F1 || 0) ? b : a));
    out.push(
      `**Balancing:** the best validation F1 came from **${best.mode}** (${f(best.F1)}` +
        (none && best.mode !== "none" ? `, ${signed(best.F1 - none.F1)} over no balancing` : "") +
        `); recall ranged ${f(Math.min(...c.balance.map((r) => r.recall)))}-${
          f(Math.max(...c.balance.map((r) => r.recall)))
        } ` +
        `and specificity ${f(Math.min(...c.balance.map((r) => r.specificity)))}-${
          f(Math.max(...c.balance.map((r) => r.specificity)))
        } across modes.`,
    );
  }
  return out;
}

/** Recommendations that follow from the findings' numbers. */
export function recommendations(c: ConclusionInputs): string[] {
  const out: string[] = [];
  const m = c.test.atThreshold;
  if (c.profile !== "full") {
    out.push(
      `These numbers come from the **${c.profile}** profile (smaller images, fewer epochs, subsets); rerun with \`deno task report --profile full\` before quoting them.`,
    );
  }
  if (!c.test.officialTest) {
    out.push(
      "Evaluate on the official Kaggle test split (a `test/` folder in the data folder): the held-out patients here come from the same folder as training.",
    );
  }
  if (m.sensitivity < WHO_SCREENING_MINIMUM.sensitivity) {
    out.push(
      `Sensitivity ${
        f(m.sensitivity)
      } is below ${WHO_SCREENING_MINIMUM.sensitivity}: lower the threshold or choose it with a higher target on validation.`,
    );
  }
  if (m.specificity < 0.85) {
    out.push(
      `Specificity ${f(m.specificity)} means many false alarms (${m.fp} of ${
        m.tn + m.fp
      } normal children referred); re-pick the threshold on a small labelled sample of the target site (site calibration) before use.`,
    );
  }
  if (Number.isFinite(c.test.auc) && c.test.auc < REFERENCES.kermany.auc) {
    out.push(
      "The test ROC-AUC is below the published reference: train longer (full profile), at a larger input size, or with more augmentation.",
    );
  }
  if (c.balance?.length) {
    const best = c.balance.reduce((a, b) => ((b.F1 || 0) > (a.F1 || 0) ? b : a));
    if (best.mode !== "none") {
      out.push(
        `Train the final model with balance mode **${best.mode}**, which gave the best validation F1 here.`,
      );
    }
  }
  out.push(
    "Check where the model looks (Grad-CAM chapters) before trusting it: X-rays carry markers and text outside the lungs.",
  );
  return out;
}

/** The whole conclusions chapter as Markdown. */
export function conclusionsMarkdown(c: ConclusionInputs): string {
  return "## Findings\n\n" + findings(c).map((x) => `- ${x}`).join("\n") +
    "\n\n## Recommendations\n\n" + recommendations(c).map((x) => `- ${x}`).join("\n") +
    "\n\n*Every sentence above is generated from this run's numbers by `lib/chapters/17_conclusions.ts`.*";
}
