/**
 * The conclusions follow the numbers: each sentence is checked against inputs made here where the
 * verdict flips (overfitting or not, undertrained or not, an interval including 0 or not, the same
 * test images as the published figures or not, chapter 16 run or not).
 */
import assert from "node:assert/strict";
import {
  type ConclusionInputs,
  conclusionsMarkdown,
  findings,
  publishedNote,
  recommendations,
  seedRecommendations,
} from "../../lib/chapters/17_conclusions.ts";
import type { RunRecord } from "../../lib/chapters/_context.ts";
import { baselineDelta, overfitNote } from "../../lib/chapters/_models.ts";
import { learnedNothingNote } from "../../lib/chapters/_training.ts";
import type { BinaryMetrics } from "../../lib/metrics/classification.ts";

const metrics = (sens: number, spec: number, fn: number, fp: number): BinaryMetrics =>
  ({
    sensitivity: sens,
    specificity: spec,
    precision: 0.9,
    f1: 0.9,
    accuracy: 0.9,
    tp: 100 - fn,
    fn,
    tn: 50 - fp,
    fp,
  }) as unknown as BinaryMetrics;

/** A run whose train/val accuracy per epoch are given; validation images shared by all runs. */
function run(name: string, trainAcc: number[], valAcc: number[], auc: number, maxEpochs = 10) {
  const y = Array.from({ length: 40 }, (_, i) => i % 2);
  const prob = y.map((v, i) => (v ? 0.5 + auc / 2 : 0.5 - auc / 2) + (i % 7) * 0.01);
  return {
    name,
    dir: "/x",
    config: { epochs: maxEpochs, model: "compact", size: 64 },
    summary: {
      stoppedEarly: trainAcc.length < maxEpochs,
      bestEpoch: 1,
      trainImages: 100,
      val: { auc },
    },
    history: trainAcc.map((a, i) => ({
      epoch: i + 1,
      train: { accuracy: a, loss: 1 - a },
      val: { accuracy: valAcc[i], loss: 1 - valAcc[i] },
    })),
    val: { y, prob, patient: y.map((_, i) => `p${i}`), relPath: y.map((_, i) => `f${i}`) },
  } as unknown as RunRecord;
}

function inputs(over: Partial<ConclusionInputs> = {}): ConclusionInputs {
  return {
    profile: "quick",
    maxEpochs: 10,
    seed: 1,
    choice: { run: "compact", model: "compact", reasons: [], rule: "highest AUC", rows: [] },
    test: {
      run: "compact",
      model: "compact",
      source: "the manifest's patient-level test part",
      officialTest: false,
      n: 150,
      threshold: 0.6,
      atThreshold: metrics(0.96, 0.8, 4, 10),
      at05: metrics(0.98, 0.7, 2, 15),
      auc: 0.97,
      examples: { TN: null, FP: null, FN: null, TP: null },
      failures: [],
    },
    balance: null,
    runs: {
      // Converged runs (stopped early), no gap: no overfitting.
      cnn: run("cnn", [0.8, 0.9, 0.92], [0.8, 0.9, 0.91], 0.9),
      cnnReg: run("cnn_reg", [0.8, 0.88, 0.9], [0.8, 0.88, 0.9], 0.9),
    },
    honest: null,
    operating: null,
    looks: {
      mean: { estimate: 0.39, lo: 0.37, hi: 0.41, nValid: 1000, nSkipped: 0 },
      normal: 0.4,
      pneumonia: 0.38,
      uniform: 0.44,
      verdict: "slightly-less",
    },
    chestCrop: { estimate: 0.01, lo: -0.02, hi: 0.04, nValid: 1000, nSkipped: 0 },
    three: null,
    leakage: null,
    secondSite: null,
    ...over,
  };
}

