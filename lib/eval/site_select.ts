/**
 * `deno task select`'s engine: every run (the incumbent and the candidates) scored once on the
 * site sample, the scores cached, then the cross-validated estimates, the pre-registered rule and
 * the selection-adjusted estimate of lib/eval/site_cv.ts, as one JSON-serialisable result and a
 * plain-text table.
 *
 * Scores are cached in `outputs/cache/site_scores/<key>.json`, keyed by the run's fingerprint
 * (the SHA-256 of its model weights, threshold and preprocessing files, every member's for an
 * ensemble) and the site images' paths, so a rerun scores nothing and a retrained run is scored
 * again. The cache lives outside the run folders so that scoring never writes into a shipped
 * run (outputs/reference).
 *
 * @example
 * ```ts
 * import { formatSelection, selectOnSite } from "./site_select.ts";
 * const r = await selectOnSite({ incumbent: "outputs/reference", candidates: ["outputs/recipes/a"],
 *   records, source: "site", folds: 5, seed: 0 });
 * console.log(formatSelection(r));
 * ```
 * @module
 */
import { join, resolve } from "node:path";
import type { ImageRecord } from "../data/types.ts";
import { formatInterval, type Interval } from "../metrics/bootstrap.ts";
import { rocAuc } from "../metrics/classification.ts";
import { ensembleMembers, modelWeightFiles } from "../train/run_files.ts";
import { readJson, writeJsonAtomic } from "../util/atomic.ts";
import { readCsv } from "../util/csv.ts";
import { sha256Hex } from "../util/hash.ts";
import { projectPath } from "../util/project.ts";
import {
  compareWithIncumbent,
  crossValidate,
  type CvEstimate,
  fmtP,
  type NestedSelection,
  nestedSelection,
  patientFolds,
  type RuleResult,
  type SiteCandidate,
  type ValidationScores,
} from "./site_cv.ts";
import { scoreForSite } from "./site_eval.ts";

/** Default folder of the cached site scores. */
export const SITE_SCORE_CACHE = projectPath("outputs/cache/site_scores");

/** A run's site scores as cached. */
interface CachedScores {
  run: string;
  fingerprint: string;
  relPath: string[];
  prob: number[];
  threshold: number;
  targetSensitivity: number;
}

/**
 * A fingerprint of what a run's scores depend on: the SHA-256 of its model.json, weight files,
 * threshold.json and preprocessing.json (every member's for an ensemble, plus ensemble.json).
 */
export async function runFingerprint(dir: string): Promise<string> {
  const parts: string[] = [];
  const add = async (path: string) => parts.push(`${path}:${sha256Hex(await Deno.readFile(path))}`);
  const one = async (d: string) => {
    const modelJson = join(d, "model", "model.json");
    await add(modelJson);
    for (const w of await modelWeightFiles(modelJson)) await add(join(d, "model", w));
    await add(join(d, "preprocessing.json"));
  };
  const members = await ensembleMembers(dir);
  if (members) {
    await add(join(dir, "ensemble.json"));
    for (const m of members) await one(m);
  } else await one(dir);
  await add(join(dir, "threshold.json"));
  // Paths relative to the run folder, so a moved folder keeps its fingerprint.
  const root = resolve(dir);
  return sha256Hex(parts.map((p) => p.replace(root, ".")).join("\n"));
}

/** The run's P(pneumonia) on `records` (NaN where an image failed), from the cache or scored. */
export async function siteScoresOf(
  dir: string,
  records: ImageRecord[],
  o: { cacheDir?: string | null; imageCacheDir?: string; log?: (m: string) => void } = {},
): Promise<{ prob: number[]; threshold: number; targetSensitivity: number; cached: boolean }> {
  const log = o.log ?? (() => {});
  const fingerprint = await runFingerprint(dir);
  const relPath = records.map((r) => r.relPath);
  const key = sha256Hex(`${fingerprint}\n${records.map((r) => r.path).join("\n")}`).slice(0, 32);
  const file = o.cacheDir === null ? null : join(o.cacheDir ?? SITE_SCORE_CACHE, `${key}.json`);
  if (file) {
    const hit = await readJson<CachedScores>(file).catch(() => null);
    if (hit && hit.fingerprint === fingerprint && hit.relPath.join("\n") === relPath.join("\n")) {
      return { ...hit, prob: hit.prob.map((p) => p ?? NaN), cached: true };
    }
  }
  log(`select: scoring ${dir} on ${records.length} site images`);
  const s = await scoreForSite({
    runs: [dir],
    records,
    source: "site",
    cacheDir: o.imageCacheDir,
  });
  const at = new Map(s.scored.records.map((r, i) => [r.path, s.scored.prob[i]]));
  const prob = records.map((r) => at.get(r.path) ?? NaN);
  for (const f of s.failures) log(`select: ${dir}: skipped ${f.path}: ${f.reason}`);
  if (file) {
    const rec: CachedScores = {
      run: resolve(dir),
      fingerprint,
      relPath,
      prob,
      threshold: s.threshold,
      targetSensitivity: s.targetSensitivity,
    };
    // JSON has no NaN: a failed image is stored as null and read back as NaN.
    await writeJsonAtomic(file, rec);
  }
  return { prob, threshold: s.threshold, targetSensitivity: s.targetSensitivity, cached: false };
}

