/**
 * Choosing among candidate models on a second site's labelled sample without letting the sample
 * flatter the choice: patient-level k-fold cross-validation of the site sample, a
 * paired comparison of every candidate with the incumbent on the same images (DeLong's test with
 * Holm's correction across candidates, confirmed by a paired patient bootstrap), a validation
 * guard, and a selection-adjusted estimate (the cross-validated score of the whole selection
 * procedure: nested cross-validation).
 *
 * - Folds ({@link patientFolds}): whole patients, stratified by label, seeded; every image of a
 *   patient in one fold.
 * - Scores: a candidate that used no site label gives one score per image (`prob`); one that did
 *   (fine-tuning on site labels, a threshold) gives, per fold f, the scores of the model trained
 *   without fold f (`foldProb[f]`), of which only fold f's images are read
 *   ({@link outOfFoldScores}). The fold assignment is public so a caller can train per fold.
 * - Calibrated protocol, honestly ({@link crossValidate}): the threshold for each fold is picked
 *   on the other folds' labels with the run's policy (highest threshold with sensitivity >=
 *   target) and applied to the held-out fold; sensitivity and specificity are pooled over the
 *   held-out folds, with patient-bootstrap intervals (of the pooled decisions: the thresholds are
 *   not re-picked inside the bootstrap).
 * - The rule ({@link compareWithIncumbent}, {@link chooseCandidate}): a candidate replaces the
 *   incumbent only when (1) DeLong's one-sided p of "no better", Holm-adjusted over all
 *   candidates, is below alpha, (2) the paired patient bootstrap interval of the AUC gain lies
 *   above 0 (DeLong treats images as independent; the bootstrap draws whole patients), and (3)
 *   validation does not drop beyond its noise (one-sided DeLong p of "worse" on the validation
 *   images >= alpha, paired when both runs validated on the same images). Among those that clear,
 *   the highest site AUC wins; none clearing keeps the incumbent.
 * - Selection-adjusted estimate ({@link nestedSelection}): for each outer fold, the rule is run on
 *   the other folds only, and the model it picks is scored on the held-out fold; the mean of the
 *   held-out AUCs estimates what the procedure (not the winner) will score on new images.
 *
 * @example
 * ```ts
 * import { compareWithIncumbent, nestedSelection, patientFolds } from "./site_cv.ts";
 * const folds = patientFolds(items, 5, 0);
 * const cmp = compareWithIncumbent(items, incumbent, candidates);
 * const adj = nestedSelection(items, incumbent, candidates, folds);
 * ```
 * @module
 */
import { bootstrapStats, type Interval } from "../metrics/bootstrap.ts";
import { binaryMetrics, rocAuc, thresholdForSensitivity } from "../metrics/classification.ts";
import {
  type AucComparison,
  delongTest,
  delongVariance,
  holmAdjust,
  normalCdf,
  type PairedAucBootstrap,
  pairedBootstrapAucDiff,
} from "../metrics/roc_compare.ts";
import { makeRng, shuffle } from "../util/rng.ts";
import type { LabelledItem } from "./site_calibration.ts";

/** Validation labels and scores of a run (its val_predictions.csv), keyed by image. */
export interface ValidationScores {
  relPath: readonly string[];
  y: readonly number[];
  prob: readonly number[];
}

/** A model scored on the site sample (and, for the rule's guard, on its validation split). */
export interface SiteCandidate {
  name: string;
  /** P(pneumonia) per site image, for a model that used no site label. */
  prob?: ArrayLike<number>;
  /**
   * For a model that used site labels: `foldProb[f]` scores every site image (or at least fold
   * f's) with the model trained without fold f's labels; only fold f's entries are read.
   */
  foldProb?: readonly ArrayLike<number>[];
  /** The stored threshold, chosen on validation (the strict protocol), if any. */
  threshold?: number;
  /** Target sensitivity of the run's threshold policy (default 0.95). */
  targetSensitivity?: number;
  /** Validation predictions, for the rule's validation guard. */
  validation?: ValidationScores | null;
}

/**
 * Fold (0..k-1) of every image: whole patients, stratified by label (a patient counts under the
 * label of most of its images), seeded. Patients of each label are shuffled, then each goes to
 * the fold holding the fewest images of that label so far (the lowest fold on ties), so folds get
 * about equal counts of each class even when patients have several images.
 */
