/**
 * The model comparison table: one row per run folder, read from what each run saved
 * (summary.json for the kept model's validation metrics, parameters and times).
 *
 * @example
 * ```ts
 * import { compareRuns, comparisonMarkdown } from "./compare.ts";
 * const rows = await compareRuns(["outputs/runs/cnn-s42", "outputs/runs/compact-s42"]);
 * console.log(comparisonMarkdown(rows));
 * ```
 * @module
 */
import type { EpochMetrics } from "./epoch_metrics.ts";
import { readRunSummary } from "./run.ts";
import { formatMetric } from "../metrics/format.ts";

/** One row of the comparison: the run, and its kept model's validation metrics (at 0.5). */
export interface ComparisonRow extends EpochMetrics {
  run: string;
  model: string;
  input: string;
  trainImages: number;
  valImages: number;
  trainableParams: number;
  totalTimeS: number;
  epochs: number;
  bestEpoch: number;
  timePerEpochS: number;
}

/** Reads the rows for these run folders (in the given order). */
export async function compareRuns(dirs: string[]): Promise<ComparisonRow[]> {
  const rows: ComparisonRow[] = [];
  for (const dir of dirs) {
    const { summary: s, config: c } = await readRunSummary(dir);
    rows.push({
      run: c.name,
      model: s.model,
      input: `${c.size}x${c.size}x${c.channels}`,
      trainImages: s.trainImages,
      valImages: s.valImages,
      ...s.val,
      trainableParams: s.trainableParams,
      totalTimeS: s.totalTimeS,
      epochs: s.epochsRun,
      bestEpoch: s.bestEpoch,
      timePerEpochS: s.meanEpochTimeS,
    });
  }
  return rows;
}

/** The rows as a markdown table (metrics of the kept model on validation, at threshold 0.5). */
export function comparisonMarkdown(rows: ComparisonRow[]): string {
  const f = formatMetric;
  const head = [
    "model",
    "input",
    "train imgs",
    "val loss",
    "accuracy",
    "recall",
    "precision",
    "F1",
    "ROC-AUC",
    "trainable params",
    "time (s)",
    "epochs (best)",
    "s / epoch",
  ];
  const lines = rows.map((r) =>
    [
      r.model,
      r.input,
      r.trainImages,
      f(r.loss),
      f(r.accuracy),
      f(r.recall),
      f(r.precision),
      f(r.f1),
      f(r.auc),
      r.trainableParams.toLocaleString("en-US"),
      f(r.totalTimeS, 0),
      `${r.epochs} (${r.bestEpoch})`,
      f(r.timePerEpochS, 1),
    ].join(" | ")
  );
  return [
    `| ${head.join(" | ")} |`,
    `|${head.map(() => "---").join("|")}|`,
    ...lines.map((l) => `| ${l} |`),
  ].join("\n") + "\n";
}
