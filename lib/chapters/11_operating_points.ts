/**
 * Chapter 11, operating points for screening: threshold policies chosen on validation and what
 * they give on test, what each means per 1,000 children at realistic prevalences (PPV, NPV,
 * referrals, missed cases), the whole trade-off against the WHO TB-triage targets (an analogous
 * benchmark), and site calibration on a small labelled sample of the test part.
 * @module
 */

import { lineChart, referenceLine } from "../charts/lines.ts";
import { recordResult } from "./_context.ts";
import { rowsToHtml } from "../charts/table.ts";
import { formatInterval } from "../metrics/bootstrap.ts";
import {
  policiesOnTest,
  SCREENING_PREVALENCES,
  screeningProjection,
  STANDARD_POLICIES,
  type ThresholdPolicy,
  tradeoffTable,
  WHO_BENCHMARK,
  WHO_SCREENING_MINIMUM,
} from "../eval/operating_points.ts";
import { siteCalibrate, type SiteCalibrationResult } from "../eval/site_calibration.ts";
import type { EvalContext } from "./_eval_context.ts";
import { N_BOOT } from "./10_honest_evaluation.ts";
import { formatSigned } from "../metrics/format.ts";

/**
 * The four policies picked on validation, applied to test; then what each means for 1,000
 * children screened at 5%, 10% and 20% prevalence and at the test part's own. Records the
 * numbers (results/operating_points.json) for the conclusions.
 */
export function policyTable(ctx: EvalContext): string {
  const rows = policiesOnTest(
    { yTrue: ctx.val.y, yScore: ctx.val.prob },
    { yTrue: ctx.test.y, yScore: ctx.test.prob },
    [storedPolicy(ctx), ...STANDARD_POLICIES],
  );
  const p = ctx.test.prevalence;
  const prevalences = [...SCREENING_PREVALENCES, p];
  const projections = rows.map((r) => ({
    policy: r.policy,
    threshold: r.threshold,
    test: r.test,
    testMeetsWho: r.testMeetsWho,
    projection: screeningProjection(r.test.sensitivity, r.test.specificity, prevalences),
  }));
  recordResult(ctx.settings, "operating_points", "policies", {
    run: ctx.record.name,
    testPrevalence: p,
    nTest: ctx.test.y.length,
    storedThreshold: ctx.run.threshold,
    policies: projections,
  });
  const policies = rowsToHtml(
    rows.map((r) => ({
      policy: r.policy,
      threshold: r.threshold,
      "val sensitivity": r.val.sensitivity,
      "val specificity": r.val.specificity,
      "test sensitivity": r.test.sensitivity,
      "test specificity": r.test.specificity,
      "test precision": r.test.precision,
      [`meets ${WHO_BENCHMARK.short}`]: r.testMeetsWho ? "yes" : "no",
    })),
    { caption: policyCaption(ctx, rows[1]) },
  );
  const pct = (x: number) => `${(100 * x).toFixed(x < 0.1 ? 0 : 0)}%`;
  const perThousand = rowsToHtml(
    projections.flatMap((r) =>
      r.projection.map((q, i) => ({
        policy: r.policy,
        prevalence: i === prevalences.length - 1
          ? `${pct(q.prevalence)} (test part)`
          : pct(q.prevalence),
        "referred / 1,000": Math.round(q.referredPer1000),
        "... with pneumonia": Math.round(q.truePositivesPer1000),
        "... without (false alarms)": Math.round(q.falseAlarmsPer1000),
        "missed / 1,000": Math.round(q.missedPer1000),
        PPV: q.ppv,
        NPV: q.npv,
      }))
    ),
    {
      caption: "Per 1,000 children screened, with each policy's test sensitivity and " +
        "specificity carried over to a population of that prevalence. PPV: share of referred " +
        "children who have pneumonia; NPV: share of children sent home who do not.",
      digits: 3,
    },
  );
  return policies + perThousand;
}

/**
 * The run's stored threshold as the first row of the policy table: the threshold chapter 7 and
 * the conclusions quote, chosen at training (`threshold.json`'s policy, which may add a margin
 * from augmented validation copies), so it can differ from "sensitivity >= target" re-picked on
 * the clean validation scores alone.
 */
