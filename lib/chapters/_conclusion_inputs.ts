/**
 * What the conclusions chapter reads: the results every earlier chapter recorded under
 * `<out>/results/` (chapters 6, 7, 9 to 15, and 16's `second_site.json` when that chapter ran),
 * and the model chapters' run folders, with small helpers that turn numbers into verdicts
 * (an interval that includes 0 or not).
 * @module
 */
import { bootstrapStats, type Interval, type MetricIntervals } from "../metrics/bootstrap.ts";
import { rocAuc } from "../metrics/classification.ts";
import type { ReportSettings } from "../report/settings.ts";
import { readJson } from "../util/atomic.ts";
import { isFinishedRun, readResult, readRunRecord, resultPath, runDir } from "./_context.ts";
import type { RunRecord } from "./_context.ts";
import { CHAPTER_RUNS } from "./_models.ts";
import type { Choice, ComparisonRow } from "./06_comparison.ts";
import type { TestEvaluation } from "./07_evaluation.ts";
import type { BalanceRow } from "./09_balancing.ts";
import type { OutsideStats } from "./12_where_the_model_looks.ts";
import type { ScreeningProjection } from "../eval/operating_points.ts";
import type { BinaryMetrics } from "../metrics/classification.ts";
import { formatMetric, formatSigned, UNDEFINED_METRIC } from "../metrics/format.ts";

/**
 * The run folders the conclusions read: the model chapters' runs, and chapter 9's downsampled
 * run with its same-size run without balancing (the same-budget test of downsampling) when
 * chapter 9 trained it.
 */
export const CONCLUSION_RUNS = {
  ...CHAPTER_RUNS,
  balanceDown: "balance_down",
  sameSize: "balance_none_same_size",
} as const;

/** The result file chapter 16 ("A second site") writes: `results/second_site.json`. */
export const SECOND_SITE_RESULT = "second_site";

/** A number or a 95% interval, as chapters record them. */
export type Measured = Interval | { estimate: number; lo?: number; hi?: number } | number;

/**
 * What the conclusions read from `results/second_site.json` (chapter 16). Every metric may be a
 * plain number or an interval `{ estimate, lo, hi }`; fields the chapter does not write are
 * left out of the sentences.
 */
export interface SecondSiteResult {
  /** Images of the second site that were scored. */
  n: number;
  /** The run evaluated. */
  run?: string;
  /** At the run's stored threshold (no site labels used). */
  auc?: Measured;
  sensitivity?: Measured;
  specificity?: Measured;
  threshold?: number;
  /** The same metrics on the training-distribution test part, for the side-by-side. */
  reference?: { auc?: Measured; sensitivity?: Measured; specificity?: Measured };
  /** After re-picking the threshold on labelled site images, when the chapter did. */
  calibrated?: {
    sensitivity?: Measured;
    specificity?: Measured;
    threshold?: number;
    labelled?: number;
  };
  /**
   * The shipped reference model (outputs/reference) on the same site images, when the chapter
   * evaluated it: strict (its stored threshold) and calibrated (threshold from the site's labels).
   */
  shipped?: {
    run: string;
    strict: { auc: number; sensitivity: number; specificity: number; threshold: number };
    calibrated: { auc: number; sensitivity: number; specificity: number; threshold: number };
  };
  /**
   * The pre-registered selection that kept or replaced the shipped reference
   * (outputs/reference/selection.json), when there is one.
   */
  selection?: {
    candidates: number;
    runningTotal: number;
    chosen: string;
    replacedIncumbent: boolean;
    /** Nested cross-validated site ROC-AUC of the procedure, and of always keeping the incumbent. */
    adjustedAuc: number;
    incumbentAdjustedAuc: number;
  };
}

/** Chapter 10's record (results/honest_evaluation.json, key `summary`). */
export interface HonestResult {
  run: string;
  threshold: number;
  targetSensitivity: number;
  officialTest: boolean;
  testSource: string;
  nVal: number;
  nTest: number;
  testPrevalence: number;
  val: MetricIntervals["metrics"];
  test: MetricIntervals["metrics"];
  temperature: number;
}

/** Chapter 11's record (results/operating_points.json). */
export interface OperatingResult {
  policies?: {
    /** The run chapter 11 evaluated (absent in records written before it was kept). */
    run?: string;
    testPrevalence: number;
    nTest: number;
    storedThreshold: number;
    policies: {
      policy: string;
      threshold: number;
      test: BinaryMetrics;
      testMeetsWho: boolean;
      projection: ScreeningProjection[];
    }[];
  };
  site?: {
    requested: number;
    sample: { n: number };
    newThreshold: number;
    originalThreshold: number;
    change: Record<string, Interval>;
  };
}

/** Chapter 14's record. */
export interface ThreeResult {
  n: number;
  accuracy: number;
  recall: Record<string, number>;
  bacterialVsViral: { accuracy: number; sensitivity: number; specificity: number; n: number };
  pneumoniaVsNormalAuc: Interval;
  officialTest: boolean;
}

/** Chapter 15's record. */
export interface LeakageResult {
  images: number;
  sharedPatients: number;
  maxDistance: number;
  crossSplitPairs: number;
  confirmed: number | null;
  evalImagesWithConfirmedTrainTwin: number | null;
}

