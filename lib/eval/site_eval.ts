/**
 * Scoring a split (or a new site's folder) the way `deno task evaluate` does, with the options
 * that matter at a second site: an ensemble of runs (mean P(pneumonia); an ensemble folder,
 * lib/train/ensemble.ts, counts as one run scored as its members' mean), test-time augmentation
 * (the clean image averaged with `tta` seeded augmented copies), adaptation without labels
 * (AdaBN and prior correction, lib/eval/adapt.ts) and a threshold calibrated on a labelled site
 * folder.
 *
 * The threshold, in order: `calibrate` given: re-picked on that folder's labels with the run's
 * policy (sensitivity >= its target); one run without TTA: the run's stored threshold (chosen on
 * validation: the strict protocol); an ensemble or TTA: re-picked on the runs' validation split
 * scored the same way (the stored one belongs to other scores). Adaptation uses the evaluated
 * images, never their labels.
 *
 * @example
 * ```ts
 * import { evaluateSite } from "./site_eval.ts";
 * const { records } = await loadDataset("data/site");
 * const e = await evaluateSite({ runs: ["outputs/reference"], records, source: "data/site",
 *   adapt: "bn", ci: true });
 * console.log(e.auc, e.intervals?.auc);
 * ```
 * @module
 */
import { isAbsolute, join, resolve } from "node:path";
import { sha256Hex } from "../util/hash.ts";
import { type DataSource, describeSource, loadDataset } from "../data/dataset.ts";
import type { ImageRecord, SplitRecord } from "../data/types.ts";
import { type BootMetric, bootstrapMetrics, type Interval } from "../metrics/bootstrap.ts";
import { binaryMetrics, rocAuc, thresholdForSensitivity } from "../metrics/classification.ts";
import type { SplitData } from "../train/batch.ts";
import { loadRunImages } from "../train/data.ts";
import { predictSplit } from "../train/score.ts";
import { readCsv } from "../util/csv.ts";
import { disposeRun, type LoadedRun, loadRun } from "../train/run.ts";
import { projectPath } from "../util/project.ts";
import {
  adaptBatchNorm,
  type AdaptMode,
  parseAdapt,
  priorCorrection,
  type PriorEstimate,
  shiftPrior,
} from "./adapt.ts";

/** The evaluation result (`deno task evaluate --json`). */
export interface Evaluation {
  auc: number;
  accuracy: number;
  sensitivity: number;
  specificity: number;
  precision: number;
  f1: number;
  threshold: number;
  confusion: [[number, number], [number, number]];
  n: number;
}

/** Options of {@link scoreForSite}. */
export interface SiteScoringOptions {
  /** Run folders; more than one is an ensemble (mean P(pneumonia)). */
  runs: string[];
  /** The images to score (for example a split from `splitRecords`, lib/cli/_eval_data.ts). */
  records: ImageRecord[];
  /** Where `records` came from, in words. */
  source: string;
  /** Adaptation without labels, on `records`' images (default "none"). */
  adapt?: AdaptMode;
  /** A labelled site folder whose labels pick the threshold (every image used), or null. */
  calibrate?: DataSource | string | null;
  /** Augmented copies per image averaged with the clean one (default 0: none). */
  tta?: number;
  /** Where the runs' validation images are when their config's data folder has moved. */
  valData?: string;
  /** Image cache folder (default outputs/cache/images). */
  cacheDir?: string;
  /** Return the validation scores (`validation`) even when the scoring does not need them. */
  withValidation?: boolean;
}

/** Images with labels, patients and scores (failed images left out). */
export interface ScoredImages {
  records: ImageRecord[];
  y: number[];
  prob: number[];
  patient: string[];
}

/** What {@link scoreForSite} returns: the scores and the threshold they are judged at. */
export interface SiteScoring {
  runs: string[];
  adapt: AdaptMode;
  tta: number;
  /** Where `scored` came from, in words. */
  source: string;
  scored: ScoredImages;
  /** The calibration folder's scores (same model, same adaptation), or null. */
  calibration: (ScoredImages & { dir: string }) | null;
  threshold: number;
  /** How the threshold was chosen, in words. */
  thresholdFrom: string;
  /** Target sensitivity of the threshold policy (the first run's). */
  targetSensitivity: number;
  /** Prior correction, when asked for. */
  prior: { base: number; validation: PriorEstimate; site: PriorEstimate } | null;
  /**
   * The runs' validation labels and scores as this scoring makes them (ensemble mean, TTA), when
   * they were needed (an ensemble, TTA or prior correction), else null.
   */
  validation: { y: number[]; prob: number[] } | null;
  failures: { path: string; reason: string }[];
}

/** TTA copy k draws its augmentation from this seed (fixed, so results repeat). */
const TTA_SEED = 7001;

