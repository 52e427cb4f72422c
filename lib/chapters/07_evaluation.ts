/**
 * Chapter 7: the final model on the test split (the data folder's `test/` when it has one,
 * otherwise the manifest's patient-level test part, and the report says which): metric bars with
 * their values, the confusion-matrix heatmap, and one true negative, false positive, false
 * negative and true positive image.
 * @module
 */
import { join } from "node:path";
import { metricBars } from "../charts/bar.ts";
import { binaryConfusionHeatmap } from "../charts/heatmap.ts";
import { imageGrid } from "../charts/images.ts";
import { rowsToHtml } from "../charts/table.ts";
import type { SplitRecord } from "../data/types.ts";
import { loadImage } from "../images/load.ts";
import { toPngDataUrl } from "../images/png.ts";
import { type BinaryMetrics, binaryMetrics, rocAuc } from "../metrics/classification.ts";
import { disposeRun, loadRun } from "../train/run.ts";
import { predictRecords } from "../train/score.ts";
import { writeFileAtomic, writeJsonAtomic } from "../util/atomic.ts";
import { readResult, resultPath, runDir, splits } from "./_context.ts";
import type { ReportSettings } from "../report/settings.ts";
import type { Choice } from "./06_comparison.ts";
import { formatMetric } from "../metrics/format.ts";

/** The final model's results on the test images (results/test.json). */
export interface TestEvaluation {
  run: string;
  model: string;
  /** Where the test images came from, in words. */
  source: string;
  officialTest: boolean;
  n: number;
  /** The run's stored threshold (chosen on validation). */
  threshold: number;
  atThreshold: BinaryMetrics;
  at05: BinaryMetrics;
  auc: number;
  /** One example per outcome at the stored threshold (most confident), or null if none. */
  examples: Record<"TN" | "FP" | "FN" | "TP", { relPath: string; prob: number } | null>;
  failures: { path: string; reason: string }[];
}

/** Test predictions of the final model, for the evaluation chapters (results/test_predictions.csv). */
export const TEST_PREDICTIONS = "test_predictions";

/**
 * Predicts the test images with the chosen run (results/choice.json from chapter 6), computes
 * the metrics at the stored threshold and at 0.5, and saves results/test.json and
 * results/test_predictions.csv (relPath, patient, y, prob).
 */
