/**
 * Chapter 9, balancing: one model (the chapter's budget) trained with no balancing,
 * downsampling of pneumonia, upsampling of normal, and class weights in the loss, compared on
 * validation in one table and one chart.
 * @module
 */
import { dotIntervalChart } from "../charts/dot_intervals.ts";
import { rowsToHtml } from "../charts/table.ts";
import { balance, BALANCE_MODES, type BalanceMode } from "../data/balance.ts";
import { binaryMetrics, rocAuc } from "../metrics/classification.ts";
import {
  type BootMetric,
  bootstrapMetrics,
  bootstrapStats,
  formatInterval,
  type Interval,
} from "../metrics/bootstrap.ts";
import { takeFraction } from "../train/data.ts";
import { writeJsonAtomic } from "../util/atomic.ts";
import { resultPath, type RunRecord, splits } from "./_context.ts";
import type { ReportSettings } from "../report/settings.ts";
import { type RunSpec, trainOrReuse } from "./_training.ts";
import { formatMetric, formatSigned } from "../metrics/format.ts";

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
  /** 95% patient-bootstrap intervals of the validation metrics (not a table column). */
  intervals?: Record<BootMetric, Interval>;
  /** Paired difference from the "none" run on the same validation images (not a column). */
  vsNone?: Record<BootMetric, Interval>;
}

/** Bootstrap resamples for the balancing intervals. */
const N_BOOT_BALANCE = 1000;

/** Validation metrics at 0.5 of one run, mode minus baseline, paired by image, by patient. */
function pairedDifference(run: RunRecord, none: RunRecord, seed: number) {
  const y = run.val.y, a = run.val.prob, b = none.val.prob;
  const stats = (idx: number[]): Record<BootMetric, number> => {
    const yy = idx.map((i) => y[i]);
    const m1 = binaryMetrics(yy, idx.map((i) => a[i]), 0.5);
    const m0 = binaryMetrics(yy, idx.map((i) => b[i]), 0.5);
    let auc = NaN;
    try {
      auc = rocAuc(yy, idx.map((i) => a[i])) - rocAuc(yy, idx.map((i) => b[i]));
    } catch { /* one class only in this resample */ }
    return {
      auc,
      accuracy: m1.accuracy - m0.accuracy,
      sensitivity: m1.sensitivity - m0.sensitivity,
      specificity: m1.specificity - m0.specificity,
      precision: m1.precision - m0.precision,
      f1: m1.f1 - m0.f1,
    };
  };
  return bootstrapStats(y.length, stats, {
    groups: run.val.patient,
    nBoot: N_BOOT_BALANCE,
    seed,
  }).intervals;
}

/**
 * Trains (or reuses) the four balancing runs of `model` (the chapter's budget: its parameters
 * cell's `model`, size, share and epochs, lib/report/settings.ts `budgets.balance`).
 */
export async function runBalancing(
  s: ReportSettings,
  model: string,
): Promise<{ mode: BalanceMode; run: RunRecord }[]> {
  const out: { mode: BalanceMode; run: RunRecord }[] = [];
  for (const mode of BALANCE_MODES) {
    const spec: RunSpec = { name: `balance_${mode}`, model, balance: mode };
    // "none" with another chapter's settings (the same model, size, share and epochs) is that
    // chapter's run: trainOrReuse finds it by its config and shares that folder.
    const run = await trainOrReuse(s, spec);
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
  const none = runs.find((r) => r.mode === "none")?.run;
  const sameImages = (a: RunRecord, b: RunRecord) =>
    a.val.relPath.length === b.val.relPath.length &&
    a.val.relPath.every((p, i) => p === b.val.relPath[i]);
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
      "time (s)": Math.round(run.summary.totalTimeS),
      intervals: bootstrapMetrics(run.val.y, run.val.prob, {
        groups: run.val.patient,
        nBoot: N_BOOT_BALANCE,
        seed: s.seed,
      }).metrics,
      vsNone: none && mode !== "none" && sameImages(run, none)
        ? pairedDifference(run, none, s.seed)
        : undefined,
    };
  });
}

/** Saves the rows for the conclusions (results/balance.json). */
export async function saveBalance(s: ReportSettings, rows: BalanceRow[]): Promise<void> {
  await writeJsonAtomic(resultPath(s, "balance"), rows);
}

/** The table of the four experiments. */
export function balanceTable(rows: BalanceRow[]): string {
  const plain = rows.map((
    { mode, run, "train NORMAL": n, "train PNEUMONIA": p, intervals: _i, vsNone: _v, ...r },
  ) => ({ mode, run, "train normal / pneumonia": `${n} / ${p}`, ...r }));
  return rowsToHtml(plain as unknown as Record<string, unknown>[], {
    caption: "Balancing experiments (validation; metrics at 0.5 unless stated; 95% intervals " +
      "in the chart and the summary)",
    highlight: [{ column: "F1", best: "max" }, { column: "AUC", best: "max" }, {
      column: "recall",
      best: "max",
    }],
  });
}

