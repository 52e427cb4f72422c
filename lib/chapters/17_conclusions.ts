/**
 * Chapter 17, conclusions and recommendations, the last chapter: sentences generated from the
 * numbers every earlier chapter recorded (see `_conclusion_inputs.ts`), never written by hand.
 * Each sentence follows the numbers: overfitting or not, undertrained or not, a difference inside
 * or outside its interval. The seed's four recommendations are each answered with the chapter
 * that tests them; published figures are only compared on the same test images, otherwise they
 * are quoted in a note that says they were measured on other images.
 * @module
 */
import { WHO_BENCHMARK, WHO_SCREENING_MINIMUM } from "../eval/operating_points.ts";
import { meetsTargets, SITE_TARGETS } from "../eval/site_targets.ts";
import {
  type ConclusionInputs,
  conclusionInputs,
  fmtDiff,
  fmtMeasured,
  pairedAucDifference,
  SECOND_SITE_RESULT,
  side,
} from "./_conclusion_inputs.ts";
import { budgetNote, learnedNothingNote, trainingDiagnosis } from "./_training.ts";
import type { RunRecord } from "./_context.ts";
import { formatMetric, formatPercent, formatSigned } from "../metrics/format.ts";

type Protocol = keyof typeof SITE_TARGETS;

export { type ConclusionInputs, conclusionInputs, SECOND_SITE_RESULT };

/** Published figures, quoted with their sources; all on the official 624-image test split. */
export const REFERENCES = {
  kermany: {
    auc: 0.968,
    sensitivity: 0.932,
    specificity: 0.901,
    source: "Kermany et al. 2018, Cell (InceptionV3 with ImageNet transfer)",
  },
  seed: {
    accuracy: 0.756,
    recall: 0.995,
    precision: 0.721,
    source: "the seed Keras notebook's final model",
  },
  split: "the official Kaggle test split (624 images)",
} as const;

const f = (x: number) => formatMetric(x);
const pct = (x: number) => formatPercent(x);

/**
 * "undertrained" / "overfits" / "neither" for a run, in a short clause, with whether it converged
 * (early stopping ended it) and, when it did not, the budget it would need.
 */
function fitClause(run: RunRecord): string {
  const d = trainingDiagnosis(run);
  if (d.learnedNothing) return learnedNothingNote(run);
  const need = d.epochsNeeded === null ? "" : `; it needs at least ${d.epochsNeeded} epochs`;
  if (d.undertrained) {
    return `${run.name} is undertrained (stopped at its limit of ${d.maxEpochs} epochs while ` +
      `validation was still improving${need})`;
  }
  const stop = d.converged
    ? `converged: early stopping ended it at epoch ${d.epochsRun}`
    : `not converged: stopped at its limit of ${d.maxEpochs} epochs${need}`;
  return d.overfitting
    ? `${run.name} overfits (train-validation accuracy gap ${f(d.accuracyGap)} at the last ` +
      `epoch; ${stop})`
    : `${run.name} shows no overfitting (gap ${f(d.accuracyGap)}; ${stop})`;
}

/** One run against another on validation ROC-AUC, paired by image, in words. */
function compareRuns(a: RunRecord, b: RunRecord, seed: number, what: string): string {
  const iv = pairedAucDifference(a, b, seed);
  if (!iv) {
    return `${what}: validation ROC-AUC ${f(a.summary.val.auc)} -> ${f(b.summary.val.auc)} ` +
      "(different validation images, so no paired interval).";
  }
  const verdict = {
    up: "a gain outside its interval's noise",
    down: "a loss outside its interval's noise",
    zero: "the interval includes 0: no reliable difference",
    unknown: "no interval could be computed",
  }[side(iv)];
  return `${what}: validation ROC-AUC ${f(a.summary.val.auc)} -> ${f(b.summary.val.auc)}, ` +
    `difference ${fmtDiff(iv)}, ${verdict}.`;
}

/**
 * The seed's four recommendations (more data, regularisation against overfitting, transfer
 * learning, balancing the classes by downsampling), each answered with the chapter that tests it.
 */