export async function evaluateFinal(s: ReportSettings): Promise<TestEvaluation> {
  const choice = await readResult<Choice>(s, "choice", "06_comparison");
  const sp = await splits(s);
  const test = sp.bySplit.test;
  if (test.length === 0) {
    throw new Error(
      `The manifest ${sp.manifestPath} has no test images; the dataset at ${s.data} is too small to split`,
    );
  }
  const run = await loadRun(runDir(s, choice.run));
  const pred = await predictRecords(run, test, {
    cacheDir: join(s.outputsDir, "cache", "images"),
  });
  disposeRun(run);
  const keep = test.map((_, i) => i).filter((i) => Number.isFinite(pred.prob[i]));
  const recs = keep.map((i) => test[i]);
  const y = recs.map((r) => r.y as number);
  const p = keep.map((i) => pred.prob[i]);
  const atThreshold = binaryMetrics(y, p, run.threshold);
  const at05 = binaryMetrics(y, p, 0.5);
  let auc = NaN;
  try {
    auc = rocAuc(y, p);
  } catch { /* one class only: AUC undefined, reported as NaN */ }
  const examples = pickExamples(recs, p, run.threshold);
  const source = sp.officialTest
    ? `the data folder's own test split (${test.length} images in ${s.data}/test)`
    : `the manifest's patient-level test part (${test.length} images, ` +
      `${
        Math.round((100 * test.length) / sp.records.length)
      }% of all, from patients that training ` +
      `and validation never saw; the data folder has no test split)`;
  const ev: TestEvaluation = {
    run: choice.run,
    model: choice.model,
    source,
    officialTest: sp.officialTest,
    n: y.length,
    threshold: run.threshold,
    atThreshold,
    at05,
    auc,
    examples,
    failures: pred.failures,
  };
  await writeJsonAtomic(resultPath(s, "test"), ev);
  const q = (t: string) => (/[",\n]/.test(t) ? `"${t.replaceAll('"', '""')}"` : t);
  const csv = [
    "relPath,patient,y,prob",
    ...recs.map((r, i) => `${q(r.relPath)},${q(r.patientId)},${r.y},${p[i]}`),
  ];
  await writeFileAtomic(join(s.out, "results", `${TEST_PREDICTIONS}.csv`), csv.join("\n") + "\n");
  return ev;
}

/** The most confident example of each outcome at `threshold`. */
export function pickExamples(
  recs: SplitRecord[],
  p: number[],
  threshold: number,
): TestEvaluation["examples"] {
  const best: TestEvaluation["examples"] = { TN: null, FP: null, FN: null, TP: null };
  const conf = (prob: number, pos: boolean) => (pos ? prob : 1 - prob);
  recs.forEach((r, i) => {
    const pos = p[i] >= threshold;
    const key = r.y === 1 ? (pos ? "TP" : "FN") : (pos ? "FP" : "TN");
    const cur = best[key];
    if (!cur || conf(p[i], pos) > conf(cur.prob, pos)) {
      best[key] = { relPath: r.relPath, prob: p[i] };
    }
  });
  return best;
}

/** Metric bars (at the stored threshold) and the confusion heatmap. */
export function testCharts(ev: TestEvaluation): string[] {
  const m = ev.atThreshold;
  return [
    metricBars({
      accuracy: m.accuracy,
      "sensitivity (recall)": m.sensitivity,
      specificity: m.specificity,
      precision: m.precision,
      F1: m.f1,
      "ROC-AUC": ev.auc,
    }, { horizontal: true, title: `${ev.run} on test, threshold ${ev.threshold.toFixed(3)}` }),
    binaryConfusionHeatmap(m, {
      title: `${ev.run}: test confusion matrix (threshold ${ev.threshold.toFixed(3)})`,
    }),
  ];
}

/** The metrics at the stored threshold and at 0.5 side by side. */
export function thresholdTable(ev: TestEvaluation): string {
  const row = (name: string, t: number, m: BinaryMetrics) => ({
    threshold: name,
    value: t,
    accuracy: m.accuracy,
    sensitivity: m.sensitivity,
    specificity: m.specificity,
    precision: m.precision,
    F1: m.f1,
    TN: m.tn,
    FP: m.fp,
    FN: m.fn,
    TP: m.tp,
  });
  return rowsToHtml([
    row("stored (val sens >= 0.95)", ev.threshold, ev.atThreshold),
    row("0.5", 0.5, ev.at05),
  ], {
    caption: `Test metrics (${ev.n} images, ROC-AUC ${formatMetric(ev.auc)})`,
  });
}

/** One image of each outcome (TN, FP, FN, TP) with its label and probability. */
export async function exampleGrid(
  s: ReportSettings,
  ev: TestEvaluation,
  size = 150,
): Promise<string> {
  const names = {
    TN: "true negative",
    FP: "false positive",
    FN: "false negative",
    TP: "true positive",
  };
  const tiles = [];
  const missing: string[] = [];
  for (const k of ["TN", "FP", "FN", "TP"] as const) {
    const ex = ev.examples[k];
    if (!ex) {
      missing.push(names[k]);
      continue;
    }
    const px = await loadImage(join(s.data, ex.relPath), { size, channels: 1 });
    tiles.push({
      src: await toPngDataUrl(px, size, size, 1),
      caption: `${k} (${names[k]}): P(pneumonia) ${ex.prob.toFixed(3)}`,
    });
  }
  if (tiles.length === 0) throw new Error("exampleGrid: no test examples");
  return imageGrid(tiles, {
    columns: 4,
    tileWidth: 170,
    title: "One image of each outcome (the most confident one)",
    caption: missing.length ? `No ${missing.join(", ")} in this test set.` : undefined,
  });
}
