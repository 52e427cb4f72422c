/**
 * Chapter 14, three classes: the `compact` model with a softmax over normal / bacterial / viral
 * (labels from the file names), per-class metrics and the confusion matrix, compared with
 * Kermany et al. 2018.
 * @module
 */

import { confusionHeatmap } from "../charts/heatmap.ts";
import { rowsToHtml } from "../charts/table.ts";
import { bootstrapMetrics, formatInterval } from "../metrics/bootstrap.ts";
import {
  argmaxRows,
  bacterialVsViral,
  KERMANY_2018,
  type MulticlassReport,
  multiclassReport,
} from "../metrics/multiclass.ts";
import { recordResult, type RunRecord } from "./_context.ts";
import type { ReportSettings } from "../report/settings.ts";
import { classIndex } from "../train/data.ts";
import { EVAL_RUN, type EvalContext, type ScoredSplit } from "./_eval_context.ts";
import { trainOrReuse } from "./_training.ts";
import { N_BOOT } from "./10_honest_evaluation.ts";
import { formatMetric } from "../metrics/format.ts";

/** Run name of the three-class model. */
export const THREE_RUN = "compact_3class";

/** Class names in output order. */
export const THREE_LABELS = ["normal", "bacteria", "virus"] as const;

/** Trains (or reuses) the three-class compact model. */
export function trainThreeClass(s: ReportSettings): Promise<RunRecord> {
  return trainOrReuse(s, { ...EVAL_RUN, name: THREE_RUN, classes: 3 });
}

/** True labels (0 normal, 1 bacteria, 2 virus) and predictions; unknown subtypes left out. */
export function threeClassLabels(
  d: ScoredSplit,
): { y: number[]; pred: number[]; probs: number[]; kept: number[] } {
  if (d.units !== 3) throw new Error(`threeClassLabels: the run has ${d.units} outputs, need 3`);
  const pred = argmaxRows(d.outputs, 3);
  const kept = d.records.map((_, i) => i).filter((i) => classIndex(d.records[i], 3) >= 0);
  return {
    y: kept.map((i) => classIndex(d.records[i], 3)),
    pred: kept.map((i) => pred[i]),
    probs: kept.flatMap((i) => Array.from(d.outputs.subarray(i * 3, i * 3 + 3))),
    kept,
  };
}

/** The three-class report of a split. */
export function threeClassReport(d: ScoredSplit): MulticlassReport {
  const { y, pred } = threeClassLabels(d);
  return multiclassReport(y, pred, [...THREE_LABELS]);
}

/** Confusion heatmap of the test part. */
export function threeConfusion(rep: MulticlassReport): string {
  return confusionHeatmap(rep.matrix, rep.labels, {
    title: `Three-class confusion matrix, test part (${rep.n} images, argmax)`,
  });
}

/** Per-class precision, recall (sensitivity), specificity, F1 and support. */
export function perClassTable(rep: MulticlassReport): string {
  return rowsToHtml(
    [
      ...rep.perClass.map((c) => ({
        class: c.name,
        images: c.support,
        precision: c.precision,
        "recall (sensitivity)": c.recall,
        specificity: c.specificity,
        F1: c.f1,
      })),
      {
        class: "macro mean",
        images: rep.n,
        precision: rep.macro.precision,
        "recall (sensitivity)": rep.macro.recall,
        specificity: rep.perClass.reduce((a, c) => a + c.specificity, 0) / rep.perClass.length,
        F1: rep.macro.f1,
      },
    ],
    {
      caption: `Accuracy over the three classes: ${formatMetric(rep.accuracy)}; the macro mean ` +
        "averages the three per-class values",
    },
  );
}

/**
 * Our figures next to Kermany et al. 2018 for bacterial vs viral and pneumonia vs normal. Records
 * ours (results/three_classes.json) for the conclusions.
 */
export function kermanyTable(ctx: EvalContext, seed: number): string {
  const { y, probs, kept } = threeClassLabels(ctx.test);
  const bv = bacterialVsViral(y, probs);
  const d = ctx.test;
  const iv = bootstrapMetrics(kept.map((i) => d.y[i]), kept.map((i) => d.prob[i]), {
    groups: kept.map((i) => d.patient[i]),
    nBoot: N_BOOT,
    seed,
  }).metrics;
  const rep = threeClassReport(ctx.test);
  recordResult(ctx.settings, "three_classes", "summary", {
    n: rep.n,
    accuracy: rep.accuracy,
    recall: Object.fromEntries(rep.perClass.map((c) => [c.name, c.recall])),
    bacterialVsViral: bv,
    pneumoniaVsNormalAuc: iv.auc,
    officialTest: ctx.officialTest,
  });
  const k = KERMANY_2018;
  return rowsToHtml([
    {
      task: "bacterial vs viral (bacterial positive)",
      measure: "accuracy / sensitivity / specificity",
      ours: `${formatMetric(bv.accuracy)} / ${formatMetric(bv.sensitivity)} / ${
        formatMetric(bv.specificity)
      } (n = ${bv.n})`,
      "Kermany et al. 2018":
        `${k.bacterialVsViral.accuracy} / ${k.bacterialVsViral.sensitivity} / ` +
        `${k.bacterialVsViral.specificity}`,
    },
    {
      task: "pneumonia vs normal, P = 1 - P(normal)",
      measure: "ROC-AUC (95% CI)",
      ours: formatInterval(iv.auc),
      "Kermany et al. 2018": String(k.pneumoniaVsNormal.auc),
    },
  ], {
    caption: `${k.citation} ` +
      (ctx.officialTest
        ? `Theirs on the official Kaggle test split; ours on ${ctx.testSource}, the same images ` +
          "only when that folder is the official test split."
        : `Not on the same images: theirs on the official Kaggle test split, ours on ` +
          `${ctx.testSource}.`),
  });
}

/** A sentence on where the three-class errors lie. */
export function threeSummary(rep: MulticlassReport): string {
  const [normal, bacteria, virus] = rep.perClass;
  const wrong = rep.n - rep.matrix.reduce((a, r, i) => a + r[i], 0);
  const between = rep.matrix[1][2] + rep.matrix[2][1];
  return `Recall: normal ${formatMetric(normal.recall)}, bacterial ${
    formatMetric(bacteria.recall)
  }, ` +
    `viral ${formatMetric(virus.recall)}. Of the ${wrong} misclassified test images, ${between} ` +
    `confuse bacterial and viral pneumonia and ${wrong - between} confuse pneumonia with normal.`;
}
