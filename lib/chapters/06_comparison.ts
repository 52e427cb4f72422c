/**
 * Chapter 6: every model of the report in one polars table (validation metrics at 0.5, AUC,
 * parameters, time, epochs, confusion matrix), our `compact` model included, and the choice of
 * the final model with its reasons, computed from the numbers.
 * @module
 */
import pl from "nodejs-polars";
import { dotIntervalChart } from "../charts/dot_intervals.ts";
import { binaryConfusionHeatmap } from "../charts/heatmap.ts";
import { bootstrapMetrics } from "../metrics/bootstrap.ts";
import { writeJsonAtomic } from "../util/atomic.ts";
import { isFinishedRun, readRunRecord, resultPath, runDir, type RunRecord } from "./_context.ts";
import type { ReportSettings } from "../report/settings.ts";
import { valConfusion } from "./_training.ts";
import { CHAPTER_RUNS } from "./_models.ts";
import { formatMetric } from "../metrics/format.ts";

/** The finished runs of the model chapters, in chapter order (a skipped chapter is absent). */
export async function chapterRuns(s: ReportSettings): Promise<RunRecord[]> {
  const out: RunRecord[] = [];
  for (const name of Object.values(CHAPTER_RUNS)) {
    const dir = runDir(s, name);
    if (await isFinishedRun(dir)) out.push(await readRunRecord(dir));
  }
  if (out.length === 0) {
    throw new Error(`No finished runs in ${s.runsDir}: run notebooks 02-05 first`);
  }
  return out;
}

/** One row of the comparison table. */
export interface ComparisonRow {
  run: string;
  model: string;
  "train images": number;
  loss: number;
  accuracy: number;
  recall: number;
  precision: number;
  F1: number;
  AUC: number;
  "trainable params": number;
  "total time (s)": number;
  epochs: number;
  "time per epoch (s)": number;
  "confusion [[tn,fp],[fn,tp]]": string;
  /** The run's stored threshold and what it does on validation (not a table column). */
  stored?: StoredThreshold;
}

/** A run's stored decision threshold and its validation misses against 0.5. */
export interface StoredThreshold {
  threshold: number;
  /** The policy in words, as the run recorded it. */
  policy: string;
  targetSensitivity: number;
  sensitivity: number;
  sensitivityAt05: number;
  missed: number;
  missedAt05: number;
  falseAlarms: number;
  falseAlarmsAt05: number;
}

/** Comparison rows: validation metrics of each run's kept model at threshold 0.5. */
export function comparisonRows(runs: RunRecord[]): ComparisonRow[] {
  return runs.map((r) => {
    const c = valConfusion(r);
    return {
      run: r.name,
      model: r.config.model,
      "train images": r.summary.trainImages,
      loss: r.summary.val.loss,
      accuracy: r.summary.val.accuracy,
      recall: r.summary.val.recall,
      precision: r.summary.val.precision,
      F1: r.summary.val.f1,
      AUC: r.summary.val.auc,
      "trainable params": r.summary.trainableParams,
      "total time (s)": Math.round(r.summary.totalTimeS),
      epochs: r.summary.epochsRun,
      "time per epoch (s)": Math.round(10 * r.summary.meanEpochTimeS) / 10,
      "confusion [[tn,fp],[fn,tp]]": JSON.stringify([[c.tn, c.fp], [c.fn, c.tp]]),
      stored: {
        threshold: r.threshold.threshold,
        policy: r.threshold.policy,
        targetSensitivity: r.threshold.targetSensitivity,
        sensitivity: r.threshold.atThreshold.sensitivity,
        sensitivityAt05: r.threshold.at05.sensitivity,
        missed: r.threshold.atThreshold.fn,
        missedAt05: r.threshold.at05.fn,
        falseAlarms: r.threshold.atThreshold.fp,
        falseAlarmsAt05: r.threshold.at05.fp,
      },
    };
  });
}

/**
 * The comparison as a polars DataFrame, narrow enough for the report's column: the confusion
 * matrices are drawn beside it ({@link confusionGrid}), times and parameters have short headers.
 */