/**
 * One chart: a small dot plot per metric, one row per balancing mode, each with its 95% interval
 * on an axis zoomed to the modes' range.
 */
export function balanceChart(rows: BalanceRow[]): string {
  const metrics = ["accuracy", "recall", "precision", "specificity", "F1", "AUC"] as const;
  const key: Record<(typeof metrics)[number], BootMetric> = {
    accuracy: "accuracy",
    recall: "sensitivity",
    precision: "precision",
    specificity: "specificity",
    F1: "f1",
    AUC: "auc",
  };
  return dotIntervalChart(
    metrics.flatMap((k) =>
      rows.map((r) => ({
        panel: k,
        label: r.mode,
        estimate: r[k],
        lo: r.intervals?.[key[k]].lo,
        hi: r.intervals?.[key[k]].hi,
      }))
    ),
    {
      title: "Balancing: validation metrics per mode",
      bounds: [0, 1],
      digits: 3,
      caption: "Dots: validation value at 0.5; lines: 95% intervals, validation images " +
        `resampled by patient (${N_BOOT_BALANCE} resamples). Each metric has its own zoomed axis.`,
    },
  );
}

/**
 * What balancing changed, in words, from the rows: the best mode per metric with its paired
 * difference from no balancing and that difference's 95% interval (inside or outside noise).
 * Downsampling's size confound is taken apart by {@link budgetSummary}.
 */
export function balanceSummary(rows: BalanceRow[]): string {
  const none = rows.find((r) => r.mode === "none");
  const best = (k: "F1" | "AUC" | "recall" | "specificity") =>
    rows.reduce((
      a,
      b,
    ) => ((Number.isFinite(b[k]) ? b[k] : -1) > (Number.isFinite(a[k]) ? a[k] : -1) ? b : a));
  const key = { F1: "f1", AUC: "auc", recall: "sensitivity", specificity: "specificity" } as const;
  const f = (x: number) => formatMetric(x);
  const sign = (x: number) => formatSigned(x);
  const lines = (["F1", "AUC", "recall", "specificity"] as const).map((k) => {
    const b = best(k);
    const d = b.vsNone?.[key[k]];
    let diff = ")";
    if (none && b.mode !== "none") {
      diff = d && Number.isFinite(d.lo)
        ? `, ${sign(d.estimate)} over no balancing, 95% CI ${sign(d.lo)} to ${sign(d.hi)}: ` +
          (d.lo > 0 || d.hi < 0 ? "outside resampling noise)" : "within resampling noise)")
        : `, ${sign(b[k] - none[k])} over no balancing)`;
    } else if (b.mode === "none") diff = ", no balancing itself)";
    const iv = b.intervals?.[key[k]];
    return `- Best ${k}: **${b.mode}** (${iv ? formatInterval(iv) : f(b[k])}${diff}`;
  });
  return lines.join("\n");
}

/** Downsampling against no balancing at the same budget, with paired patient-level intervals. */
export interface BudgetComparison {
  /** The downsampled run, its same-size counterpart without balancing, and the full one. */
  down: RunRecord;
  noneSameSize: RunRecord;
  noneAll: RunRecord;
  /** Training images of each. */
  images: { down: number; noneSameSize: number; noneAll: number };
  /** Validation differences, down minus the other run: estimate and 95% interval. */
  vsSameSize: Record<BudgetMetric, Interval>;
  vsAll: Record<BudgetMetric, Interval>;
  nBoot: number;
}

/** Metrics whose differences are bootstrapped: AUC, and the rest at threshold 0.5. */
export type BudgetMetric = "AUC" | "sensitivity" | "specificity" | "F1";

/** Name of the run without balancing on as many images as the downsampled run. */
export const SAME_SIZE_RUN = "balance_none_same_size";

/**
 * Validation differences a minus b (AUC; sensitivity, specificity and F1 at 0.5), with 95%
 * intervals from a bootstrap over patients; both runs must be scored on the same images.
 */
export function valDifferences(
  a: RunRecord,
  b: RunRecord,
  seed: number,
  nBoot: number,
): Record<BudgetMetric, Interval> {
  const key = (r: RunRecord) => r.val.relPath.join("\n");
  if (key(a) !== key(b)) {
    throw new Error(`${a.name} and ${b.name} were validated on different images`);
  }
  const { y, patient } = a.val;
  const at = (run: RunRecord, idx: number[]) => {
    const yy = idx.map((i) => y[i]), p = idx.map((i) => run.val.prob[i]);
    const m = binaryMetrics(yy, p, 0.5);
    return { AUC: rocAuc(yy, p), sensitivity: m.sensitivity, specificity: m.specificity, F1: m.f1 };
  };
  return bootstrapStats<BudgetMetric>(y.length, (idx) => {
    const ma = at(a, idx), mb = at(b, idx);
    return {
      AUC: ma.AUC - mb.AUC,
      sensitivity: ma.sensitivity - mb.sensitivity,
      specificity: ma.specificity - mb.specificity,
      F1: ma.F1 - mb.F1,
    };
  }, { groups: patient, nBoot, seed }).intervals;
}