Deno.test("regularisation: no overfitting means nothing to fix; overfitting cured is said so", () => {
  const text = seedRecommendations(inputs()).join("\n");
  assert.match(text, /cnn shows no overfitting/);
  assert.match(text, /nothing for regularisation to fix/);
  assert.doesNotMatch(text, /closed the gap/);
  const cured = inputs({
    runs: {
      cnn: run("cnn", [0.8, 0.95, 0.99], [0.8, 0.85, 0.86], 0.9),
      cnnReg: run("cnn_reg", [0.8, 0.88, 0.9], [0.8, 0.88, 0.9], 0.9),
    },
  });
  assert.match(seedRecommendations(cured).join("\n"), /regularisation closed the gap/);
});

Deno.test("undertrained runs are called undertrained, not compared as a cure", () => {
  const short = inputs({
    runs: {
      cnn: run("cnn", [0.7, 0.8], [0.7, 0.8], 0.9, 2),
      cnnReg: run("cnn_reg", [0.6, 0.7], [0.6, 0.7], 0.8, 2),
    },
  });
  const text = seedRecommendations(short).join("\n");
  assert.match(text, /cnn is undertrained/);
  assert.match(text, /too short to judge/);
  assert.match(recommendations(short).join("\n"), /Train longer: cnn, cnn_reg/);
});