export function patientFolds(items: readonly LabelledItem[], k: number, seed: number): number[] {
  if (!(Number.isInteger(k) && k >= 2)) throw new RangeError(`patientFolds: k ${k} must be >= 2`);
  const byPatient = new Map<string, number[]>();
  items.forEach((it, i) => {
    const list = byPatient.get(it.patientId);
    if (list) list.push(i);
    else byPatient.set(it.patientId, [i]);
  });
  const patients = [...byPatient.values()];
  if (patients.length < k) {
    throw new RangeError(`patientFolds: ${patients.length} patients cannot fill ${k} folds`);
  }
  const rng = makeRng(seed);
  const fold = new Array<number>(items.length).fill(-1);
  for (const label of [0, 1]) {
    const mine = patients.filter((idx) => {
      const pos = idx.filter((i) => items[i].y === 1).length;
      return (pos * 2 > idx.length ? 1 : 0) === label;
    });
    const count = new Array<number>(k).fill(0);
    for (const idx of shuffle(mine, rng)) {
      let best = 0;
      for (let f = 1; f < k; f++) if (count[f] < count[best]) best = f;
      for (const i of idx) fold[i] = best;
      count[best] += idx.length;
    }
  }
  return fold;
}

/** Number of folds in an assignment (the largest index + 1). */
export function foldCount(folds: readonly number[]): number {
  return folds.reduce((m, f) => Math.max(m, f), -1) + 1;
}

/**
 * The candidate's held-out scores: `prob` as it is, or, for a recipe that used site labels,
 * image i's score from `foldProb[folds[i]]` (the model that never saw fold i's labels).
 */
export function outOfFoldScores(c: SiteCandidate, folds: readonly number[]): number[] {
  if (c.foldProb) {
    const k = foldCount(folds);
    if (c.foldProb.length !== k) {
      throw new RangeError(`${c.name}: ${c.foldProb.length} fold scorings for ${k} folds`);
    }
    return folds.map((f, i) => c.foldProb![f][i]);
  }
  if (!c.prob) throw new RangeError(`${c.name}: neither prob nor foldProb given`);
  if (c.prob.length !== folds.length) {
    throw new RangeError(`${c.name}: ${c.prob.length} scores for ${folds.length} site images`);
  }
  return Array.from(c.prob);
}

const safeAuc = (y: number[], s: number[]) => {
  try {
    return rocAuc(y, s);
  } catch {
    return NaN;
  }
};

/** One candidate's cross-validated site estimates. */
export interface CvEstimate {
  name: string;
  /** ROC-AUC of the held-out scores on the whole sample, with a patient-bootstrap interval. */
  auc: Interval;
  /** ROC-AUC on each held-out fold. */
  foldAuc: number[];
  /** Mean of `foldAuc`. */
  meanFoldAuc: number;
  /** Calibrated protocol: threshold per fold from the other folds' labels; pooled decisions. */
  calibrated: { thresholds: number[]; sensitivity: Interval; specificity: Interval };
  /** Strict protocol at the stored threshold (no site label used), when the run has one. */
  strict: { threshold: number; sensitivity: Interval; specificity: Interval } | null;
}

/** Options of the estimates and of the rule. */
export interface SiteCvOptions {
  /** Bootstrap resamples (default 1000). */
  nBoot?: number;
  /** Seed of the bootstraps (default 0). */
  seed?: number;
  /** Coverage of the intervals (default 0.95). */
  level?: number;
  /** Significance level of the rule (default 0.05). */
  alpha?: number;
}

/** Sensitivity and specificity of fixed 0/1 decisions, with patient-bootstrap intervals. */
function decisionIntervals(
  y: number[],
  pred: number[],
  groups: string[],
  o: SiteCvOptions,
): { sensitivity: Interval; specificity: Interval } {
  const r = bootstrapStats(y.length, (idx) => {
    const m = binaryMetrics(idx.map((i) => y[i]), idx.map((i) => pred[i]), 0.5);
    return { sensitivity: m.sensitivity, specificity: m.specificity };
  }, { groups, nBoot: o.nBoot ?? 1000, seed: o.seed ?? 0, level: o.level ?? 0.95 });
  return r.intervals;
}