/** A run's validation predictions (val_predictions.csv), or null when it has none. */
export async function readValidation(dir: string): Promise<ValidationScores | null> {
  const rows = await readCsv(join(dir, "val_predictions.csv")).catch(() => null);
  if (!rows || rows.length === 0 || !("relPath" in rows[0] && "prob" in rows[0])) return null;
  return {
    relPath: rows.map((r) => r.relPath),
    y: rows.map((r) => Number(r.y)),
    prob: rows.map((r) => Number(r.prob)),
  };
}

/** Options of {@link selectOnSite}. */
export interface SelectOptions {
  incumbent: string;
  candidates: string[];
  /** The labelled site images. */
  records: ImageRecord[];
  /** Where they came from, in words. */
  source: string;
  /** Folds of the patient cross-validation (default 5). */
  folds?: number;
  /** Seed of the folds and the bootstraps (default 0). */
  seed?: number;
  nBoot?: number;
  alpha?: number;
  /** Site score cache (default {@link SITE_SCORE_CACHE}; null: none). */
  cacheDir?: string | null;
  /** Image cache of the scoring (default outputs/cache/images). */
  imageCacheDir?: string;
  /**
   * Comparisons already made on this site sample before this selection (the running total the
   * rule asks to report; default 0).
   */
  priorComparisons?: number;
  log?: (m: string) => void;
}

/** One row of the selection table. */
export interface SelectRow {
  name: string;
  dir: string;
  role: "incumbent" | "candidate";
  /** Whole-sample site ROC-AUC with its patient-bootstrap interval. */
  auc: Interval;
  /** Cross-validated estimates (AUC per fold, calibrated and strict protocols). */
  cv: CvEstimate;
  /** Validation ROC-AUC (val_predictions.csv), or NaN. */
  valAuc: number;
  /** Against the incumbent (candidates only). */
  vsIncumbent: {
    diff: number;
    lo: number;
    hi: number;
    pDelong: number;
    pHolm: number;
    bootLo: number;
    bootHi: number;
    valDiff: number;
    valPWorse: number;
    clears: boolean;
    verdict: string;
  } | null;
  /** Whether the scores came from the cache. */
  cached: boolean;
}

/** What {@link selectOnSite} returns (`deno task select --json`). */
export interface Selection {
  source: string;
  n: number;
  positives: number;
  patients: number;
  folds: number;
  seed: number;
  alpha: number;
  /** Candidates compared with the incumbent here (K, the Holm family). */
  nComparisons: number;
  /** Comparisons made on the same site sample before this selection. */
  priorComparisons: number;
  /** `priorComparisons + nComparisons`: how often the sample has now been asked. */
  runningTotal: number;
  rows: SelectRow[];
  /** The run the rule chose, or the incumbent when nothing cleared. */
  chosen: { name: string; dir: string; replacesIncumbent: boolean };
  /** Nested cross-validation of the whole selection procedure. */
  selectionAdjusted: NestedSelection;
  /** Images left out because some run failed to read them. */
  leftOut: number;
}

const nameOf = (dir: string) => resolve(dir).split(/[\\/]/).filter(Boolean).pop() ?? dir;

