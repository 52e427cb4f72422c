/**
 * Chapter 9, balancing: the final model's architecture retrained with no balancing,
 * downsampling of pneumonia, upsampling of normal, and class weights in the loss, compared on
 * validation in one table and one chart.
 * @module
 */
import { groupedBarChart } from "../charts/bar.ts";
import { rowsToHtml } from "../charts/table.ts";
import { balance, BALANCE_MODES, type BalanceMode } from "../data/balance.ts";
import { binaryMetrics } from "../metrics/classification.ts";
import { takeFraction } from "../train/data.ts";
import { writeJsonAtomic } from "../util/atomic.ts";
import {
  readResult,
  readRunRecord,
  resultPath,
  runDir,
  type RunRecord,
  splits,
} from "./_context.ts";
import type { ReportSettings } from "../report/settings.ts";
import { chapterConfig, type RunSpec, trainOrReuse } from "./_training.ts";
import type { Choice } from "./06_comparison.ts";

/** One balancing experiment's numbers (validation, kept model). */
export interface BalanceRow {
  mode: BalanceMode;
  run: string;
  "train NORMAL": number;
  "train PNEUMONIA": number;
  "class weights": string;
  accuracy: number;
  recall: number;
  precision: number;
  specificity: number;
  F1: number;
  AUC: number;
  /** Specificity at the run's stored threshold (validation sensitivity >= 0.95). */
  "specificity at threshold": number;
  epochs: number;
  "time (s)": number;
}

/** Trains (or reuses) the four balancing runs of the final model's architecture. */
export async function runBalancing(
  s: ReportSettings,
): Promise<{ mode: BalanceMode; run: RunRecord }[]> {
  const choice = await readResult<Choice>(s, "choice", "06_comparison");
  const out: { mode: BalanceMode; run: RunRecord }[] = [];
  const chosen = await readRunRecord(runDir(s, choice.run));
  for (const mode of BALANCE_MODES) {
    const spec: RunSpec = {
      name: `balance_${mode}`,
      model: choice.model,
      balance: mode,
      fraction: s.profile.balanceFraction,
      epochs: s.profile.balanceEpochs,
      size: chosen.config.size,
      channels: chosen.config.channels,
      basePath: chosen.config.basePath ?? undefined,
    };
    // "none" with the final model's own settings is the final model's run: reuse it.
    const same = (a: object, b: object) =>
      JSON.stringify({ ...a, name: 0, out: 0 }) === JSON.stringify({ ...b, name: 0, out: 0 });
    const run = mode === "none" && same(chapterConfig(s, spec), chosen.config)
      ? chosen
      : await trainOrReuse(s, spec);
    out.push({ mode, run });
  }
  return out;
}

/** The table rows: training class counts after balancing, validation metrics. */
export async function balanceRows(
  s: ReportSettings,
  runs: { mode: BalanceMode; run: RunRecord }[],
): Promise<BalanceRow[]> {
  const sp = await splits(s);
  return runs.map(({ mode, run }) => {
    const train = takeFraction(sp.bySplit.train, run.config.fraction, run.config.seed);
    const b = balance(train, mode, run.config.seed);
    const m = binaryMetrics(run.val.y, run.val.prob, 0.5);
    return {
      mode,
      run: run.name,
      "train NORMAL": b.records.filter((r) => r.y === 0).length,
      "train PNEUMONIA": b.records.filter((r) => r.y === 1).length,
      "class weights": b.classWeights
        ? `${b.classWeights[0].toFixed(2)} / ${b.classWeights[1].toFixed(2)}`
        : "-",
      accuracy: m.accuracy,
      recall: m.sensitivity,
      precision: m.precision,
      specificity: m.specificity,
      F1: m.f1,
      AUC: run.summary.val.auc,
      "specificity at threshold": run.threshold.atThreshold.specificity,
      epochs: run.summary.epochsRun,
      "time (s)": run.summary.totalTimeS,
    };
  });
}

/** Saves the rows for the conclusions (results/balance.json). */
export async function saveBalance(s: ReportSettings, rows: BalanceRow[]): Promise<void> {
  await writeJsonAtomic(resultPath(s, "balance"), rows);
}

/** The table of the four experiments. */
export function balanceTable(rows: BalanceRow[]): string {
  return rowsToHtml(rows as unknown as Record<string, unknown>[], {
    caption: "Balancing experiments (validation; metrics at 0.5 unless stated)",
    highlight: [{ column: "F1", best: "max" }, { column: "AUC", best: "max" }, {
      column: "recall",
      best: "max",
    }],
  });
}

/** One chart: every metric, one bar per balancing mode. */
export function balanceChart(rows: BalanceRow[]): string {
  const metrics = ["accuracy", "recall", "precision", "specificity", "F1", "AUC"] as const;
  return groupedBarChart(
    metrics.flatMap((k) =>
      rows.map((r) => ({ group: k, series: r.mode, value: Number.isFinite(r[k]) ? r[k] : 0 }))
    ),
    { title: "Balancing: validation metrics per mode", max: 1.1, valueLabel: "value", digits: 2 },
  );
}

/** What balancing changed, in words, from the rows. */
export function balanceSummary(rows: BalanceRow[]): string {
  const none = rows.find((r) => r.mode === "none");
  const best = (k: "F1" | "AUC" | "recall" | "specificity") =>
    rows.reduce((
      a,
      b,
    ) => ((Number.isFinite(b[k]) ? b[k] : -1) > (Number.isFinite(a[k]) ? a[k] : -1) ? b : a));
  const f = (x: number) => x.toFixed(3);
  const lines = (["F1", "AUC", "recall", "specificity"] as const).map((k) => {
    const b = best(k);
    const d = none ? b[k] - none[k] : NaN;
    return `- Best ${k}: **${b.mode}** (${f(b[k])}` +
      (none && b.mode !== "none" ? `, ${d >= 0 ? "+" : ""}${f(d)} over no balancing)` : ")");
  });
  return lines.join("\n");
}
