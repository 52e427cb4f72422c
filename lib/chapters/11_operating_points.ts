/**
 * Chapter 11, operating points for screening: threshold policies chosen on validation and what
 * they give on test, the whole trade-off with referrals per 100 children and the WHO minimum,
 * and site calibration on a small labelled sample of the test part.
 * @module
 */

import { lineChart, referenceLine } from "../charts/lines.ts";
import { rowsToHtml } from "../charts/table.ts";
import { formatInterval } from "../metrics/bootstrap.ts";
import {
  policiesOnTest,
  STANDARD_POLICIES,
  tradeoffTable,
  WHO_SCREENING_MINIMUM,
} from "../eval/operating_points.ts";
import { siteCalibrate, type SiteCalibrationResult } from "../eval/site_calibration.ts";
import type { EvalContext } from "./_eval_context.ts";
import { N_BOOT } from "./10_honest_evaluation.ts";

/** The four policies picked on validation, applied to test. */
export function policyTable(ctx: EvalContext): string {
  const rows = policiesOnTest(
    { yTrue: ctx.val.y, yScore: ctx.val.prob },
    { yTrue: ctx.test.y, yScore: ctx.test.prob },
    STANDARD_POLICIES,
  );
  const p = ctx.test.prevalence;
  return rowsToHtml(
    rows.map((r) => ({
      policy: r.policy,
      threshold: r.threshold,
      "val sensitivity": r.val.sensitivity,
      "val specificity": r.val.specificity,
      "test sensitivity": r.test.sensitivity,
      "test specificity": r.test.specificity,
      "test precision": r.test.precision,
      "referrals / 100": 100 * (p * r.test.sensitivity + (1 - p) * (1 - r.test.specificity)),
      "meets WHO minimum": r.testMeetsWho ? "yes" : "no",
    })),
    {
      caption: `Thresholds chosen on validation (${ctx.val.y.length} images), measured on test ` +
        `(${ctx.test.y.length} images, prevalence ${p.toFixed(3)}); the stored run threshold is ` +
        `${ctx.run.threshold.toFixed(4)}`,
    },
  );
}

/** Sensitivity and specificity on test against the threshold, with the WHO minimum lines. */
export function tradeoffFigure(ctx: EvalContext): string {
  const thresholds = Array.from({ length: 99 }, (_, i) => (i + 1) / 100);
  const { rows } = tradeoffTable(ctx.test.y, ctx.test.prob, { thresholds });
  const line = (name: string, key: "sensitivity" | "specificity") => ({
    name,
    points: rows.map((r) => ({ x: r.threshold, y: r[key] })),
  });
  const ok = rows.filter((r) => r.meetsWho);
  const { sensitivity: whoSens, specificity: whoSpec } = WHO_SCREENING_MINIMUM;
  return lineChart([
    line("sensitivity", "sensitivity"),
    line("specificity", "specificity"),
    referenceLine(`WHO sens ${whoSens}`, whoSens),
    referenceLine(`WHO spec ${whoSpec}`, whoSpec),
  ], {
    title: "Test sensitivity and specificity against the threshold",
    xLabel: "threshold on P(pneumonia)",
    yLabel: "rate",
    xDomain: [0, 1],
    yDomain: [0, 1],
    dots: false,
    caption: ok.length
      ? `Both WHO minimum figures are met for thresholds ${ok[0].threshold.toFixed(2)} to ` +
        `${ok[ok.length - 1].threshold.toFixed(2)} (of the 0.01 grid).`
      : "No threshold of the 0.01 grid meets both WHO minimum figures on test.",
  });
}

/** The trade-off table at thresholds 0.05 ... 0.95, projected to a prevalence. */
export function tradeoffRows(ctx: EvalContext, prevalence: number): string {
  const { rows } = tradeoffTable(ctx.test.y, ctx.test.prob, { prevalence });
  return rowsToHtml(
    rows.map((r) => ({
      threshold: r.threshold,
      sensitivity: r.sensitivity,
      specificity: r.specificity,
      "PPV at this prevalence": r.ppv,
      "referrals / 100": r.referralsPer100,
      "missed / 100": r.missedPer100,
      "meets WHO": r.meetsWho ? "yes" : "no",
    })),
    {
      caption: `Test part, per 100 children screened at pneumonia prevalence ${
        prevalence.toFixed(3)
      }`,
      digits: 3,
    },
  );
}

/**
 * Site calibration on the test part, treated as the "new site": a sample of `sampleSize` images
 * (at most half of the part). Returns null with the reason when the part is too small or the
 * sample lacks a class (tiny synthetic data).
 */
export function siteCalibration(
  ctx: EvalContext,
  seed: number,
  sampleSize = 80,
): { result: SiteCalibrationResult | null; note: string } {
  const n = ctx.test.y.length, size = Math.min(sampleSize, Math.floor(n / 2));
  try {
    const result = siteCalibrate(
      ctx.test.records.map((r) => ({ y: r.y, patientId: r.patientId })),
      ctx.test.prob,
      { threshold: ctx.run.threshold, sampleSize: size, seed, nBoot: N_BOOT },
    );
    const shift = ctx.officialTest ? "" : " The test part comes from the same hospital and " +
      "folder as the training data, so little shift is expected; a real new site shifts more.";
    return {
      result,
      note: `Threshold ${result.originalThreshold.toFixed(4)} (chosen on the original ` +
        `validation split) -> ${result.newThreshold.toFixed(4)} (chosen on ${result.sample.n} ` +
        `labelled images of the site).${shift}`,
    };
  } catch (err) {
    return {
      result: null,
      note: `Site calibration skipped: ${(err as Error).message} (test part of ${n} images).`,
    };
  }
}

/** Site calibration as a table: before, after and the paired change with 95% intervals. */
export function siteTable(r: SiteCalibrationResult): string {
  const sign = (x: number) => (x >= 0 ? "+" : "") + x.toFixed(3);
  const rows = (["sensitivity", "specificity", "precision", "f1", "accuracy"] as const).map((
    k,
  ) => ({
    metric: k,
    [`before, t = ${r.originalThreshold.toFixed(4)}`]: formatInterval(r.before.metrics[k]),
    [`after, t = ${r.newThreshold.toFixed(4)}`]: formatInterval(r.after.metrics[k]),
    "change (95% CI)": `${sign(r.change[k].estimate)} (${sign(r.change[k].lo)} to ${
      sign(r.change[k].hi)
    })`,
  }));
  return rowsToHtml(rows, {
    caption: `Sample: ${r.sample.n} images of ${r.sample.patients} patients ` +
      `(${r.sample.positives} pneumonia), seed ${r.seed}; measured on the other ${r.rest.n} ` +
      `images (${r.rest.patients} patients); policy ${r.policy}`,
  });
}