/** Everything the conclusions are written from; absent chapters are null. */
export interface ConclusionInputs {
  profile: string;
  maxEpochs: number;
  seed: number;
  choice: Choice & { rows: ComparisonRow[] };
  test: TestEvaluation;
  balance: BalanceRow[] | null;
  runs: Partial<Record<keyof typeof CONCLUSION_RUNS, RunRecord>>;
  honest: HonestResult | null;
  operating: OperatingResult | null;
  looks: OutsideStats | null;
  chestCrop: Interval | null;
  three: ThreeResult | null;
  leakage: LeakageResult | null;
  secondSite: SecondSiteResult | null;
}

async function optional<T>(s: ReportSettings, name: string): Promise<T | null> {
  return await readJson<T>(resultPath(s, name)).catch(() => null);
}

/** Reads every chapter's results (6 and 7 required; the rest when their chapter ran). */
export async function conclusionInputs(s: ReportSettings): Promise<ConclusionInputs> {
  const runs: ConclusionInputs["runs"] = {};
  for (const [key, name] of Object.entries(CONCLUSION_RUNS)) {
    if (await isFinishedRun(runDir(s, name))) {
      runs[key as keyof typeof CONCLUSION_RUNS] = await readRunRecord(runDir(s, name));
    }
  }
  const honest = await optional<{ summary: HonestResult }>(s, "honest_evaluation");
  const looks = await optional<{ outside: OutsideStats }>(s, "where_the_model_looks");
  const chest = await optional<{ aucDifference: Interval }>(s, "chest_region");
  const three = await optional<{ summary: ThreeResult }>(s, "three_classes");
  const leak = await optional<{ summary: LeakageResult }>(s, "leakage_audit");
  return {
    profile: s.profile.name,
    maxEpochs: s.profile.epochs,
    seed: s.seed,
    choice: await readResult<Choice & { rows: ComparisonRow[] }>(s, "choice", "06_comparison"),
    test: await readResult<TestEvaluation>(s, "test", "07_evaluation"),
    balance: await optional<BalanceRow[]>(s, "balance"),
    runs,
    honest: honest?.summary ?? null,
    operating: await optional<OperatingResult>(s, "operating_points"),
    looks: looks?.outside ?? null,
    chestCrop: chest?.aucDifference ?? null,
    three: three?.summary ?? null,
    leakage: leak?.summary ?? null,
    secondSite: await optional<SecondSiteResult>(s, SECOND_SITE_RESULT),
  };
}

/** A {@link Measured} value as an interval (lo/hi NaN when only a number was recorded). */
export function asInterval(m: Measured | undefined): Interval | null {
  if (m === undefined || m === null) return null;
  if (typeof m === "number") return { estimate: m, lo: NaN, hi: NaN, nValid: 0, nSkipped: 0 };
  return { nValid: 0, nSkipped: 0, lo: NaN, hi: NaN, ...m } as Interval;
}

/** "0.912 (95% CI 0.887 to 0.934)", or "0.912" without an interval; "n/a" for NaN. */
export function fmtMeasured(m: Measured | undefined | null, digits = 3): string {
  const iv = m === null ? null : asInterval(m);
  if (!iv || !Number.isFinite(iv.estimate)) return UNDEFINED_METRIC;
  const f = (x: number) => formatMetric(x, digits);
  return Number.isFinite(iv.lo) && Number.isFinite(iv.hi)
    ? `${f(iv.estimate)} (95% CI ${f(iv.lo)} to ${f(iv.hi)})`
    : f(iv.estimate);
}

/** Where an interval of a difference lies: above 0, below 0, or including 0 (or unknown). */
export function side(iv: Interval | null): "up" | "down" | "zero" | "unknown" {
  if (!iv || !Number.isFinite(iv.lo) || !Number.isFinite(iv.hi)) return "unknown";
  return iv.lo > 0 ? "up" : iv.hi < 0 ? "down" : "zero";
}

/** "+0.012 (95% CI -0.010 to +0.034)". */
export function fmtDiff(iv: Interval): string {
  const f = (x: number) => formatSigned(x);
  return Number.isFinite(iv.lo)
    ? `${f(iv.estimate)} (95% CI ${f(iv.lo)} to ${f(iv.hi)})`
    : f(iv.estimate);
}

/**
 * Validation ROC-AUC of run `b` minus run `a`, paired on the same validation images and resampled
 * by patient (1000 resamples); null when the runs were validated on different images.
 */
export function pairedAucDifference(a: RunRecord, b: RunRecord, seed: number): Interval | null {
  const same = a.val.relPath.length === b.val.relPath.length &&
    a.val.relPath.every((p, i) => p === b.val.relPath[i]);
  if (!same || a.val.y.length === 0) return null;
  const y = a.val.y;
  return bootstrapStats(y.length, (idx) => {
    const yy = idx.map((i) => y[i]);
    return {
      d: rocAuc(yy, idx.map((i) => b.val.prob[i])) - rocAuc(yy, idx.map((i) => a.val.prob[i])),
    };
  }, { groups: a.val.patient, nBoot: 1000, seed }).intervals.d;
}