export function storedPolicy(ctx: Pick<EvalContext, "run">): ThresholdPolicy {
  return { kind: "fixed", threshold: ctx.run.threshold, name: "stored threshold" };
}

/** The policy table's caption: where the thresholds come from, and why the first two differ. */
export function policyCaption(
  ctx: Pick<EvalContext, "run" | "val" | "test"> & { record: { name: string } },
  next?: { policy: string; threshold: number },
): string {
  const how = ctx.run.thresholdRecord?.policy;
  const first = `Thresholds chosen on validation (${ctx.val.y.length} images), measured on ` +
    `test (${ctx.test.y.length} images, prevalence ${ctx.test.prevalence.toFixed(3)}). The ` +
    `first row is \`${ctx.record.name}\`'s stored threshold ${ctx.run.threshold.toFixed(4)}` +
    (how ? ` (${how})` : "") + ", the one chapter 7 and the conclusions quote when chapter 6 " +
    "chose this run";
  if (!next) return first;
  const same = Math.abs(next.threshold - ctx.run.threshold) < 1e-9;
  return `${first}; the second applies "${next.policy}" to the clean validation scores alone ` +
    (same
      ? "and lands on the same threshold"
      : `(${next.threshold.toFixed(4)}), so its test figures differ from the first row's`);
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
  const t = ctx.run.threshold;
  return lineChart([
    line("sensitivity", "sensitivity"),
    line("specificity", "specificity"),
    referenceLine(`WHO TB-triage targets: sensitivity ${whoSens}, specificity ${whoSpec}`, whoSens),
    { ...referenceLine("WHO specificity target", whoSpec), unlisted: true },
  ], {
    rules: [{
      x: t,
      name: `stored threshold ${t.toFixed(3)} (highest with validation sensitivity >= ` +
        `${ctx.record.config.threshold.targetSensitivity})`,
    }],
    title: "Test sensitivity and specificity against the threshold",
    xLabel: "threshold on P(pneumonia)",
    yLabel: "rate",
    xDomain: [0, 1],
    yDomain: [0, 1],
    dots: false,
    caption: (ok.length
      ? `Both WHO TB-triage targets are met on test for thresholds ${ok[0].threshold.toFixed(2)} ` +
        `to ${ok[ok.length - 1].threshold.toFixed(2)} (of the 0.01 grid). `
      : "No threshold of the 0.01 grid meets both WHO TB-triage targets on test. ") +
      WHO_BENCHMARK.sentence,
  });
}

/** The trade-off table at thresholds 0.05 ... 0.95, projected to a prevalence, per 1,000. */
export function tradeoffRows(ctx: EvalContext, prevalence: number): string {
  const { rows } = tradeoffTable(ctx.test.y, ctx.test.prob, { prevalence });
  return rowsToHtml(
    rows.map((r) => ({
      threshold: r.threshold,
      sensitivity: r.sensitivity,
      specificity: r.specificity,
      "PPV at this prevalence": r.ppv,
      "referred / 1,000": Math.round(10 * r.referralsPer100),
      "missed / 1,000": Math.round(10 * r.missedPer100),
      [`meets ${WHO_BENCHMARK.short}`]: r.meetsWho ? "yes" : "no",
    })),
    {
      caption: `Test part, per 1,000 children screened at pneumonia prevalence ${
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
    const drawn = result.sample.n === size
      ? ""
      : ` (${size} were asked for; whole patients are drawn, so the sample has ${result.sample.n})`;
    recordResult(ctx.settings, "operating_points", "site", {
      requested: size,
      sample: result.sample,
      rest: result.rest,
      originalThreshold: result.originalThreshold,
      newThreshold: result.newThreshold,
      change: result.change,
    });
    return {
      result,
      note: `Threshold ${result.originalThreshold.toFixed(4)} (chosen on the original ` +
        `validation split) -> ${result.newThreshold.toFixed(4)} (chosen on ${result.sample.n} ` +
        `labelled images of the site${drawn}).${shift}`,
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
  const sign = (x: number) => formatSigned(x);
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