/** P(pneumonia) of `n` loaded images (uint8 at the run's preprocessing), TTA-averaged. */
export async function scorePixels(
  run: LoadedRun,
  pixels: Uint8Array,
  n: number,
  tta = 0,
): Promise<number[]> {
  const pre = run.preprocessing;
  const split: SplitData = {
    records: Array.from({ length: n }, () => ({}) as SplitRecord),
    labels: new Int32Array(n),
    pixels,
    slot: Int32Array.from({ length: n }, (_, i) => i),
    imageBytes: pre.size * pre.size * pre.channels,
  };
  const classes = run.config.classes ?? 2;
  const sum = await predictSplit(run.model, split, pre, classes);
  for (let k = 1; k <= tta; k++) {
    const p = await predictSplit(run.model, split, pre, classes, 64, TTA_SEED + k);
    for (let i = 0; i < n; i++) sum[i] += p[i];
  }
  return sum.map((v) => v / (tta + 1));
}

/** The run's validation images (val_predictions.csv) with labels, patients and stored scores. */
async function validationOf(run: LoadedRun, valData?: string) {
  const path = join(run.dir, "val_predictions.csv");
  const rows = await readCsv(path);
  if (rows.length === 0 || !("relPath" in rows[0] && "prob" in rows[0])) {
    throw new Error(`${path}: expected a header relPath,patient,y,prob and one row per image`);
  }
  const root = valData ??
    (isAbsolute(run.config.data) ? run.config.data : projectPath(run.config.data));
  return {
    relPath: rows.map((r) => r.relPath),
    paths: rows.map((r) => join(root, r.relPath)),
    y: rows.map((r) => Number(r.y)),
    patient: rows.map((r) => r.patient),
    stored: rows.map((r) => Number(r.prob)),
    root,
  };
}

/** Loads images at the run's preprocessing and scores them (after the model's adaptation). */
async function scorePaths(
  run: LoadedRun,
  paths: string[],
  tta: number,
  cacheDir?: string,
): Promise<{ prob: number[]; failures: { path: string; reason: string }[] }> {
  const loaded = await loadImagesFor(run, paths, cacheDir);
  const p = await scorePixels(run, loaded.data, paths.length, tta);
  return { prob: p.map((v, i) => (loaded.ok[i] ? v : NaN)), failures: loaded.failures };
}

function loadImagesFor(run: LoadedRun, paths: string[], cacheDir?: string) {
  const pre = run.preprocessing;
  return loadRunImages(paths, {
    size: pre.size,
    channels: pre.channels,
    chestRegion: pre.chestRegion,
    intensity: pre.intensity,
    cacheDir,
  });
}

/** The prior the run's loss was minimised under: 0.5 when balanced, else the val share. */
export function basePriorOf(run: Pick<LoadedRun, "config">, valY: number[]): number {
  if ((run.config.balance ?? "none") !== "none") return 0.5;
  return valY.reduce((s, v) => s + v, 0) / valY.length;
}

const mean = (xs: number[][]) => xs[0].map((_, i) => xs.reduce((s, x) => s + x[i], 0) / xs.length);

function keepScored(records: ImageRecord[], prob: number[]): ScoredImages {
  const keep = records.map((_, i) => i).filter((i) => Number.isFinite(prob[i]));
  return {
    records: keep.map((i) => records[i]),
    y: keep.map((i) => records[i].y),
    prob: keep.map((i) => prob[i]),
    patient: keep.map((i) => records[i].patientId),
  };
}

/**
 * Scores this process already computed: one run member's files (its weights file's path, time
 * and size), whether batch norm was adapted to the images, TTA, the cache folder and the image
 * paths -> P(pneumonia) per image and the load failures. Chapter 16 scores the same site with
 * every adaptation mode and calibration protocol: "prior" reuses the scores of "none" (the prior
 * correction is applied after), "bn+prior" those of "bn", calibration those of "none". Exact:
 * the same weights, images and steps give the same scores (batch-norm adaptation has no
 * randomness). Bounded to the last {@link SCORE_MEMO_MAX} entries.
 */
const SCORE_MEMO = new Map<
  string,
  { prob: number[]; failures: { path: string; reason: string }[] }
>();

/** Entries {@link SCORE_MEMO} keeps. */
export const SCORE_MEMO_MAX = 64;

function remember(
  key: string,
  v: { prob: number[]; failures: { path: string; reason: string }[] },
) {
  SCORE_MEMO.delete(key);
  SCORE_MEMO.set(key, v);
  while (SCORE_MEMO.size > SCORE_MEMO_MAX) SCORE_MEMO.delete(SCORE_MEMO.keys().next().value!);
}