export function seedRecommendations(c: ConclusionInputs): string[] {
  const r = c.runs, out: string[] = [];
  // 1. More data.
  if (r.dense25 && r.dense75) {
    out.push(
      `**"Use more training data"** (chapter 2, dense baseline on ` +
        `${r.dense25.summary.trainImages} then ${r.dense75.summary.trainImages} images): ` +
        compareRuns(r.dense25, r.dense75, c.seed, "more data") + ` ${fitClause(r.dense75)}.` +
        ([r.dense25, r.dense75].every((x) => trainingDiagnosis(x).learnedNothing)
          ? " Neither dense run learned anything, so this report cannot answer the question " +
            "with the dense baseline at these settings."
          : ""),
    );
  } else out.push('**"Use more training data"** (chapter 2): not run in this report.');
  // 2. Regularisation.
  if (r.cnn && r.cnnReg) {
    const d = trainingDiagnosis(r.cnn), dr = trainingDiagnosis(r.cnnReg);
    const premise = d.undertrained || dr.undertrained
      ? "Both runs are too short to judge: with an undertrained network there is no " +
        "overfitting for dropout and L2 to cure, and any difference reflects training length."
      : !d.overfitting
      ? "The plain CNN does not overfit in this run, so there was nothing for regularisation " +
        "to fix; the comparison below is of two architectures, not of a cure."
      : dr.overfitting
      ? "The plain CNN overfits and the regularised one still does."
      : "The plain CNN overfits and the regularised one does not: regularisation closed the gap.";
    out.push(
      `**"Regularise (dropout + L2) against overfitting"** (chapters 3 and 4): ` +
        `${fitClause(r.cnn)}; ${fitClause(r.cnnReg)}. ${premise} ` +
        compareRuns(r.cnn, r.cnnReg, c.seed, "CNN -> CNN with dropout and L2"),
    );
  } else out.push('**"Regularise against overfitting"** (chapters 3-4): not run in this report.');
  // 3. Transfer learning.
  const scratch = [r.compact, r.cnnReg, r.cnn].filter((x): x is RunRecord => !!x)
    .sort((a, b) => (b.summary.val.auc || 0) - (a.summary.val.auc || 0))[0];
  if (r.transfer && scratch) {
    out.push(
      `**"Use transfer learning"** (chapter 5): ` +
        compareRuns(
          scratch,
          r.transfer,
          c.seed,
          `best model trained from scratch (${scratch.name}) -> transfer`,
        ) +
        ` ${fitClause(r.transfer)}. What the base was trained on is stated in chapter 5; a base ` +
        "trained on non-medical images tests transfer only weakly.",
    );
  } else {
    out.push(
      '**"Use transfer learning"** (chapter 5): not tested in this report (no pretrained base ' +
        "was given with `--base`), so this recommendation is open.",
    );
  }
  // 4. Balancing by downsampling: at the same budget when chapter 9 trained that run.
  const none = c.balance?.find((b) => b.mode === "none");
  const down = c.balance?.find((b) => b.mode === "down");
  const size = (b: NonNullable<typeof none>) => b["train NORMAL"] + b["train PNEUMONIA"];
  if (r.balanceDown && r.sameSize) {
    out.push(
      `**"Balance the classes by downsampling"** (chapter 9, \`${r.balanceDown.config.model}\` ` +
        `at ${r.balanceDown.config.size} px, the chapter's budget, at the same budget: ` +
        `${r.balanceDown.summary.trainImages} images downsampled against ` +
        `${r.sameSize.summary.trainImages} without balancing, same epochs): ` +
        compareRuns(r.sameSize, r.balanceDown, c.seed, "no balancing -> downsampling") +
        [r.sameSize, r.balanceDown].map((x) => budgetNote(x)).filter(Boolean).map((x) => ` ${x}`)
          .join("") +
        (none && down
          ? ` Against no balancing on all ${size(none)} images the comparison also changes ` +
            "the training-set size, so it is not the test of this recommendation."
          : ""),
    );
  } else if (none && down) {
    const d = down.vsNone;
    const clause = (k: "f1" | "auc", name: string) =>
      d?.[k] && Number.isFinite(d[k].lo)
        ? `${name} ${fmtDiff(d[k])} (${
          side(d[k]) === "zero"
            ? "inside noise"
            : side(d[k]) === "up"
            ? "a real gain"
            : "a real loss"
        })`
        : `${name} ${f(k === "f1" ? down.F1 - none.F1 : down.AUC - none.AUC)} (no interval)`;
    out.push(
      `**"Balance the classes by downsampling"** (chapter 9): downsampling against no balancing ` +
        `on validation, ${clause("f1", "F1 at 0.5")}, ${clause("auc", "ROC-AUC")}. It trained on ` +
        `${size(down)} images against ${size(none)} (${pct(size(down) / size(none))}), so ` +
        "class balance and training-set size are confounded in this comparison.",
    );
  } else out.push('**"Balance the classes by downsampling"** (chapter 9): not run in this report.');
  return out;
}