export function comparisonTable(rows: ComparisonRow[]): pl.DataFrame {
  return pl.DataFrame(
    rows.map((r) => ({
      run: r.run,
      model: r.model,
      "train images": r["train images"],
      loss: r.loss,
      accuracy: r.accuracy,
      recall: r.recall,
      precision: r.precision,
      F1: r.F1,
      AUC: r.AUC,
      "trainable params": r["trainable params"],
      "time (s)": r["total time (s)"],
      epochs: r.epochs,
      "s / epoch": r["time per epoch (s)"].toFixed(1),
    })),
  );
}

/** Every model's validation confusion matrix at 0.5, small and side by side. */
export function confusionGrid(runs: RunRecord[]): string {
  const cells = runs.map((r) =>
    `<div style="display:inline-block;vertical-align:top;margin:0 10px 4px 0">` +
    binaryConfusionHeatmap(valConfusion(r), { title: r.name, width: 300, height: 200 }) +
    "</div>"
  ).join("");
  return `<div class="xr-small-multiples"><p class="xr-title" style="font-weight:600;margin:` +
    `.5em 0 0">Validation confusion matrices at threshold 0.5 (rows: actual, columns: ` +
    `predicted)</p>${cells}</div>`;
}

/** The chosen model and why. */
export interface Choice {
  run: string;
  model: string;
  reasons: string[];
  /** The rule, in words. */
  rule: string;
}

/** AUC values closer than this count as a tie (then F1 decides, then fewer parameters). */
export const AUC_TIE = 0.005;

/**
 * Picks the final model: the highest validation ROC-AUC (threshold-free: the operating threshold
 * is tuned afterwards for sensitivity), AUCs within {@link AUC_TIE} tied and broken by F1 at 0.5,
 * then by fewer trainable parameters. Runs without a finite AUC are ranked last.
 */
export function chooseFinal(rows: ComparisonRow[]): Choice {
  if (rows.length === 0) throw new Error("chooseFinal: no models to choose from");
  const auc = (r: ComparisonRow) => (Number.isFinite(r.AUC) ? r.AUC : -1);
  const f1 = (r: ComparisonRow) => (Number.isFinite(r.F1) ? r.F1 : -1);
  const sorted = [...rows].sort((a, b) => {
    if (Math.abs(auc(a) - auc(b)) > AUC_TIE) return auc(b) - auc(a);
    if (f1(a) !== f1(b)) return f1(b) - f1(a);
    return a["trainable params"] - b["trainable params"];
  });
  const best = sorted[0];
  const f = (x: number) => formatMetric(x);
  const reasons: string[] = [];
  const next = sorted[1];
  reasons.push(
    next
      ? `It has the best validation ROC-AUC of the ${rows.length} models, ${f(best.AUC)}; ` +
        `the runner-up ${next.run} has ${f(next.AUC)}` +
        (Math.abs(auc(best) - auc(next)) <= AUC_TIE
          ? ` (a tie within ${AUC_TIE}, decided by F1 ${f(best.F1)} vs ${f(next.F1)}` +
            (f1(best) === f1(next)
              ? ` and parameters ${best["trainable params"]} vs ${next["trainable params"]})`
              : ")")
          : "") +
        "."
      : `It is the only model that ran (validation ROC-AUC ${f(best.AUC)}).`,
  );
  const byF1 = [...rows].sort((a, b) => f1(b) - f1(a));
  const byRecall = [...rows].sort((a, b) => b.recall - a.recall);
  reasons.push(
    `At threshold 0.5 its F1 is ${f(best.F1)} (rank ${
      byF1.indexOf(best) + 1
    } of ${rows.length}), ` +
      `recall ${f(best.recall)} (rank ${byRecall.indexOf(best) + 1}), precision ${
        f(best.precision)
      }, ` +
      `accuracy ${f(best.accuracy)}.`,
  );
  const params = rows.map((r) => r["trainable params"]);
  const maxP = Math.max(...params);
  reasons.push(
    `It has ${best["trainable params"].toLocaleString("en-US")} trainable parameters` +
      (best["trainable params"] < maxP
        ? ` (${(maxP / best["trainable params"]).toFixed(1)}x fewer than the largest, ` +
          `${rows.find((r) => r["trainable params"] === maxP)!.run})`
        : " (the most of all)") +
      ` and trained in ${best["total time (s)"].toFixed(0)} s (${best.epochs} epochs, ` +
      `${best["time per epoch (s)"].toFixed(1)} s per epoch).`,
  );
  reasons.push(thresholdSentence(best.stored));
  return {
    run: best.run,
    model: best.model,
    reasons,
    rule:
      `highest validation ROC-AUC; AUCs within ${AUC_TIE} tied, then higher F1 at 0.5, then fewer parameters`,
  };
}