Deno.test("differences are read against their intervals; the missing chapters are named", () => {
  const f = findings(inputs()).join("\n");
  assert.match(f, /crop minus whole image, \+0\.010 \(95% CI -0\.020 to \+0\.040\): no reliable/);
  assert.match(f, /only slightly less than an even spread/);
  assert.match(f, /misses more pneumonias than 0\.5 \(4 against 2/);
  assert.match(f, /no result in results\/second_site\.json/);
  const s = seedRecommendations(inputs()).join("\n");
  assert.match(s, /Use transfer learning.*not tested/);
  assert.match(s, /downsampling.*not run/);
});

Deno.test("second site: its numbers when chapter 16 wrote results/second_site.json", () => {
  const f = findings(inputs({
    secondSite: {
      n: 267,
      auc: { estimate: 0.93, lo: 0.9, hi: 0.96 },
      sensitivity: 0.97,
      specificity: { estimate: 0.6, lo: 0.5, hi: 0.7 },
    },
  })).join("\n");
  assert.match(f, /A second site\*\* \(chapter 16, 267 images\): ROC-AUC 0\.930 \(95% CI 0\.900/);
  assert.match(f, /sensitivity 0\.970, specificity 0\.600 \(95% CI 0\.500 to 0\.700\)/);
  assert.doesNotMatch(f, /shipped reference/);
  const both = findings(inputs({
    secondSite: {
      n: 267,
      run: "compact",
      auc: 0.966,
      sensitivity: 0.983,
      specificity: 0.742,
      shipped: {
        run: "outputs/reference",
        strict: { auc: 0.977, sensitivity: 0.983, specificity: 0.849, threshold: 0.4417 },
        calibrated: { auc: 0.977, sensitivity: 0.954, specificity: 0.914, threshold: 0.7397 },
      },
    },
  })).join("\n");
  assert.match(both, /\(chapter 16, 267 images, the report's `compact` run\)/);
  assert.match(
    both,
    /shipped reference model \(outputs\/reference\), on the same images: strict targets not met \(ROC-AUC 0\.977, sensitivity 0\.983, specificity 0\.849\); calibrated targets not met \(ROC-AUC 0\.977/,
  );
  assert.doesNotMatch(both, /A rule written before its runs/);
  const kept = findings(inputs({
    secondSite: {
      n: 267,
      auc: 0.966,
      selection: {
        candidates: 7,
        runningTotal: 54,
        chosen: "reference",
        replacedIncumbent: false,
        adjustedAuc: 0.979,
        incumbentAdjustedAuc: 0.979,
      },
    },
  })).join("\n");
  assert.match(
    kept,
    /compared 7 candidates with the shipped model on these images \(54 comparisons on them so far\) and kept it: no candidate gained beyond the noise; the whole procedure, cross-validated by patient, scores ROC-AUC 0\.979 against 0\.979/,
  );
});

Deno.test("published figures: a note when not on the same images, compared when they are", () => {
  assert.match(publishedNote(inputs()), /not on the same images.*no difference is computed/s);
  const same = inputs();
  same.test = { ...same.test, officialTest: true, n: 624, source: "the official test split" };
  assert.match(publishedNote(same), /same test images/);
  const md = conclusionsMarkdown(inputs());
  assert.doesNotMatch(md, /WHO minimum/);
  assert.match(md, /tuberculosis triage test/);
  assert.doesNotMatch(md, /predicted the test result well/);
});

Deno.test("downsampling is answered at the same budget when chapter 9 trained that run", () => {
  const base = inputs();
  const text = seedRecommendations({
    ...base,
    runs: {
      ...base.runs,
      balanceDown: run("balance_down", [0.8, 0.9], [0.8, 0.9], 0.9),
      sameSize: run("balance_none_same_size", [0.8, 0.9], [0.8, 0.9], 0.9),
    },
  }).join("\n");
  assert.match(text, /chapter 9, `compact` at 64 px, the chapter's budget, at the same budget/);
  assert.match(text, /at the same budget: 100 images downsampled against 100 without balancing/);
  assert.match(text, /no balancing -> downsampling: validation ROC-AUC 0\.900 -> 0\.900/);
  assert.match(text, /no reliable difference/);
});

Deno.test("screening: chapter 11's stored-threshold row, and its run named when not the final", () => {
  const policy = (threshold: number, sens: number) => ({
    policy: "stored threshold",
    threshold,
    test: metrics(sens, 0.98, 3, 2),
    testMeetsWho: true,
    projection: [0.05, 0.1, 0.2].map((prevalence) => ({
      prevalence,
      referredPer1000: 60,
      truePositivesPer1000: 48,
      falseAlarmsPer1000: 12,
      missedPer1000: 2,
      ppv: 0.8,
      npv: 0.99,
    })),
  });
  const op = (run?: string) => ({
    policies: {
      run,
      testPrevalence: 0.74,
      nTest: 150,
      storedThreshold: 0.6,
      policies: [policy(0.6, 0.96)],
    },
  });
  const same = findings(inputs({ operating: op("compact") })).join("\n");
  assert.match(
    same,
    /\*\*Screening\*\* \(chapter 11\): at the stored threshold, test sensitivity 0\.960/,
  );
  const other = findings(inputs({ operating: op("cnn") })).join("\n");
  assert.match(other, /\(chapter 11, on `cnn`, not the final model `compact`\)/);
  // Records written before the run was kept: no claim either way.
  assert.match(findings(inputs({ operating: op() })).join("\n"), /\(chapter 11\): at the stored/);
});

/** A full-profile run: `epochs` run of at most 40, patience 8, best at `best`, 100 s an epoch. */
function fullRun(name: string, epochs: number, best: number, stoppedEarly: boolean) {
  const acc = Array.from({ length: epochs }, (_, i) => 0.8 + 0.15 * Math.min(i + 1, best) / best);
  const r = run(name, acc, acc, 0.95, 40);
  return {
    ...r,
    config: { epochs: 40, earlyStopping: { metric: "val_accuracy", patience: 8 } },
    summary: { ...r.summary, stoppedEarly, bestEpoch: best, meanEpochTimeS: 100 },
  } as unknown as RunRecord;
}

Deno.test("full profile: converged runs are answered without 'undertrained'; others get a budget", () => {
  const converged = inputs({
    profile: "full",
    maxEpochs: 40,
    runs: {
      dense25: fullRun("dense_baseline_25", 14, 6, true),
      dense75: fullRun("dense_baseline_75", 16, 8, true),
      cnn: fullRun("cnn", 25, 17, true),
      cnnReg: fullRun("cnn_reg", 17, 9, true),
    },
  });
  const seedText = seedRecommendations(converged).join("\n");
  assert.doesNotMatch(seedText, /undertrained|too short to judge/i);
  assert.match(
    seedText,
    /cnn shows no overfitting \(gap [^;]+; converged: early stopping ended it at epoch 25\)/,
  );
  const rec = recommendations(converged).join("\n");
  assert.match(rec, /Every model converged: early stopping \(patience 8\)/);
  assert.doesNotMatch(rec, /profile; rerun|Train longer/);
  // cnn_reg ran all 40 epochs, best at 38: not converged, needs 38 + 8 = 46 epochs (~77 min).
  const limit = inputs({
    profile: "full",
    maxEpochs: 40,
    runs: { ...converged.runs, cnnReg: fullRun("cnn_reg", 40, 38, false) },
  });
  const t = seedRecommendations(limit).join("\n");
  assert.match(
    t,
    /cnn_reg is undertrained \(stopped at its limit of 40 epochs while validation was still improving; it needs at least 46 epochs\)/,
  );
  assert.match(t, /cnn shows no overfitting \([^)]*converged/);
  const r2 = recommendations(limit).join("\n");
  assert.match(r2, /Train longer: cnn_reg stopped at the epoch limit/);
  assert.match(
    r2,
    /to converge it needs at least 46 epochs \(best epoch 38 \+ patience 8\), about 77 min at its 100 s per epoch \(`--set epochs=46`\)/,
  );
  assert.doesNotMatch(r2, /Every model converged/);
});

Deno.test("a run that gives every image one score is said to have learned nothing, not to have converged", () => {
  /** As the full profile's dense baselines did: val accuracy at the class share, ROC-AUC 0.5. */
  const dead = (name: string) => {
    const r = fullRun(name, 9, 1, true);
    const flat = r.history.map((e) => ({ ...e, val: { accuracy: 0.744, loss: 0.6 } }));
    return {
      ...r,
      history: flat,
      summary: { ...r.summary, val: { auc: 0.5, recall: 1, accuracy: 0.744 } },
    } as unknown as RunRecord;
  };
  const c = inputs({
    profile: "full",
    maxEpochs: 40,
    runs: {
      dense25: dead("dense_baseline_25"),
      dense75: dead("dense_baseline_75"),
      cnn: fullRun("cnn", 25, 17, true),
      cnnReg: fullRun("cnn_reg", 17, 9, true),
    },
  });
  const seedText = seedRecommendations(c).join("\n");
  assert.match(
    seedText,
    /dense_baseline_75 learned nothing: it gives every validation image the same score \(ROC-AUC 0\.500, PNEUMONIA for all\)/,
  );
  assert.match(seedText, /Neither dense run learned anything, so this report cannot answer/);
  assert.doesNotMatch(seedText, /dense_baseline_75 shows no overfitting/);
  // The CNNs are still answered as converged.
  assert.match(seedText, /cnn shows no overfitting \([^)]*converged/);
  const rec = recommendations(c).join("\n");
  assert.match(
    rec,
    /trained models, except dense_baseline_25 and dense_baseline_75 \(below\)\./,
  );
  assert.match(rec, /dense_baseline_25 and dense_baseline_75 learned nothing/);
  // A model that learned something is not flagged, even when its validation AUC is low.
  const weak = inputs({
    profile: "full",
    maxEpochs: 40,
    runs: { cnn: fullRun("cnn", 25, 17, true) },
  });
  assert.doesNotMatch(recommendations(weak).join("\n"), /learned nothing/);
  // Chapter 2's own prose.
  const d75 = c.runs.dense75!;
  const full = (r: RunRecord) =>
    ({
      ...r,
      summary: {
        ...r.summary,
        totalTimeS: 39,
        val: { ...r.summary.val, precision: 0.744, f1: 0.853 },
      },
    }) as unknown as RunRecord;
  assert.match(
    baselineDelta(full(c.runs.dense25!), full(d75)),
    /Neither run learned anything \(each gives every image one score\), so this comparison cannot say/,
  );
  assert.match(overfitNote(d75), /^\*\*dense_baseline_75 learned nothing: /);
  assert.doesNotMatch(overfitNote(c.runs.cnn!), /learned nothing/);
  // Why it stopped: patience, or the epoch limit.
  assert.match(
    learnedNothingNote(d75),
    /early stopping ended it at epoch 9 because validation accuracy never moved\./,
  );
  const limit = { ...d75, summary: { ...d75.summary, stoppedEarly: false } } as RunRecord;
  assert.match(
    learnedNothingNote(limit),
    /it ran to the epoch limit \(9\) with its validation accuracy never moving\./,
  );
});