/** Forgets every memoised score (tests compare with and without it). */
export function clearScoreMemo(): void {
  SCORE_MEMO.clear();
}

async function scoreKey(
  part: LoadedRun,
  o: { bn: boolean; tta: number; paths: string[]; cacheDir?: string },
): Promise<string | null> {
  // model.json is written after the weight files every time a model is saved (lib/models/io.ts),
  // so its time and size change with them, however many files the weights fill.
  const model = join(resolve(part.dir), "model", "model.json");
  const st = await Deno.stat(model).catch(() => null);
  if (!st?.mtime) return null;
  return sha256Hex(JSON.stringify({
    model,
    mtime: st.mtime.getTime(),
    size: st.size,
    pre: part.preprocessing,
    bn: o.bn,
    tta: o.tta,
    cacheDir: o.cacheDir ?? null,
    paths: o.paths,
  }));
}

/** Scores the records (and the calibration folder) as the options say; see the module doc. */
export async function scoreForSite(o: SiteScoringOptions): Promise<SiteScoring> {
  const adapt = o.adapt ?? "none", tta = o.tta ?? 0;
  const { bn, prior } = parseAdapt(adapt);
  if (!(Number.isInteger(tta) && tta >= 0)) {
    throw new Error(`--tta ${tta}: expected an integer >= 0`);
  }
  if (o.runs.length === 0) throw new Error("scoreForSite: no run folder given");
  const { records, source } = o;
  const calRecords = o.calibrate ? (await loadDataset(o.calibrate)).records : [];
  const needVal = o.runs.length > 1 || tta > 0 || prior || o.withValidation === true;
  const dataP: number[][] = [], calP: number[][] = [], valP: number[][] = [];
  const failures: { path: string; reason: string }[] = [];
  let valY: number[] = [], valRel: string[] | null = null, target = 0.95, stored = NaN;
  const bases: number[] = [];
  for (const dir of o.runs) {
    const run = await loadRun(dir);
    // An ensemble folder scores as the mean of its members, each at its own preprocessing.
    const parts = run.members ?? [run];
    try {
      if (dataP.length === 0) {
        target = run.config.threshold?.targetSensitivity ?? 0.95;
        stored = run.threshold;
      }
      if (needVal) {
        const v = await validationOf(run, o.valData);
        if (valRel && v.relPath.join("\n") !== valRel.join("\n")) {
          throw new Error(
            `${dir} was validated on other images than ${o.runs[0]}; an ensemble needs runs ` +
              "with the same validation split (same data and manifest)",
          );
        }
        valRel = v.relPath;
        valY = v.y;
        bases.push(basePriorOf(run, v.y));
        if (tta === 0) valP.push(v.stored);
        else {
          const each: number[][] = [];
          for (const part of parts) {
            const s = await scorePaths(part, v.paths, tta, o.cacheDir);
            if (s.failures.length) {
              throw new Error(
                `TTA needs the run's validation images, ${s.failures.length} of which could ` +
                  `not be read under ${v.root} (first: ${s.failures[0].path}); pass --val-data DIR`,
              );
            }
            each.push(s.prob);
          }
          valP.push(mean(each));
        }
      }
      const each: number[][] = [], eachCal: number[][] = [];
      const paths = records.map((r) => r.path);
      const calPaths = calRecords.map((r) => r.path);
      // The calibration folder is often the very images scored (chapter 16): scored once.
      const calSame = !!o.calibrate && calPaths.length === paths.length &&
        calPaths.every((p, i) => p === paths[i]);
      for (const part of parts) {
        const key = await scoreKey(part, { bn, tta, paths, cacheDir: o.cacheDir });
        let scored = key ? SCORE_MEMO.get(key) : undefined;
        // A calibration folder of other images needs the model as adapted here.
        if (!scored || (bn && o.calibrate && !calSame)) {
          const loaded = await loadImagesFor(part, paths, o.cacheDir);
          if (bn) {
            // Only the images that loaded: failed slots are zeros and would bias the statistics.
            const okIdx = records.map((_, i) => i).filter((i) => loaded.ok[i]);
            const bytes = part.preprocessing.size ** 2 * part.preprocessing.channels;
            const px = new Uint8Array(okIdx.length * bytes);
            okIdx.forEach((i, k) =>
              px.set(loaded.data.subarray(i * bytes, (i + 1) * bytes), k * bytes)
            );
            adaptBatchNorm(part.model, px, okIdx.length, part.preprocessing);
          }
          const p = await scorePixels(part, loaded.data, records.length, tta);
          scored = { prob: p.map((v, i) => (loaded.ok[i] ? v : NaN)), failures: loaded.failures };
          if (key) remember(key, scored);
        }
        failures.push(...scored.failures);
        each.push(scored.prob.slice());
        if (o.calibrate) {
          if (calSame) {
            failures.push(...scored.failures);
            eachCal.push(scored.prob.slice());
          } else {
            const c = await scorePaths(part, calPaths, tta, o.cacheDir);
            failures.push(...c.failures);
            eachCal.push(c.prob);
          }
        }
      }
      dataP.push(mean(each));
      if (o.calibrate) calP.push(mean(eachCal));
    } finally {
      disposeRun(run);
    }
  }
  let dataScores = mean(dataP), calScores = o.calibrate ? mean(calP) : [];
  const valScores = needVal ? mean(valP) : [];
  let priorInfo: SiteScoring["prior"] = null;
  if (prior) {
    const base = bases.reduce((s, b) => s + b, 0) / bases.length;
    const ok = dataScores.filter(Number.isFinite);
    const pc = priorCorrection(ok, valScores, base);
    const shift = (xs: number[]) =>
      xs.map((x) => Number.isFinite(x) ? shiftPrior([x], pc.reference.prior, pc.site.prior)[0] : x);
    dataScores = shift(dataScores);
    calScores = shift(calScores);
    priorInfo = { base, validation: pc.reference, site: pc.site };
  }
  let threshold: number, thresholdFrom: string;
  const calibration = o.calibrate
    ? { ...keepScored(calRecords, calScores), dir: describeSource(o.calibrate) }
    : null;
  if (calibration) {
    threshold = thresholdForSensitivity(calibration.y, calibration.prob, target);
    thresholdFrom =
      `calibrated on the labels of ${calibration.dir} (${calibration.y.length} images, ` +
      `highest threshold with sensitivity >= ${target})`;
  } else if (o.runs.length === 1 && tta === 0) {
    threshold = stored;
    thresholdFrom = "stored with the run (chosen on validation)";
  } else {
    threshold = thresholdForSensitivity(valY, valScores, target);
    thresholdFrom = `re-chosen on the runs' validation split scored the same way ` +
      `(${o.runs.length} run(s), TTA ${tta}; highest threshold with sensitivity >= ${target})`;
  }
  return {
    runs: o.runs,
    adapt,
    tta,
    source,
    scored: keepScored(records, dataScores),
    calibration,
    threshold,
    thresholdFrom,
    targetSensitivity: target,
    prior: priorInfo,
    validation: needVal ? { y: valY, prob: valScores } : null,
    failures,
  };
}