/**
 * What the stored threshold does, in words and numbers: the policy (highest threshold keeping
 * validation sensitivity at the target) and its validation misses and false alarms against 0.5.
 * The policy aims at a sensitivity floor, so it can miss more than 0.5 when 0.5 is already above
 * the floor; the sentence says which way it went.
 */
export function thresholdSentence(t: StoredThreshold | undefined): string {
  if (!t) {
    return "Its decision threshold is the one stored with the run (chosen on validation), not 0.5.";
  }
  const f = (x: number) => formatMetric(x);
  const head = `Its decision threshold is not 0.5 but ${f(t.threshold)}, stored with the run ` +
    `(policy: ${t.policy}; validation sensitivity ${f(t.sensitivity)} there, ` +
    `${f(t.sensitivityAt05)} at 0.5). `;
  if (t.missed > t.missedAt05) {
    return head + `That policy sets a floor, not a minimum of misses: here 0.5 already kept ` +
      `sensitivity above the floor, so the stored threshold is higher and misses more ` +
      `pneumonias on validation (${t.missed} against ${t.missedAt05}) in exchange for fewer ` +
      `false alarms (${t.falseAlarms} against ${t.falseAlarmsAt05}).`;
  }
  if (t.missed < t.missedAt05) {
    return head + `Here it is lower than 0.5 and misses fewer pneumonias on validation ` +
      `(${t.missed} against ${t.missedAt05}), at the cost of more false alarms ` +
      `(${t.falseAlarms} against ${t.falseAlarmsAt05}).`;
  }
  return head + `On validation it misses as many pneumonias as 0.5 (${t.missed}), with ` +
    `${t.falseAlarms} false alarms against ${t.falseAlarmsAt05}.`;
}

/** Saves the choice for the later chapters (results/choice.json). */
export async function saveChoice(
  s: ReportSettings,
  choice: Choice,
  rows: ComparisonRow[],
): Promise<void> {
  await writeJsonAtomic(resultPath(s, "choice"), { ...choice, rows });
}

/** The choice in Markdown. */
export function choiceMarkdown(c: Choice): string {
  return `**Final model: \`${c.run}\`** (${c.model}). Rule: ${c.rule}.\n\n` +
    c.reasons.map((r) => `- ${r}`).join("\n");
}

/** Bootstrap resamples of the comparison's intervals. */
const N_BOOT_COMPARISON = 1000;

/**
 * Validation ROC-AUC and F1 at 0.5 of every model with patient-bootstrap 95% intervals, as dots on
 * a zoomed axis (one panel per metric): the models lie close together, and the intervals show
 * whether a gap is more than resampling noise.
 */
export function comparisonCharts(runs: RunRecord[], seed: number): string[] {
  const points = runs.flatMap((r) => {
    const m = bootstrapMetrics(r.val.y, r.val.prob, {
      groups: r.val.patient,
      threshold: 0.5,
      nBoot: N_BOOT_COMPARISON,
      seed,
    }).metrics;
    return [
      { label: r.name, panel: "ROC-AUC", ...m.auc },
      { label: r.name, panel: "F1 at 0.5", ...m.f1 },
    ];
  });
  return [
    dotIntervalChart(points, {
      title: "Validation ROC-AUC and F1 with 95% intervals",
      caption: `Dots: each model's value on its validation images; lines: 95% intervals from ` +
        `${N_BOOT_COMPARISON} bootstrap resamples of whole patients. Each axis is zoomed to the ` +
        "models' range: overlapping lines mean the gap is within resampling noise.",
      bounds: [0, 1],
      panelWidth: 430,
    }),
  ];
}
