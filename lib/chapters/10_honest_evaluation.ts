/**
 * Chapter 10, evaluation a reviewer can trust: ROC and precision-recall curves on validation and
 * test, metrics with patient-level bootstrap 95% intervals, and calibration (reliability diagram,
 * ECE, Brier) before and after temperature scaling fitted on validation and stored with the run.
 * @module
 */

import { join } from "node:path";
import { lineChart, prChart, referenceLine, rocChart } from "../charts/lines.ts";
import { rowsToHtml } from "../charts/table.ts";
import {
  BOOT_METRICS,
  bootstrapMetrics,
  formatInterval,
  type MetricIntervals,
} from "../metrics/bootstrap.ts";
import {
  applyTemperature,
  brierScore,
  CALIBRATION_FILE,
  expectedCalibrationError,
  fitTemperature,
  probsToLogits,
  readCalibration,
  reliabilityBins,
  type TemperatureFit,
  writeCalibration,
} from "../metrics/calibration.ts";
import { binaryCrossEntropy, binaryMetrics, rocAuc } from "../metrics/classification.ts";
import { averagePrecision, precisionRecallCurve, rocCurve } from "../metrics/curves.ts";
import type { EvalContext, ScoredSplit } from "./_eval_context.ts";
import { recordResult } from "./_context.ts";
import { COLORS } from "../charts/_render.ts";

/** The stored operating policy of a run in words (the threshold and how it was chosen). */
export function policyWords(ctx: EvalContext): string {
  return `stored threshold ${ctx.run.threshold.toFixed(3)}: the highest with validation ` +
    `sensitivity >= ${ctx.record.config.threshold.targetSensitivity}`;
}

/** The stored threshold's point on validation and test, for marking curves. */
function operatingPoints(ctx: EvalContext) {
  const t = ctx.run.threshold;
  return {
    val: binaryMetrics(ctx.val.y, ctx.val.prob, t),
    test: binaryMetrics(ctx.test.y, ctx.test.prob, t),
  };
}

/** Bootstrap resamples used by the chapters (1000, the usual choice for 95% intervals). */
export const N_BOOT = 1000;

/** ROC curves of validation and test with their AUC. */
export function rocFigure(ctx: EvalContext): string {
  const curve = (name: string, d: ScoredSplit) => {
    const pts = rocCurve(d.y, d.prob);
    return {
      name,
      fpr: pts.map((p) => p.fpr),
      tpr: pts.map((p) => p.tpr),
      auc: rocAuc(d.y, d.prob),
    };
  };
  const op = operatingPoints(ctx);
  return rocChart([curve("validation", ctx.val), curve("test", ctx.test)], {
    title: `ROC curves of ${ctx.record.name}`,
    caption: `Test: ${ctx.testSource}. Ringed dots: the operating point, ${policyWords(ctx)}.`,
    marked: [
      {
        x: 1 - op.val.specificity,
        y: op.val.sensitivity,
        name: "operating point, validation",
        color: COLORS.train,
      },
      {
        x: 1 - op.test.specificity,
        y: op.test.sensitivity,
        name: "operating point, test",
        color: COLORS.val,
      },
    ],
  });
}

/** Precision-recall curves of validation and test with their average precision. */
export function prFigure(ctx: EvalContext): string {
  const curve = (name: string, d: ScoredSplit) => {
    const pts = precisionRecallCurve(d.y, d.prob);
    return {
      name,
      recall: pts.map((p) => p.recall),
      precision: pts.map((p) => p.precision),
      ap: averagePrecision(d.y, d.prob),
    };
  };
  const op = operatingPoints(ctx);
  return prChart([curve("validation", ctx.val), curve("test", ctx.test)], {
    title: `Precision-recall curves of ${ctx.record.name}`,
    prevalence: ctx.test.prevalence,
    caption: "Dashed: the test prevalence, the precision of calling everyone positive. Ringed " +
      `dots: the operating point, ${policyWords(ctx)}.`,
    marked: [
      {
        x: op.val.sensitivity,
        y: op.val.precision,
        name: "operating point, validation",
        color: COLORS.train,
      },
      {
        x: op.test.sensitivity,
        y: op.test.precision,
        name: "operating point, test",
        color: COLORS.val,
      },
    ],
  });
}

/** Patient-level bootstrap intervals on validation and test at the run's stored threshold. */
export function intervals(
  ctx: EvalContext,
  seed: number,
): { val: MetricIntervals; test: MetricIntervals } {
  const t = ctx.run.threshold;
  const go = (d: ScoredSplit) =>
    bootstrapMetrics(d.y, d.prob, { groups: d.patient, threshold: t, nBoot: N_BOOT, seed });
  return { val: go(ctx.val), test: go(ctx.test) };
}

/** The intervals as a table: one row per metric, estimate (95% CI) per split, skipped resamples. */
export function intervalsTable(iv: { val: MetricIntervals; test: MetricIntervals }): string {
  const rows = BOOT_METRICS.map((m) => ({
    metric: m === "auc" ? "ROC-AUC" : m,
    "validation (95% CI)": formatInterval(iv.val.metrics[m]),
    "test (95% CI)": formatInterval(iv.test.metrics[m]),
    "skipped resamples (val / test)": `${iv.val.metrics[m].nSkipped} / ${
      iv.test.metrics[m].nSkipped
    }`,
  }));
  return rowsToHtml(rows, {
    caption: `At the stored threshold ${iv.test.threshold.toFixed(4)}; ${iv.test.nBoot} ` +
      `resamples of patients (validation ${iv.val.nClusters}, test ${iv.test.nClusters} ` +
      `patients), seed ${iv.test.seed}`,
  });
}

