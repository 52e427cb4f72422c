/**
 * The seed's analysis beside ours: the seed's comparison table (its training times and epochs,
 * and its final test evaluation, quoted with their source) next to the same models of this
 * report at the same settings, and our final test evaluation on the same kind of images (the
 * dataset's official `test/` folder when it has one, the second-site sample otherwise, said so).
 * Chapter 17 shows it and records it (`results/reproduction.json`), from which a full-profile
 * report writes `outputs/reproduction/` (lib/report/reproduction.ts).
 * @module
 */
import { initBackend } from "../backend/select.ts";
import { discoverDataset } from "../data/discover.ts";
import { binaryMetrics, rocAuc } from "../metrics/classification.ts";
import { type RecordedReproduction, REPRODUCTION_RESULT } from "../report/reproduction.ts";
import type { ReportSettings } from "../report/settings.ts";
import { disposeRun, loadRun } from "../train/run.ts";
import { scoreRecords } from "../train/score.ts";
import { join } from "node:path";
import { isFinishedRun, readRunRecord, recordResult, runDir, type RunRecord } from "./_context.ts";
import { CONCLUSION_RUNS } from "./_conclusion_inputs.ts";
import { CHAPTER_RUNS } from "./_models.ts";

/** Where the seed's figures come from. */
export const SEED_SOURCE = "the seed Keras notebook (150x150 px, the whole training split, up " +
  "to 40 epochs, early stopping with patience 8): its comparison table's training times and " +
  "epochs and its final test evaluation, as the project's brief quotes them; its other table " +
  "columns (loss, accuracy, recall, precision, F1, parameters) are not in the sources this " +
  "project holds";

/** One model of the seed's table; null where the source gives no figure. */
export interface SeedRow {
  /** Our chapter's run name for the same model. */
  run: string;
  model: string;
  totalTimeS: number;
  epochs: number | null;
}

/** The seed's table, as far as quoted ({@link SEED_SOURCE}). */
export const SEED_TABLE: readonly SeedRow[] = [
  {
    run: CHAPTER_RUNS.dense25,
    model: "dense baseline, 25% of train",
    totalTimeS: 13,
    epochs: null,
  },
  {
    run: CHAPTER_RUNS.dense75,
    model: "dense baseline, 75% of train",
    totalTimeS: 13,
    epochs: null,
  },
  { run: CHAPTER_RUNS.cnn, model: "CNN", totalTimeS: 2295, epochs: 25 },
  { run: CHAPTER_RUNS.cnnReg, model: "CNN with regularisation", totalTimeS: 1793, epochs: 17 },
  {
    run: CHAPTER_RUNS.transfer,
    model: "VGG19 transfer (frozen base)",
    totalTimeS: 4465,
    epochs: 13,
  },
];

/** The seed's final test evaluation: CNN with regularisation on the official test split, at 0.5. */
export const SEED_TEST = {
  run: CHAPTER_RUNS.cnnReg,
  images: "the official Kaggle test split (624 images)",
  accuracy: 0.756,
  recall: 0.995,
  precision: 0.721,
} as const;

/** One row of the table: the seed's figures and ours for one model. */
export interface ReproductionRow {
  run: string;
  model: string;
  seed: { totalTimeS: number; epochs: number | null; timePerEpochS: number | null };
  /** Ours (validation, kept model, threshold 0.5); null when the report has no such run. */
  ours: {
    architecture: string;
    input: string;
    trainImages: number;
    loss: number;
    accuracy: number;
    recall: number;
    precision: number;
    f1: number;
    auc: number;
    trainableParams: number;
    totalTimeS: number;
    epochs: number;
    timePerEpochS: number;
    /** "patience" when early stopping ended it, "epoch limit" otherwise. */
    stoppedBy: "patience" | "epoch limit";
    workers: number;
  } | null;
}

/** Our final test evaluation of the seed's final model. */
export interface ReproductionTest {
  run: string;
  /** What the images are, in words. */
  images: string;
  /** "official-test" | "second-site" | "none". */
  kind: "official-test" | "second-site" | "none";
  n: number;
  accuracy: number;
  recall: number;
  precision: number;
  f1: number;
  auc: number;
}

