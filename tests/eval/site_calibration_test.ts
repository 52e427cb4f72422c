import assert from "node:assert/strict";
import {
  formatSiteCalibration,
  type LabelledItem,
  siteCalibrate,
  stratifiedPatientSample,
} from "../../lib/eval/site_calibration.ts";
import { makeRng } from "../../lib/util/rng.ts";

/** A site where the model over-calls pneumonia: normals score 0.45-0.85, pneumonia 0.75-1. */
function makeSite(seed: number) {
  const rng = makeRng(seed);
  const items: LabelledItem[] = [], scores: number[] = [];
  for (let p = 0; p < 160; p++) {
    const y = (p % 5 < 3 ? 1 : 0) as 0 | 1;
    const k = 1 + Math.floor(rng() * 2);
    for (let j = 0; j < k; j++) {
      items.push({ y, patientId: `person${p}` });
      scores.push(y ? 0.75 + 0.25 * rng() : 0.45 + 0.4 * rng());
    }
  }
  return { items, scores };
}

Deno.test("stratifiedPatientSample keeps patients whole, stratifies and is seeded", () => {
  const { items } = makeSite(1);
  const a = stratifiedPatientSample(items, 80, 7), b = stratifiedPatientSample(items, 80, 7);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.sample, stratifiedPatientSample(items, 80, 8).sample);
  assert.equal(a.sample.length + a.rest.length, items.length);
  assert.ok(a.sample.length >= 80 && a.sample.length <= 84, `sample ${a.sample.length}`);
  const inSample = new Set(a.sample.map((i) => items[i].patientId));
  assert.ok(a.rest.every((i) => !inSample.has(items[i].patientId)), "a patient is split");
  const share = a.sample.filter((i) => items[i].y === 1).length / a.sample.length;
  const overall = items.filter((it) => it.y === 1).length / items.length;
  assert.ok(Math.abs(share - overall) < 0.05, `sample share ${share} vs ${overall}`);
  assert.throws(() => stratifiedPatientSample(items, items.length, 1), /must be >= 2 and below/);
});

Deno.test("siteCalibrate re-picks the threshold and shows the gain with intervals", () => {
  const { items, scores } = makeSite(2);
  const r = siteCalibrate(items, scores, { threshold: 0.3, sampleSize: 80, seed: 3, nBoot: 300 });
  assert.ok(r.newThreshold > 0.6 && r.newThreshold < 0.85, `new threshold ${r.newThreshold}`);
  assert.equal(r.before.metrics.specificity.estimate, 0); // 0.3 calls every normal positive
  assert.ok(r.after.metrics.specificity.estimate > 0.3);
  assert.ok(r.change.specificity.lo > 0, "specificity gain is significant");
  assert.ok(r.change.sensitivity.estimate <= 0);
  assert.equal(r.rest.n + r.sample.n, items.length);
  assert.deepEqual(
    r,
    siteCalibrate(items, scores, { threshold: 0.3, sampleSize: 80, seed: 3, nBoot: 300 }),
  );
  const text = formatSiteCalibration(r);
  assert.match(text, /threshold 0\.3000 -> 0\.\d{4}/);
  assert.match(text, /specificity +0\.000 \(0\.000 to 0\.000\)/);
  assert.throws(
    () => siteCalibrate(items, scores.slice(1), { threshold: 0.5 }),
    /labelled images but/,
  );
});