/**
 * Cross-validated site estimates of each candidate on `items` split by `folds`: AUC per fold and
 * on the whole sample, the calibrated protocol (see the module doc) and the strict protocol.
 */
export function crossValidate(
  items: readonly LabelledItem[],
  candidates: readonly SiteCandidate[],
  folds: readonly number[],
  o: SiteCvOptions = {},
): CvEstimate[] {
  if (folds.length !== items.length) {
    throw new RangeError(`crossValidate: ${folds.length} fold labels for ${items.length} images`);
  }
  const k = foldCount(folds);
  const y = items.map((it) => it.y as number), groups = items.map((it) => it.patientId);
  const boot = { groups, nBoot: o.nBoot ?? 1000, seed: o.seed ?? 0, level: o.level ?? 0.95 };
  return candidates.map((c) => {
    const s = outOfFoldScores(c, folds);
    const target = c.targetSensitivity ?? 0.95;
    const foldAuc: number[] = [], thresholds: number[] = [];
    const pred = new Array<number>(y.length).fill(0);
    for (let f = 0; f < k; f++) {
      const inF = folds.map((g, i) => (g === f ? i : -1)).filter((i) => i >= 0);
      const outF = folds.map((g, i) => (g !== f ? i : -1)).filter((i) => i >= 0);
      foldAuc.push(safeAuc(inF.map((i) => y[i]), inF.map((i) => s[i])));
      const t = thresholdForSensitivity(outF.map((i) => y[i]), outF.map((i) => s[i]), target);
      thresholds.push(t);
      for (const i of inF) pred[i] = s[i] >= t ? 1 : 0;
    }
    const auc = bootstrapStats(y.length, (idx) => ({
      auc: safeAuc(idx.map((i) => y[i]), idx.map((i) => s[i])),
    }), boot).intervals.auc;
    const strict = c.threshold === undefined ? null : {
      threshold: c.threshold,
      ...decisionIntervals(y, s.map((v) => (v >= c.threshold! ? 1 : 0)), groups, o),
    };
    const valid = foldAuc.filter((v) => !Number.isNaN(v));
    return {
      name: c.name,
      auc,
      foldAuc,
      meanFoldAuc: valid.reduce((a, b) => a + b, 0) / valid.length,
      calibrated: { thresholds, ...decisionIntervals(y, pred, groups, o) },
      strict,
    };
  });
}

/** The validation guard of one candidate against the incumbent. */
export interface ValidationGuard {
  /** Validation AUC of the incumbent and of the candidate. */
  aucIncumbent: number;
  aucCandidate: number;
  /** Candidate minus incumbent. */
  diff: number;
  /** One-sided p of "the candidate is worse on validation" (DeLong). */
  pWorse: number;
  /** Whether both were judged on the same validation images (paired), else an unpaired z. */
  paired: boolean;
  /** The guard holds: no drop beyond the noise (pWorse >= alpha). */
  ok: boolean;
}

/**
 * Validation AUC of the candidate against the incumbent: paired DeLong when both validated on the
 * same images (same relPaths, matched by path), else an unpaired normal test with each AUC's
 * DeLong variance. Null when either lacks validation predictions.
 */
export function validationGuard(
  incumbent: ValidationScores | null | undefined,
  candidate: ValidationScores | null | undefined,
  alpha = 0.05,
): ValidationGuard | null {
  if (!incumbent || !candidate) return null;
  const at = new Map(candidate.relPath.map((p, i) => [p, i]));
  const paired = incumbent.relPath.length === candidate.relPath.length &&
    incumbent.relPath.every((p, i) => at.has(p) && candidate.y[at.get(p)!] === incumbent.y[i]);
  let aucI: number, aucC: number, pWorse: number;
  if (paired) {
    const cand = incumbent.relPath.map((p) => candidate.prob[at.get(p)!]);
    const t = delongTest(incumbent.y, incumbent.prob, cand);
    aucI = t.aucA;
    aucC = t.aucB;
    pWorse = t.diff === 0 && t.se === 0 ? 0.5 : normalCdf(t.z);
  } else {
    aucI = rocAuc(incumbent.y, incumbent.prob);
    aucC = rocAuc(candidate.y, candidate.prob);
    const se = Math.sqrt(
      delongVariance(incumbent.y, incumbent.prob) + delongVariance(candidate.y, candidate.prob),
    );
    const z = se > 0 ? (aucC - aucI) / se : 0;
    pWorse = normalCdf(z);
  }
  return {
    aucIncumbent: aucI,
    aucCandidate: aucC,
    diff: aucC - aucI,
    pWorse,
    paired,
    ok: pWorse >= alpha,
  };
}