/** Scores every run on the site (cached) and applies the cross-validation and the rule. */
export async function selectOnSite(o: SelectOptions): Promise<Selection> {
  const dirs = [o.incumbent, ...o.candidates];
  const names = dirs.map(nameOf);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new Error(`select: two runs are named "${dup}"; give runs distinct folder names`);
  if (o.candidates.length === 0) throw new Error("select: no candidate given");
  const scored: (Awaited<ReturnType<typeof siteScoresOf>> & {
    dir: string;
    validation: ValidationScores | null;
  })[] = [];
  for (const dir of dirs) {
    scored.push({
      dir,
      ...(await siteScoresOf(dir, o.records, o)),
      validation: await readValidation(dir),
    });
  }
  const keep = o.records.map((_, i) => i).filter((i) =>
    scored.every((s) => Number.isFinite(s.prob[i]))
  );
  const items = keep.map((i) => ({ y: o.records[i].y, patientId: o.records[i].patientId }));
  const seed = o.seed ?? 0, k = o.folds ?? 5, alpha = o.alpha ?? 0.05;
  const cands: SiteCandidate[] = scored.map((s, j) => ({
    name: names[j],
    prob: keep.map((i) => s.prob[i]),
    threshold: s.threshold,
    targetSensitivity: s.targetSensitivity,
    validation: s.validation,
  }));
  const folds = patientFolds(items, k, seed);
  const opts = { nBoot: o.nBoot ?? 1000, seed, alpha };
  const cv = crossValidate(items, cands, folds, opts);
  const rule: RuleResult = compareWithIncumbent(items, cands[0], cands.slice(1), opts);
  const nested = nestedSelection(items, cands[0], cands.slice(1), folds, opts);
  const valAuc = (v: ValidationScores | null) => {
    if (!v) return NaN;
    try {
      return rocAuc(v.y, v.prob);
    } catch {
      return NaN;
    }
  };
  const rows: SelectRow[] = scored.map((s, j) => {
    const c = j === 0 ? null : rule.comparisons[j - 1];
    return {
      name: names[j],
      dir: s.dir,
      role: j === 0 ? "incumbent" : "candidate",
      auc: cv[j].auc,
      cv: cv[j],
      valAuc: valAuc(s.validation),
      vsIncumbent: c && {
        diff: c.delong.diff,
        lo: c.delong.lo,
        hi: c.delong.hi,
        pDelong: c.delong.pOneSided,
        pHolm: c.holmP,
        bootLo: c.bootstrap.diff.lo,
        bootHi: c.bootstrap.diff.hi,
        valDiff: c.validation?.diff ?? NaN,
        valPWorse: c.validation?.pWorse ?? NaN,
        clears: c.clears,
        verdict: c.verdict,
      },
      cached: s.cached,
    };
  });
  const chosenIdx = rule.chosen ? names.indexOf(rule.chosen) : 0;
  return {
    source: o.source,
    n: items.length,
    positives: items.filter((it) => it.y === 1).length,
    patients: new Set(items.map((it) => it.patientId)).size,
    folds: k,
    seed,
    alpha,
    nComparisons: rule.nComparisons,
    priorComparisons: o.priorComparisons ?? 0,
    runningTotal: (o.priorComparisons ?? 0) + rule.nComparisons,
    rows,
    chosen: { name: names[chosenIdx], dir: dirs[chosenIdx], replacesIncumbent: chosenIdx !== 0 },
    selectionAdjusted: nested,
    leftOut: o.records.length - keep.length,
  };
}

/** The selection as a plain-text table and the verdict. */
export function formatSelection(s: Selection): string {
  const f3 = (x: number) => (Number.isNaN(x) ? "  -  " : x.toFixed(3));
  const sg = (x: number) => (Number.isNaN(x) ? "-" : (x >= 0 ? "+" : "") + x.toFixed(4));
  const lines = [
    `site ${s.source}: ${s.n} images (${s.positives} pneumonia, ${s.patients} patients)` +
    (s.leftOut ? `, ${s.leftOut} left out (unreadable for some run)` : ""),
    `${s.folds}-fold patient cross-validation (seed ${s.seed}); ${s.nComparisons} candidate(s) ` +
    `compared with the incumbent (Holm, alpha ${s.alpha}); comparisons on this sample so far: ` +
    `${s.runningTotal} (${s.priorComparisons} before this one)`,
    "",
    [
      "run".padEnd(22),
      "site ROC-AUC (95% CI)".padEnd(24),
      "CV AUC".padEnd(7),
      "val AUC".padEnd(8),
      "gain (DeLong 95% CI)".padEnd(30),
      "p".padEnd(7),
      "Holm p".padEnd(7),
      "boot CI of gain".padEnd(22),
      "CV calibrated sens / spec".padEnd(27),
      "strict sens / spec",
    ].join(" "),
  ];
  for (const r of s.rows) {
    const v = r.vsIncumbent;
    lines.push([
      (r.role === "incumbent" ? "* " : "  ") + r.name.slice(0, 20).padEnd(20),
      formatInterval(r.auc).padEnd(24),
      f3(r.cv.meanFoldAuc).padEnd(7),
      f3(r.valAuc).padEnd(8),
      (v ? `${sg(v.diff)} (${sg(v.lo)} to ${sg(v.hi)})` : "incumbent").padEnd(30),
      (v ? fmtP(v.pDelong) : "").padEnd(7),
      (v ? fmtP(v.pHolm) : "").padEnd(7),
      (v ? `${sg(v.bootLo)} to ${sg(v.bootHi)}` : "").padEnd(22),
      `${f3(r.cv.calibrated.sensitivity.estimate)} / ${f3(r.cv.calibrated.specificity.estimate)}`
        .padEnd(27),
      r.cv.strict
        ? `${f3(r.cv.strict.sensitivity.estimate)} / ${f3(r.cv.strict.specificity.estimate)}`
        : "-",
    ].join(" "));
  }
  lines.push("", "verdicts:");
  for (const r of s.rows) if (r.vsIncumbent) lines.push(`  ${r.name}: ${r.vsIncumbent.verdict}`);
  const n = s.selectionAdjusted;
  lines.push(
    "",
    s.chosen.replacesIncumbent
      ? `chosen: ${s.chosen.name} (${s.chosen.dir}) replaces the incumbent`
      : `chosen: the incumbent ${s.chosen.name} (no candidate cleared the rule)`,
    `selection-adjusted estimate (nested ${s.folds}-fold CV of the whole procedure): mean ` +
      `held-out ROC-AUC ${f3(n.meanAuc)} vs ${f3(n.incumbentMeanAuc)} always keeping the ` +
      `incumbent; choices per fold: ${n.perFold.map((p) => p.chosen).join(", ")}`,
  );
  return lines.join("\n");
}