/** The rows from the report's finished runs. */
export function reproductionRows(runs: Map<string, RunRecord>): ReproductionRow[] {
  return SEED_TABLE.map((sd) => {
    const r = runs.get(sd.run);
    const seed = {
      totalTimeS: sd.totalTimeS,
      epochs: sd.epochs,
      timePerEpochS: sd.epochs ? sd.totalTimeS / sd.epochs : null,
    };
    if (!r) return { run: sd.run, model: sd.model, seed, ours: null };
    const sm = r.summary, c = r.config;
    return {
      run: sd.run,
      model: sd.model,
      seed,
      ours: {
        architecture: c.model,
        input: `${c.size}x${c.size}x${c.channels}`,
        trainImages: sm.trainImages,
        loss: sm.val.loss,
        accuracy: sm.val.accuracy,
        recall: sm.val.recall,
        precision: sm.val.precision,
        f1: sm.val.f1,
        auc: sm.val.auc,
        trainableParams: sm.trainableParams,
        totalTimeS: sm.totalTimeS,
        epochs: sm.epochsRun,
        timePerEpochS: sm.meanEpochTimeS,
        stoppedBy: sm.stoppedEarly ? "patience" : "epoch limit",
        workers: sm.workers,
      },
    };
  });
}

/**
 * The images of our final test evaluation: the dataset's official `test/` folder, else the
 * second-site sample (all its images), else none.
 */
export async function testImages(
  s: ReportSettings,
): Promise<
  { kind: ReproductionTest["kind"]; images: string; records: { path: string; y: number }[] }
> {
  const data = await discoverDataset(s.data);
  const official = data.records.filter((r) => r.officialSplit === "test");
  if (official.length > 0) {
    return {
      kind: "official-test",
      images: `the dataset's official test/ folder (${official.length} images), as the seed`,
      records: official,
    };
  }
  if (s.site) {
    const site = await discoverDataset(s.site);
    return {
      kind: "second-site",
      images: `the second-site sample ${s.site} (${site.records.length} images): the data has ` +
        "no official test/ folder",
      records: site.records,
    };
  }
  return {
    kind: "none",
    images: "none: no official test/ folder and no second-site sample",
    records: [],
  };
}

/** Scores `run` on the test images at threshold 0.5 (the seed's Keras rule). */
export async function testEvaluation(
  s: ReportSettings,
  record: RunRecord,
): Promise<ReproductionTest> {
  const t = await testImages(s);
  const none = { run: record.name, images: t.images, kind: t.kind, n: 0 };
  if (t.records.length === 0) {
    return { ...none, accuracy: NaN, recall: NaN, precision: NaN, f1: NaN, auc: NaN };
  }
  await initBackend();
  const run = await loadRun(record);
  try {
    const sc = await scoreRecords(run, t.records, {
      cacheDir: join(s.outputsDir, "cache", "images"),
    });
    const keep = t.records.map((_, i) => i).filter((i) => sc.ok[i]);
    const y = keep.map((i) => t.records[i].y), p = keep.map((i) => sc.prob[i]);
    const m = binaryMetrics(y, p, 0.5);
    let auc = NaN;
    try {
      auc = rocAuc(y, p);
    } catch { /* one class only */ }
    return {
      ...none,
      n: keep.length,
      accuracy: m.accuracy,
      recall: m.sensitivity,
      precision: m.precision,
      f1: m.f1,
      auc,
    };
  } finally {
    disposeRun(run);
  }
}

const f3 = (x: number | null | undefined) =>
  x === null || x === undefined || !Number.isFinite(x) ? "-" : x.toFixed(3);
const secs = (x: number | null | undefined) =>
  x === null || x === undefined || !Number.isFinite(x)
    ? "-"
    : x < 10
    ? x.toFixed(1)
    : `${Math.round(x)}`;