/** One candidate judged against the incumbent by the rule. */
export interface RuleComparison {
  name: string;
  /** DeLong's test of AUC(candidate) - AUC(incumbent) on the site images. */
  delong: AucComparison;
  /** DeLong's one-sided p, Holm-adjusted over every candidate compared. */
  holmP: number;
  /** The paired patient bootstrap of the same difference. */
  bootstrap: PairedAucBootstrap;
  /** The validation guard (null: no validation predictions to judge by). */
  validation: ValidationGuard | null;
  /** Whether the candidate clears the rule. */
  clears: boolean;
  /** Why, in words. */
  verdict: string;
}

/** Every candidate against the incumbent, the number of comparisons and the choice. */
export interface RuleResult {
  comparisons: RuleComparison[];
  /** Candidates compared (the Holm family size). */
  nComparisons: number;
  /** The candidate chosen (highest site AUC among those that clear), or null: keep the incumbent. */
  chosen: string | null;
  alpha: number;
}

/**
 * The pre-registered rule (module doc) on the images `items` (scores of the incumbent and the
 * candidates, out-of-fold where a candidate used site labels: pass the folds).
 */
export function compareWithIncumbent(
  items: readonly LabelledItem[],
  incumbent: SiteCandidate,
  candidates: readonly SiteCandidate[],
  o: SiteCvOptions & { folds?: readonly number[] } = {},
): RuleResult {
  const alpha = o.alpha ?? 0.05;
  const folds = o.folds ?? items.map(() => 0);
  const y = items.map((it) => it.y as number), groups = items.map((it) => it.patientId);
  const base = scoresFor(incumbent, folds);
  const raw = candidates.map((c) => {
    const s = scoresFor(c, folds);
    return {
      c,
      delong: delongTest(y, base, s),
      bootstrap: pairedBootstrapAucDiff(y, base, s, {
        groups,
        nBoot: o.nBoot ?? 1000,
        seed: o.seed ?? 0,
        level: o.level ?? 0.95,
      }),
      validation: validationGuard(incumbent.validation, c.validation, alpha),
    };
  });
  const holm = holmAdjust(raw.map((r) => r.delong.pOneSided));
  const comparisons = raw.map((r, i): RuleComparison => {
    const reasons: string[] = [];
    if (!(r.delong.diff > 0)) reasons.push(`no site gain (${fmtSigned(r.delong.diff)})`);
    else if (!(holm[i] < alpha)) {
      reasons.push(
        `site gain ${fmtSigned(r.delong.diff)} not beyond the noise (Holm p ${fmtP(holm[i])})`,
      );
    }
    if (!(r.bootstrap.diff.lo > 0)) {
      reasons.push(
        `patient bootstrap interval of the gain reaches ${fmtSigned(r.bootstrap.diff.lo)}`,
      );
    }
    if (!r.validation) reasons.push("no validation predictions to check");
    else if (!r.validation.ok) {
      reasons.push(
        `validation drops ${fmtSigned(r.validation.diff)} (p ${fmtP(r.validation.pWorse)})`,
      );
    }
    const clears = reasons.length === 0;
    return {
      name: r.c.name,
      delong: r.delong,
      holmP: holm[i],
      bootstrap: r.bootstrap,
      validation: r.validation,
      clears,
      verdict: clears
        ? `replaces the incumbent if best: gain ${fmtSigned(r.delong.diff)}, Holm p ${
          fmtP(holm[i])
        }`
        : `keep the incumbent: ${reasons.join("; ")}`,
    };
  });
  return {
    comparisons,
    nComparisons: candidates.length,
    chosen: chooseCandidate(comparisons),
    alpha,
  };
}

function scoresFor(c: SiteCandidate, folds: readonly number[]): number[] {
  return outOfFoldScores(c, folds);
}

/** The candidate with the highest site AUC among those that clear the rule, else null. */
export function chooseCandidate(comparisons: readonly RuleComparison[]): string | null {
  let best: RuleComparison | null = null;
  for (const c of comparisons) {
    if (c.clears && (!best || c.delong.aucB > best.delong.aucB)) best = c;
  }
  return best?.name ?? null;
}