/** An evaluation with the options it was made with. */
export interface SiteEvaluation extends Evaluation {
  runs?: string[];
  adapt?: AdaptMode;
  tta?: number;
  thresholdFrom?: string;
  prior?: SiteScoring["prior"];
  calibration?: { dir: string; n: number; positives: number };
  /** Patient-bootstrap 95% intervals (with `ci`). */
  intervals?: Record<BootMetric, Interval>;
}

/** Metrics of a scoring at its threshold, with patient-bootstrap intervals when `ci`. */
export function summariseScoring(
  s: SiteScoring,
  opts: { ci?: boolean; nBoot?: number; seed?: number; details?: boolean } = {},
): SiteEvaluation {
  const { y, prob } = s.scored;
  const m = binaryMetrics(y, prob, s.threshold);
  let auc = NaN;
  try {
    auc = rocAuc(y, prob);
  } catch { /* one class only: undefined */ }
  const e: SiteEvaluation = {
    auc,
    accuracy: m.accuracy,
    sensitivity: m.sensitivity,
    specificity: m.specificity,
    precision: m.precision,
    f1: m.f1,
    threshold: s.threshold,
    confusion: [[m.tn, m.fp], [m.fn, m.tp]],
    n: m.n,
  };
  if (opts.details) {
    Object.assign(e, { runs: s.runs, adapt: s.adapt, tta: s.tta, thresholdFrom: s.thresholdFrom });
    if (s.prior) e.prior = s.prior;
    if (s.calibration) {
      e.calibration = {
        dir: s.calibration.dir,
        n: s.calibration.y.length,
        positives: s.calibration.y.filter((v) => v === 1).length,
      };
    }
  }
  if (opts.ci) {
    e.intervals = bootstrapMetrics(y, prob, {
      groups: s.scored.patient,
      threshold: s.threshold,
      nBoot: opts.nBoot ?? 1000,
      seed: opts.seed ?? 0,
    }).metrics;
  }
  return e;
}

/** {@link scoreForSite} then {@link summariseScoring}. */
export async function evaluateSite(
  o: SiteScoringOptions & { ci?: boolean; nBoot?: number; seed?: number; details?: boolean },
): Promise<SiteEvaluation> {
  return summariseScoring(await scoreForSite(o), o);
}