/** Temperature fitted on validation, written to the run folder, and scores before/after. */
export interface CalibrationResult {
  fit: TemperatureFit;
  path: string;
  rows: Record<string, string | number>[];
  testBefore: number[];
  testAfter: number[];
}

/**
 * Temperature scaling and test scores before/after it. The temperature is the one the training
 * engine fitted on validation and stored with the run (`calibration.json`); a run without one
 * (trained before the engine stored it) gets it fitted here, on validation only, and stored.
 */
export async function calibrate(ctx: EvalContext): Promise<CalibrationResult> {
  const stored = await readCalibration(ctx.run.dir);
  let fit: TemperatureFit, path = join(ctx.run.dir, CALIBRATION_FILE);
  if (stored) {
    const { method: _m, fittedOn: _f, ...rest } = stored;
    fit = rest;
  } else {
    fit = fitTemperature(ctx.val.y, probsToLogits(ctx.val.prob));
    path = await writeCalibration(ctx.run.dir, fit, "validation part of the manifest");
  }
  const testBefore = ctx.test.prob;
  const testAfter = applyTemperature(probsToLogits(testBefore), fit.temperature);
  const valAfter = applyTemperature(probsToLogits(ctx.val.prob), fit.temperature);
  const row = (split: string, y: number[], p: number[], when: string) => ({
    split,
    scores: when,
    "ECE (10 bins)": expectedCalibrationError(y, p),
    Brier: brierScore(y, p),
    "log loss": binaryCrossEntropy(y, p),
  });
  return {
    fit,
    path,
    testBefore,
    testAfter,
    rows: [
      row("validation", ctx.val.y, ctx.val.prob, "raw"),
      row("validation", ctx.val.y, valAfter, `T = ${fit.temperature.toFixed(3)}`),
      row("test", ctx.test.y, testBefore, "raw"),
      row("test", ctx.test.y, testAfter, `T = ${fit.temperature.toFixed(3)}`),
    ],
  };
}

/** The calibration rows as a table. */
export function calibrationTable(cal: CalibrationResult): string {
  return rowsToHtml(cal.rows, {
    caption: `Calibration before and after temperature scaling (T fitted on validation: ` +
      `${cal.fit.temperature.toFixed(3)})`,
  });
}

/** Reliability diagram of the test part, raw and temperature-scaled, with the diagonal. */
export function reliabilityFigure(y: number[], raw: number[], scaled: number[], t: number): string {
  const pts = (p: number[]) =>
    reliabilityBins(y, p, 10).filter((b) => b.count > 0).map((b) => ({
      x: b.meanPredicted,
      y: b.fractionPositive,
    }));
  return lineChart([
    { name: "raw", points: pts(raw) },
    { name: `T = ${t.toFixed(2)}`, points: pts(scaled) },
    referenceLine("perfect", 0, 1),
  ], {
    title: "Reliability diagram (test part, 10 equal-width bins)",
    xLabel: "mean predicted P(pneumonia)",
    yLabel: "observed share with pneumonia",
    xDomain: [0, 1],
    yDomain: [0, 1],
    square: true,
    dots: true,
  });
}

/** Which run the chapter evaluates and on which images, in one line of Markdown. */
export function runLine(ctx: EvalContext): string {
  const c = ctx.record.config;
  return `Run **${ctx.record.name}** (${c.model}, ${c.size}x${c.size}x${c.channels}); ` +
    `validation ${ctx.val.y.length} images, test ${ctx.test.y.length} images from ` +
    `${ctx.testSource}.`;
}

/**
 * A paragraph with the chapter's numbers. Also records them (results/honest_evaluation.json) for
 * the conclusions.
 */
export function honestSummary(
  ctx: EvalContext,
  iv: { val: MetricIntervals; test: MetricIntervals },
  cal: CalibrationResult,
): string {
  const v = iv.val.metrics, t = iv.test.metrics;
  const drop = v.auc.estimate - t.auc.estimate;
  // Do the two AUC intervals overlap? If so the drop is within the resampling noise.
  const apart = v.auc.lo > t.auc.hi || t.auc.lo > v.auc.hi;
  recordResult(ctx.settings, "honest_evaluation", "summary", {
    run: ctx.record.name,
    threshold: ctx.run.threshold,
    targetSensitivity: ctx.record.config.threshold.targetSensitivity,
    officialTest: ctx.officialTest,
    testSource: ctx.testSource,
    nVal: ctx.val.y.length,
    nTest: ctx.test.y.length,
    testPrevalence: ctx.test.prevalence,
    val: v,
    test: t,
    temperature: cal.fit.temperature,
    calibration: cal.rows,
  });
  return [
    `Validation ROC-AUC ${formatInterval(v.auc)} against test ${formatInterval(t.auc)} ` +
    `(${drop >= 0 ? "a drop of" : "a gain of"} ${Math.abs(drop).toFixed(3)}; ` +
    (apart
      ? "the two intervals do not overlap, so the difference is larger than resampling noise). "
      : "the intervals overlap, so this difference is within resampling noise). ") +
    `At the stored threshold (${ctx.run.threshold.toFixed(4)}, chosen on validation for ` +
    `sensitivity >= ${ctx.record.config.threshold.targetSensitivity}), test sensitivity is ` +
    `${formatInterval(t.sensitivity)} and specificity ${formatInterval(t.specificity)}.`,
    `Temperature scaling on validation gives T = ${cal.fit.temperature.toFixed(3)} ` +
    `(${
      cal.fit.temperature > 1
        ? "the raw scores are over-confident"
        : "the raw scores are under-confident"
    }); ` +
    `it is stored in ${cal.path}. It changes probabilities, not the ranking: AUC is the same.`,
  ].join("\n\n");
}