/**
 * Trains (or reuses) no balancing on a stratified random subset as large as the downsampled
 * training set, with the same model, most epochs and batch size as the downsampled run: the same
 * number of images and of gradient steps per epoch, so only the class mix differs. Then
 * bootstraps, by patient, the validation differences down minus none (same size) and down minus
 * none (all images, where size is confounded).
 */
export async function sameBudget(
  s: ReportSettings,
  runs: { mode: BalanceMode; run: RunRecord }[],
  nBoot = 1000,
): Promise<BudgetComparison> {
  const down = runs.find((r) => r.mode === "down")?.run;
  const noneAll = runs.find((r) => r.mode === "none")?.run;
  if (!down || !noneAll) throw new Error("sameBudget needs the runs of modes down and none");
  const c = down.config;
  const sp = await splits(s);
  const pool = takeFraction(sp.bySplit.train, c.fraction, c.seed);
  const nDown = balance(pool, "down", c.seed).records.length;
  // takeFraction keeps the class mix and rounds per class, so the size can differ by one image.
  const fraction = c.fraction * nDown / pool.length;
  const noneSameSize = await trainOrReuse(s, {
    name: SAME_SIZE_RUN,
    model: c.model,
    balance: "none",
    fraction,
    epochs: c.epochs,
    size: c.size,
    channels: c.channels,
    basePath: c.basePath ?? undefined,
  });
  return {
    down,
    noneSameSize,
    noneAll,
    images: {
      down: down.summary.trainImages,
      noneSameSize: noneSameSize.summary.trainImages,
      noneAll: noneAll.summary.trainImages,
    },
    vsSameSize: valDifferences(down, noneSameSize, s.seed, nBoot),
    vsAll: valDifferences(down, noneAll, s.seed, nBoot),
    nBoot,
  };
}

const BUDGET_METRICS: readonly BudgetMetric[] = ["AUC", "sensitivity", "specificity", "F1"];

/** The two comparisons as a table: images, epochs run, differences with intervals. */
export function budgetTable(b: BudgetComparison): string {
  const row = (label: string, other: RunRecord, d: Record<BudgetMetric, Interval>) => ({
    comparison: label,
    "images (down / none)": `${b.images.down} / ${other.summary.trainImages}`,
    "epochs run (down / none)": `${b.down.summary.epochsRun} / ${other.summary.epochsRun}`,
    ...Object.fromEntries(BUDGET_METRICS.map((k) => [`${k} difference`, formatInterval(d[k])])),
  });
  return rowsToHtml([
    row("down - none, same images and steps", b.noneSameSize, b.vsSameSize),
    row("down - none, all images (size confounded)", b.noneAll, b.vsAll),
  ], {
    wrap: ["comparison"],
    caption: `Downsampling against no balancing (validation; AUC, and the rest at threshold 0.5; ` +
      `95% intervals from ${b.nBoot} patient-level bootstrap resamples)`,
  });
}

/** The answer in words: what downsampling changed at the same budget, and what the size did. */
export function budgetSummary(b: BudgetComparison): string {
  const verdict = (iv: Interval, what: string) =>
    iv.lo > 0
      ? `raised ${what} (${formatInterval(iv)})`
      : iv.hi < 0
      ? `lowered ${what} (${formatInterval(iv)})`
      : `made no difference to ${what} that this validation set can show (${formatInterval(iv)})`;
  return `**Budget:** the same number of training images (${b.images.down} downsampled, ` +
    `${b.images.noneSameSize} without balancing) and the same most epochs and batch size, so the ` +
    `same number of gradient steps per epoch; only the class mix differs. At that budget, ` +
    `downsampling ${verdict(b.vsSameSize.AUC, "validation AUC")}, and at threshold 0.5 ` +
    `${verdict(b.vsSameSize.sensitivity, "sensitivity")} and ` +
    `${verdict(b.vsSameSize.specificity, "specificity")}.\n\n` +
    `Against no balancing on all ${b.images.noneAll} images, downsampling trains on fewer ` +
    `images, so that comparison mixes balancing with data size: it ` +
    `${verdict(b.vsAll.AUC, "validation AUC")}. A shift between sensitivity and specificity at ` +
    `0.5 can come from the class mix moving the scores' scale, which a threshold chosen on ` +
    `validation can absorb; AUC does not depend on the threshold.`;
}