/** The findings of chapters 6-16, one Markdown bullet each. */
export function findings(c: ConclusionInputs): string[] {
  const out: string[] = [];
  const t = c.test, m = t.atThreshold, h = c.honest;
  out.push(
    `**Final model** (chapter 6): \`${c.choice.run}\` (${c.choice.model}), chosen by ` +
      `${c.choice.rule}. On ${t.source} (chapter 7), ROC-AUC ${f(t.auc)}; at its stored ` +
      `threshold ${f(t.threshold)}: sensitivity ${f(m.sensitivity)}, specificity ` +
      `${f(m.specificity)}, precision ${f(m.precision)} (${m.fn} missed pneumonias, ${m.fp} ` +
      `false alarms among ${t.n} images).`,
  );
  const dSens = m.sensitivity - t.at05.sensitivity, dSpec = m.specificity - t.at05.specificity;
  const policy = c.choice.rows.find((r) => r.run === c.choice.run)?.stored?.policy;
  out.push(
    `**Threshold** (chapters 6-7): the stored threshold was chosen on validation` +
      (policy ? ` (${policy})` : "") +
      `. On test it ${
        m.fn > t.at05.fn ? "misses more" : m.fn < t.at05.fn ? "misses fewer" : "misses as many"
      } pneumonias than 0.5 (${m.fn} against ${t.at05.fn}; sensitivity ` +
      `${formatSigned(dSens)}, specificity ${formatSigned(dSpec)}).`,
  );
  if (h) {
    const apart = h.val.auc.lo > h.test.auc.hi || h.test.auc.lo > h.val.auc.hi;
    const same = h.run === c.choice.run ? "" : ` (chapters 10-15 study \`${h.run}\`, not the ` +
      "final model)";
    out.push(
      `**Validation against test** (chapter 10${same}): ROC-AUC ${fmtMeasured(h.val.auc)} on ` +
        `validation, ${fmtMeasured(h.test.auc)} on test. ` +
        (apart
          ? "The intervals do not overlap: validation was optimistic about these test images."
          : "The intervals overlap, so validation and test agree within resampling noise") +
        (apart ? "" : h.officialTest ? "." : "; both come from the same hospital and folder, " +
          "so this says nothing about a new site (chapter 16 tests one).") +
        ` Temperature scaling gives T = ${f(h.temperature)} (${
          h.temperature > 1 ? "raw scores over-confident" : "raw scores under-confident"
        }).`,
    );
  }
  const stored = c.operating?.policies?.policies[0];
  const opRun = c.operating?.policies?.run;
  if (stored) {
    const proj = stored.projection.slice(0, 3).map((q) =>
      `at ${pct(q.prevalence)} prevalence ${Math.round(q.referredPer1000)} referred per 1,000 ` +
      `(PPV ${f(q.ppv)}, NPV ${f(q.npv)}, ${Math.round(q.missedPer1000)} missed)`
    );
    out.push(
      `**Screening** (chapter 11${
        opRun && opRun !== c.choice.run
          ? `, on \`${opRun}\`, not the final model \`${c.choice.run}\``
          : ""
      }): at the stored threshold, test sensitivity ` +
        `${f(stored.test.sensitivity)} and specificity ${f(stored.test.specificity)} ` +
        `${stored.testMeetsWho ? "meet" : "do not meet"} the WHO TB-triage targets ` +
        `(sensitivity >= ${WHO_SCREENING_MINIMUM.sensitivity}, specificity >= ` +
        `${WHO_SCREENING_MINIMUM.specificity}; an analogous benchmark, not a pneumonia standard). ` +
        `Projected: ${proj.join("; ")}.`,
    );
  }
  if (c.looks) {
    const l = c.looks;
    const verdict = {
      more: "more than an even spread: the model leans on the borders",
      same: "no different from an even spread: no evidence that it keeps to the chest",
      "slightly-less": "only slightly less than an even spread: not evidence that it keeps to " +
        "the chest",
      less: "clearly less than an even spread, though a sizeable share lies outside",
      "mostly-inside": "mostly inside the chest box",
    }[l.verdict];
    out.push(
      `**Where the model looks** (chapter 12): ${pct(l.mean.estimate)} of the Grad-CAM mass ` +
        `(95% CI ${pct(l.mean.lo)} to ${pct(l.mean.hi)}) lies outside the chest box against ` +
        `${pct(l.uniform)} for a uniform map: ${verdict}.`,
    );
  }
  if (c.chestCrop) {
    const sd = side(c.chestCrop);
    out.push(
      `**Cropping to the chest** (chapter 13): test AUC, crop minus whole image, ` +
        `${fmtDiff(c.chestCrop)}: ${
          sd === "up"
            ? "the crop helps"
            : sd === "down"
            ? "the crop hurts"
            : "no reliable difference"
        }.`,
    );
  }
  if (c.three) {
    const b = c.three.bacterialVsViral;
    out.push(
      `**Three classes** (chapter 14): accuracy ${f(c.three.accuracy)} over normal, bacterial ` +
        `and viral; bacterial against viral ${f(b.accuracy)} accuracy on ${b.n} pneumonia images.`,
    );
  }
  if (c.leakage) {
    const k = c.leakage;
    const twins = k.evalImagesWithConfirmedTrainTwin;
    out.push(
      `**Leakage** (chapter 15): ${k.sharedPatients} patient(s) with images in more than one ` +
        `split; ${twins ?? "an unknown number of"} validation/test image(s) with a confirmed ` +
        `duplicate in training. ` +
        (k.sharedPatients === 0 && (twins ?? 0) === 0
          ? "The scores above are not inflated by leakage of either kind."
          : "Scores on the affected images may be inflated; see chapter 15."),
    );
  }
  out.push(secondSiteFinding(c));
  return out;
}

/** Chapter 16's result in words, or why it is missing. */
export function secondSiteFinding(c: ConclusionInputs): string {
  const s = c.secondSite;
  if (!s) {
    return `**A second site** (chapter 16): no result in results/${SECOND_SITE_RESULT}.json ` +
      "(the chapter did not run or did not record its numbers), so nothing here says how the " +
      "model does on another hospital's images.";
  }
  const ref = s.reference?.auc !== undefined
    ? `, against ${fmtMeasured(s.reference.auc)} on ` +
      "the training-distribution test part"
    : "";
  const cal = s.calibrated
    ? ` With the threshold re-picked on ${s.calibrated.labelled ?? "some"} labelled site images: ` +
      `sensitivity ${fmtMeasured(s.calibrated.sensitivity)}, specificity ` +
      `${fmtMeasured(s.calibrated.specificity)}.`
    : "";
  const who = s.run ? `, the report's \`${s.run}\` run` : "";
  const sh = s.shipped;
  const verdict = (e: { auc: number; sensitivity: number; specificity: number }, k: Protocol) =>
    `${meetsTargets(e, k) ? "met" : "not met"} (ROC-AUC ${f(e.auc)}, sensitivity ` +
    `${f(e.sensitivity)}, specificity ${f(e.specificity)})`;
  const shipped = sh
    ? ` The shipped reference model (${sh.run}), on the same images: strict targets ` +
      `${verdict(sh.strict, "strict")}; calibrated targets ${verdict(sh.calibrated, "calibrated")}.`
    : "";
  const sel = s.selection;
  const selection = sel
    ? ` A rule written before its runs compared ${sel.candidates} candidates with the shipped ` +
      `model on these images (${sel.runningTotal} comparisons on them so far) and ` +
      (sel.replacedIncumbent
        ? `chose ${sel.chosen}`
        : "kept it: no candidate gained beyond the noise") +
      `; the whole procedure, cross-validated by patient, scores ROC-AUC ${f(sel.adjustedAuc)} ` +
      `against ${f(sel.incumbentAdjustedAuc)} for always keeping the incumbent.`
    : "";
  return `**A second site** (chapter 16, ${s.n} images${who}): ROC-AUC ${fmtMeasured(s.auc)}` +
    `${ref}; at the stored threshold sensitivity ${fmtMeasured(s.sensitivity)}, specificity ` +
    `${fmtMeasured(s.specificity)}.${cal}${shipped}${selection}`;
}