/** The selection-adjusted estimate of {@link nestedSelection}. */
export interface NestedSelection {
  /** Per outer fold: the model the rule chose on the other folds, and its held-out AUC. */
  perFold: { fold: number; chosen: string; auc: number; incumbentAuc: number }[];
  /** Mean held-out AUC of the procedure's choices: the selection-adjusted estimate. */
  meanAuc: number;
  /** The same for always keeping the incumbent (what the procedure is compared with). */
  incumbentMeanAuc: number;
  /** How often each model was chosen across the outer folds. */
  chosenCounts: Record<string, number>;
  /** Candidates compared inside each fold. */
  nComparisons: number;
}

/**
 * Nested cross-validation of the whole selection: inside outer fold f, the rule
 * ({@link compareWithIncumbent}) sees only the other folds' images and labels and chooses a model
 * (or keeps the incumbent); that model's held-out scores are judged on fold f. A candidate that
 * used site labels (`foldProb`) contributes its out-of-fold scores; note that the scores of the
 * inner images came from models that saw fold f's labels, so for such candidates the estimate is
 * nearly, not fully, nested.
 */
export function nestedSelection(
  items: readonly LabelledItem[],
  incumbent: SiteCandidate,
  candidates: readonly SiteCandidate[],
  folds: readonly number[],
  o: SiteCvOptions = {},
): NestedSelection {
  const k = foldCount(folds);
  const y = items.map((it) => it.y as number);
  const all = new Map<string, number[]>([
    [incumbent.name, outOfFoldScores(incumbent, folds)],
    ...candidates.map((c) => [c.name, outOfFoldScores(c, folds)] as [string, number[]]),
  ]);
  const perFold: NestedSelection["perFold"] = [];
  const chosenCounts: Record<string, number> = {};
  for (let f = 0; f < k; f++) {
    const inner = folds.map((g, i) => (g !== f ? i : -1)).filter((i) => i >= 0);
    const held = folds.map((g, i) => (g === f ? i : -1)).filter((i) => i >= 0);
    const sub = (name: string) => inner.map((i) => all.get(name)![i]);
    const rule = compareWithIncumbent(
      inner.map((i) => items[i]),
      { ...incumbent, prob: sub(incumbent.name), foldProb: undefined },
      candidates.map((c) => ({ ...c, prob: sub(c.name), foldProb: undefined })),
      { ...o, seed: (o.seed ?? 0) + f },
    );
    const chosen = rule.chosen ?? incumbent.name;
    chosenCounts[chosen] = (chosenCounts[chosen] ?? 0) + 1;
    const yh = held.map((i) => y[i]);
    perFold.push({
      fold: f,
      chosen,
      auc: safeAuc(yh, held.map((i) => all.get(chosen)![i])),
      incumbentAuc: safeAuc(yh, held.map((i) => all.get(incumbent.name)![i])),
    });
  }
  const mean = (xs: number[]) => {
    const v = xs.filter((x) => !Number.isNaN(x));
    return v.reduce((a, b) => a + b, 0) / v.length;
  };
  return {
    perFold,
    meanAuc: mean(perFold.map((p) => p.auc)),
    incumbentMeanAuc: mean(perFold.map((p) => p.incumbentAuc)),
    chosenCounts,
    nComparisons: candidates.length,
  };
}

/** The fold assignment as CSV (relPath,patient,y,fold), for a caller that trains per fold. */
export function foldsCsv(
  records: readonly { relPath: string; patientId: string; y: number }[],
  folds: readonly number[],
): string {
  const q = (s: string) => (/[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s);
  return [
    "relPath,patient,y,fold",
    ...records.map((r, i) => `${q(r.relPath)},${q(r.patientId)},${r.y},${folds[i]}`),
  ].join("\n") + "\n";
}

function fmtSigned(x: number): string {
  return Number.isNaN(x) ? "NaN" : (x >= 0 ? "+" : "") + x.toFixed(4);
}

/** A p-value in 3 significant digits ("<1e-4" below). */
export function fmtP(p: number): string {
  if (Number.isNaN(p)) return "NaN";
  return p < 1e-4 ? "<1e-4" : p.toPrecision(2);
}