/** The table and the test evaluation as Markdown. */
export function reproductionMarkdown(
  rows: readonly ReproductionRow[],
  test: ReproductionTest | null,
  profile: string,
): string {
  // Two tables, so that each fits the report's width: how each model trained (the seed's figures
  // beside ours), then our validation metrics (the seed's are not in the quoted source).
  const head = "| model | source | input | train images | trainable params | total time (s) | " +
    "epochs | s per epoch | stopped by |\n|" + " --- |".repeat(9);
  const lines: string[] = [];
  const metricLines: string[] = [];
  for (const r of rows) {
    const name = r.model === r.run ? r.model : `${r.model} (${r.run})`;
    lines.push(
      `| ${name} | seed | 150x150x3 | - | - | ${secs(r.seed.totalTimeS)} | ` +
        `${r.seed.epochs ?? "-"} | ${secs(r.seed.timePerEpochS)} | - |`,
    );
    const o = r.ours;
    lines.push(
      o
        ? `| | ours | ${o.input} | ${o.trainImages} | ${o.trainableParams} | ` +
          `${secs(o.totalTimeS)} | ${o.epochs} | ${secs(o.timePerEpochS)} | ${o.stoppedBy} |`
        : `| | ours | not trained in this report |||||||`,
    );
    if (o) {
      metricLines.push(
        `| ${name} | ${f3(o.loss)} | ${f3(o.accuracy)} | ${f3(o.recall)} | ` +
          `${f3(o.precision)} | ${f3(o.f1)} |`,
      );
    }
  }
  const metricHead =
    "| model | val loss | val accuracy | val recall | val precision | val F1 |\n|" +
    " --- |".repeat(6);
  const seedTotal = SEED_TABLE.reduce((a, r) => a + r.totalTimeS, 0);
  const ours = rows.filter((r) => r.ours);
  const oursTotal = ours.reduce((a, r) => a + r.ours!.totalTimeS, 0);
  const out = [
    `**The seed's table beside ours** (profile ${profile}; ours: validation, kept model, ` +
    `threshold 0.5). Seed figures: ${SEED_SOURCE}. Our transfer row uses the base the report ` +
    "was given (chapter 5 says which), not VGG19.",
    "",
    head,
    ...lines,
    "",
    ...(metricLines.length
      ? [
        "Our models on validation (kept model, threshold 0.5):",
        "",
        metricHead,
        ...metricLines,
        "",
      ]
      : []),
    `Training time of these models: the seed ${secs(seedTotal)} s, ours ${secs(oursTotal)} s ` +
    `(${ours.length} of ${rows.length} models trained here).`,
  ];
  if (test) {
    out.push(
      "",
      `**Final test evaluation** of ${SEED_TEST.run} at threshold 0.5: the seed on ` +
        `${SEED_TEST.images}: accuracy ${f3(SEED_TEST.accuracy)}, recall ` +
        `${f3(SEED_TEST.recall)}, precision ${f3(SEED_TEST.precision)}. Ours on ${test.images}` +
        (test.n > 0
          ? `: accuracy ${f3(test.accuracy)}, recall ${f3(test.recall)}, precision ` +
            `${f3(test.precision)}, F1 ${f3(test.f1)}, ROC-AUC ${f3(test.auc)} (${test.n} images).`
          : "."),
    );
    if (test.kind === "second-site") {
      out.push(
        "These are not the seed's 624 test images. Where the second-site sample is drawn from the same " +
          "official test split (the project's chest_xray_site is 40% of it, chosen by patient), " +
          "the two rows measure the same kind of images on different subsets, ours on fewer " +
          "images and so with wider intervals; a sample from another hospital answers a " +
          "different question.",
      );
    }
  }
  return out.join("\n");
}

/**
 * Chapter 17's reproduction section: reads the model chapters' runs, scores the seed's final
 * model on the test images, records the table (results/reproduction.json, with the runs the
 * conclusions quote) and returns it as Markdown.
 */
export async function reproduce(s: ReportSettings): Promise<string> {
  const runs = new Map<string, RunRecord>();
  for (const name of Object.values(CONCLUSION_RUNS)) {
    if (await isFinishedRun(runDir(s, name))) runs.set(name, await readRunRecord(runDir(s, name)));
  }
  const rows = reproductionRows(runs);
  const final = runs.get(SEED_TEST.run);
  const test = final ? await testEvaluation(s, final) : null;
  const markdown = reproductionMarkdown(rows, test, s.profile.name);
  const quoted = [...runs.keys()];
  const unconverged = rows.filter((r) => r.ours?.stoppedBy === "epoch limit").map((r) => r.run);
  recordResult(s, REPRODUCTION_RESULT, "table", {
    profile: s.profile.name,
    seedSource: SEED_SOURCE,
    rows,
    test: test ? { seed: SEED_TEST, ours: test } : null,
    stoppedByEpochLimit: unconverged,
  });
  recordResult(s, REPRODUCTION_RESULT, "markdown", markdown + "\n");
  recordResult(s, REPRODUCTION_RESULT, "runs", quoted satisfies RecordedReproduction["runs"]);
  return markdown;
}