/** Published figures: compared only on the same test images, else quoted in a note. */
export function publishedNote(c: ConclusionInputs): string {
  const k = REFERENCES.kermany, sd = REFERENCES.seed, t = c.test, m = t.atThreshold;
  const quoted = `${k.source}: ROC-AUC ${k.auc}, sensitivity ${k.sensitivity}, specificity ` +
    `${k.specificity}; ${sd.source}: accuracy ${sd.accuracy}, recall ${sd.recall}, precision ` +
    `${sd.precision}; both on ${REFERENCES.split}.`;
  if (t.officialTest && t.n === 624) {
    return `**Published results, same test images.** ${quoted} This run on the same split: ` +
      `ROC-AUC ${f(t.auc)}, sensitivity ${f(m.sensitivity)}, specificity ${f(m.specificity)}, ` +
      `accuracy ${f(m.accuracy)}, precision ${f(m.precision)}.`;
  }
  return `**Published results, not on the same images.** ${quoted} This report's test images ` +
    `are ${t.source}, so no difference is computed: the numbers are not comparable.`;
}

/** Recommendations that follow from the findings' numbers. */
export function recommendations(c: ConclusionInputs): string[] {
  const out: string[] = [];
  const m = c.test.atThreshold;
  const short = Object.values(c.runs).filter((r): r is RunRecord =>
    !!r && !trainingDiagnosis(r).converged
  );
  const nothing = Object.values(c.runs).filter((r): r is RunRecord =>
    !!r && trainingDiagnosis(r).learnedNothing
  );
  if (c.profile !== "full") {
    out.push(
      `These numbers come from the **${c.profile}** profile (smaller images, at most ` +
        `${c.maxEpochs} epochs, subsets of the data); rerun with \`deno task report --profile ` +
        "full\` before quoting them.",
    );
  }
  if (short.length) {
    out.push(
      `Train longer: ${short.map((r) => r.name).join(", ")} stopped at the epoch limit before ` +
        "early stopping ended them, so their comparisons above say more about training length " +
        "than about the architectures. " + short.map(budgetNote).join(" "),
    );
  } else {
    out.push(
      "Every model converged: early stopping (patience " +
        `${Object.values(c.runs).find((r) => r)?.config.earlyStopping?.patience ?? "-"}) ended ` +
        "each run before its epoch limit, so the comparisons above are of trained models" +
        (nothing.length ? `, except ${nothing.map((r) => r.name).join(" and ")} (below).` : "."),
    );
  }
  if (nothing.length) {
    out.push(
      `${nothing.map((r) => r.name).join(" and ")} learned nothing (one score for every ` +
        "validation image): the usual cause in a small ReLU network is units that stopped " +
        "responding after the first large updates. Before reading anything into these runs, " +
        "retrain with a lower learning rate or standardised inputs.",
    );
  }
  if (!c.test.officialTest) {
    out.push(
      "Measure on images from outside the training folder (the official test split or a " +
        "second site): the test part here comes from the same hospital and folder as training.",
    );
  }
  if (m.sensitivity < WHO_SCREENING_MINIMUM.sensitivity) {
    out.push(
      `Test sensitivity ${f(m.sensitivity)} is below ${WHO_SCREENING_MINIMUM.sensitivity}: ` +
        "choose the threshold with a higher sensitivity target on validation, or recalibrate " +
        "it on labelled images of the target site (chapter 11).",
    );
  }
  if (m.specificity < WHO_SCREENING_MINIMUM.specificity) {
    out.push(
      `Test specificity ${f(m.specificity)} is below ${WHO_SCREENING_MINIMUM.specificity}: ` +
        `${m.fp} of ${m.tn + m.fp} normal children would be referred; re-pick the threshold on a ` +
        "labelled sample of the target site (chapter 11) before use.",
    );
  }
  if (c.looks && c.looks.verdict !== "mostly-inside") {
    out.push(
      "Do not take the heatmaps as proof that the model reads the lungs (chapter 12); prefer " +
        "training on the chest region if chapter 13 shows it costs nothing.",
    );
  }
  if (c.leakage && c.leakage.sharedPatients > 0) {
    out.push("Rebuild the splits by patient before trusting any score (chapter 15).");
  }
  if (!c.secondSite) {
    out.push("Run chapter 16 (a second site) before deploying anywhere but the training hospital.");
  }
  out.push(WHO_BENCHMARK.sentence);
  return out;
}

/** The whole conclusions chapter as Markdown. */
export function conclusionsMarkdown(c: ConclusionInputs): string {
  const list = (xs: string[]) => xs.map((x) => `- ${x}`).join("\n");
  return "## Findings\n\n" + list(findings(c)) +
    "\n\n## The seed's four recommendations, tested\n\n" + list(seedRecommendations(c)) +
    "\n\n## Recommendations\n\n" + list(recommendations(c)) +
    "\n\n## Published results\n\n" + publishedNote(c) +
    "\n\n*Every sentence above is generated from this run's numbers by " +
    "`lib/chapters/17_conclusions.ts`; intervals are 95% patient-bootstrap intervals.*";
}
