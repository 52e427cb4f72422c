import assert from "node:assert/strict";
import {
  compareWithIncumbent,
  crossValidate,
  foldsCsv,
  nestedSelection,
  outOfFoldScores,
  patientFolds,
  type SiteCandidate,
  validationGuard,
} from "../../lib/eval/site_cv.ts";
import type { LabelledItem } from "../../lib/eval/site_calibration.ts";
import { rocAuc, thresholdForSensitivity } from "../../lib/metrics/classification.ts";
import { makeRng, randNormal } from "../../lib/util/rng.ts";

/** 150 patients (1-2 images), about 65% pneumonia, and a latent "difficulty" per image. */
function site(seed = 1) {
  const rng = makeRng(seed);
  const items: LabelledItem[] = [];
  const latent: number[] = [];
  for (let p = 0; p < 150; p++) {
    const y = (rng() < 0.65 ? 1 : 0) as 0 | 1;
    const k = rng() < 0.3 ? 2 : 1;
    for (let j = 0; j < k; j++) {
      items.push({ y, patientId: `person${p}` });
      latent.push(randNormal(rng));
    }
  }
  return { items, latent, rng };
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** Scores with separation `sep` sharing the site's latent noise plus `own` private noise. */
function scorer(
  items: LabelledItem[],
  latent: number[],
  rng: () => number,
  sep: number,
  own = 0.3,
) {
  return items.map((it, i) => sigmoid(sep * (it.y - 0.5) + latent[i] + own * randNormal(rng)));
}

/** Validation predictions: the same 200 images for every run, separation `sep`. */
function validation(sep: number, seed: number) {
  const rng = makeRng(seed);
  const y = Array.from({ length: 200 }, (_, i) => (i % 4 === 0 ? 0 : 1));
  const shared = makeRng(99);
  const latent = y.map(() => randNormal(shared));
  const noise = makeRng(77);
  return {
    relPath: y.map((_, i) => `val/${i}.jpeg`),
    y,
    prob: y.map((v, i) =>
      sigmoid(sep * (v - 0.5) + latent[i] + randNormal(noise) + 0.5 * randNormal(rng))
    ),
  };
}

Deno.test("patientFolds: whole patients, stratified, seeded", () => {
  const { items } = site();
  const folds = patientFolds(items, 5, 3);
  const fold = new Map<string, number>();
  items.forEach((it, i) => {
    if (fold.has(it.patientId)) {
      assert.equal(fold.get(it.patientId), folds[i], "one fold per patient");
    }
    fold.set(it.patientId, folds[i]);
  });
  for (const label of [0, 1]) {
    const counts = [0, 1, 2, 3, 4].map((f) =>
      items.filter((it, i) => it.y === label && folds[i] === f).length
    );
    assert.ok(Math.max(...counts) - Math.min(...counts) <= 2, `label ${label}: ${counts}`);
  }
  assert.deepEqual(patientFolds(items, 5, 3), folds);
  assert.notDeepEqual(patientFolds(items, 5, 4), folds);
  assert.throws(() => patientFolds(items.slice(0, 3), 5, 0), /cannot fill/);
});

Deno.test("outOfFoldScores reads fold f's images from the model trained without fold f", () => {
  const folds = [0, 1, 0, 1];
  const c: SiteCandidate = { name: "ft", foldProb: [[0.1, 9, 0.3, 9], [9, 0.2, 9, 0.4]] };
  assert.deepEqual(outOfFoldScores(c, folds), [0.1, 0.2, 0.3, 0.4]);
  assert.throws(() => outOfFoldScores({ name: "x", foldProb: [[1]] }, folds), /1 fold scorings/);
});

Deno.test("crossValidate: per-fold thresholds come from the other folds' labels only", () => {
  const { items, latent, rng } = site(2);
  const prob = scorer(items, latent, rng, 4);
  const folds = patientFolds(items, 5, 0);
  const [e] = crossValidate(items, [{ name: "a", prob, threshold: 0.5 }], folds, { nBoot: 200 });
  const y = items.map((it) => it.y);
  for (let f = 0; f < 5; f++) {
    const out = items.map((_, i) => i).filter((i) => folds[i] !== f);
    const t = thresholdForSensitivity(out.map((i) => y[i]), out.map((i) => prob[i]), 0.95);
    assert.equal(e.calibrated.thresholds[f], t);
  }
  // Fold 0's own labels never pick fold 0's threshold: flipping them all leaves it unchanged.
  const flipped = items.map((it, i) => (folds[i] === 0 ? { ...it, y: (1 - it.y) as 0 | 1 } : it));
  const [g] = crossValidate(flipped, [{ name: "a", prob }], folds, { nBoot: 50 });
  assert.equal(g.calibrated.thresholds[0], e.calibrated.thresholds[0]);
  assert.equal(e.auc.estimate, rocAuc(y, prob));
  assert.equal(e.foldAuc.length, 5);
  assert.ok(e.calibrated.sensitivity.lo <= e.calibrated.sensitivity.estimate);
  assert.ok(e.strict && e.strict.threshold === 0.5);
  assert.equal(g.strict, null);
});

Deno.test("the rule: a real gain clears, a copy and a validation drop do not; Holm counts all", () => {
  const { items, latent, rng } = site(3);
  const val = validation(3, 1);
  const incumbent = { name: "inc", prob: scorer(items, latent, rng, 3), validation: val };
  const better = {
    name: "better",
    prob: scorer(items, latent, rng, 6),
    validation: validation(3, 2),
  };
  const copy = { name: "copy", prob: incumbent.prob.map((p) => p * 0.9), validation: val };
  const badVal = { name: "badval", prob: better.prob, validation: validation(0.5, 3) };
  const noVal = { name: "noval", prob: better.prob };
  const r = compareWithIncumbent(items, incumbent, [better, copy, badVal, noVal], { nBoot: 300 });
  assert.equal(r.nComparisons, 4);
  const by = Object.fromEntries(r.comparisons.map((c) => [c.name, c]));
  assert.ok(by.better.clears, by.better.verdict);
  assert.ok(by.better.delong.diff > 0 && by.better.bootstrap.diff.lo > 0);
  assert.ok(by.better.holmP >= by.better.delong.pOneSided);
  assert.ok(!by.copy.clears);
  assert.equal(by.copy.delong.diff, 0);
  assert.match(by.copy.verdict, /no site gain/);
  assert.ok(!by.badval.clears);
  assert.match(by.badval.verdict, /validation drops/);
  assert.ok(!by.noval.clears);
  assert.match(by.noval.verdict, /no validation predictions/);
  assert.equal(r.chosen, "better");
});

Deno.test("validationGuard: paired by image path, unpaired when the images differ", () => {
  const a = validation(3, 1), b = validation(3, 2);
  const shuffled = {
    relPath: [...b.relPath].reverse(),
    y: [...b.y].reverse(),
    prob: [...b.prob].reverse(),
  };
  const g1 = validationGuard(a, b)!, g2 = validationGuard(a, shuffled)!;
  assert.ok(g1.paired && g2.paired);
  assert.equal(g1.pWorse, g2.pWorse);
  const other = { ...b, relPath: b.relPath.map((p) => "x" + p) };
  const g3 = validationGuard(a, other)!;
  assert.ok(!g3.paired);
  assert.ok(g3.pWorse > 0 && g3.pWorse < 1);
  assert.equal(validationGuard(a, null), null);
});

Deno.test("nestedSelection: finds a real gain; noise candidates do not flatter the estimate", () => {
  const { items, latent, rng } = site(4);
  const val = validation(3, 1);
  const folds = patientFolds(items, 5, 0);
  const incumbent = { name: "inc", prob: scorer(items, latent, rng, 3, 0.5), validation: val };
  const better = { name: "better", prob: scorer(items, latent, rng, 7, 0.5), validation: val };
  const real = nestedSelection(items, incumbent, [better], folds, { nBoot: 200 });
  assert.equal(real.chosenCounts.better, 5);
  assert.ok(real.meanAuc > real.incumbentMeanAuc);
  // Twenty candidates no better than the incumbent: the best of them looks better on the whole
  // sample (selection optimism), the nested estimate does not reward it.
  const noise = Array.from({ length: 20 }, (_, k) => ({
    name: `n${k}`,
    prob: scorer(items, latent, rng, 3, 0.5),
    validation: val,
  }));
  const y = items.map((it) => it.y);
  const best = Math.max(...noise.map((c) => rocAuc(y, c.prob)));
  const nested = nestedSelection(items, incumbent, noise, folds, { nBoot: 100 });
  assert.equal(nested.nComparisons, 20);
  assert.ok(
    best > rocAuc(y, incumbent.prob),
    "some noise candidate beats the incumbent on the sample",
  );
  assert.ok(nested.meanAuc < best, `nested ${nested.meanAuc} vs best ${best}`);
  assert.ok((nested.chosenCounts.inc ?? 0) >= 4, JSON.stringify(nested.chosenCounts));
  assert.equal(nested.perFold.length, 5);
});

Deno.test("foldsCsv writes one row per image", () => {
  const csv = foldsCsv([{ relPath: "test/A,b.jpeg", patientId: "p1", y: 1 }], [2]);
  assert.equal(csv, 'relPath,patient,y,fold\n"test/A,b.jpeg",p1,1,2\n');
});
