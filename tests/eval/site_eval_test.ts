import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { initBackend } from "../../lib/backend/select.ts";
import { discoverDataset } from "../../lib/data/discover.ts";
import { clearScoreMemo, scoreForSite, summariseScoring } from "../../lib/eval/site_eval.ts";
import { ADAPT_MODES } from "../../lib/eval/adapt.ts";
import { writeSyntheticDataset } from "../../lib/data/synthetic.ts";

import { writeRunFolder } from "./_run_folder.ts";

await initBackend({ prefer: "cpu" });

/**
 * A run folder by hand: batch norm, then a mean-brightness score; val_predictions.csv lists the
 * data folder's val/ images with the scores the model gives them.
 */
async function writeRun(dir: string, data: string, bias = -8): Promise<void> {
  const m = tfl.sequential();
  m.add(tfl.layers.batchNormalization({ inputShape: [32, 32, 1] }));
  m.add(tfl.layers.globalAveragePooling2d({}));
  m.add(tfl.layers.dense({ units: 1, activation: "sigmoid" }));
  m.layers[2].setWeights([tf.tensor2d([20], [1, 1]), tf.tensor1d([bias])]);
  await writeRunFolder(dir, m, {
    data,
    threshold: 0.01,
    valScore: (r, i) => 0.2 + 0.6 * r.y + i * 1e-4,
  });
}

Deno.test("scoreForSite: stored threshold, ensemble, TTA, calibration and adaptation", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const data = join(dir, "data"), site = join(dir, "site");
    await writeSyntheticDataset(data, { perClass: 10, size: 40, seed: 5 });
    await writeSyntheticDataset(site, { perClass: 12, size: 40, seed: 6, splits: ["test"] });
    await writeRun(join(dir, "a"), data);
    await writeRun(join(dir, "b"), data, -7);
    const { records } = await discoverDataset(site);
    const base = { records, source: site, cacheDir: join(dir, "cache") };

    const plain = await scoreForSite({ ...base, runs: [join(dir, "a")] });
    assert.equal(plain.threshold, 0.01);
    assert.match(plain.thresholdFrom, /stored/);
    assert.equal(plain.scored.y.length, 24);
    assert.equal(plain.prior, null);
    const e = summariseScoring(plain);
    assert.deepEqual(Object.keys(e), [
      "auc",
      "accuracy",
      "sensitivity",
      "specificity",
      "precision",
      "f1",
      "threshold",
      "confusion",
      "n",
    ]);

    const ens = await scoreForSite({ ...base, runs: [join(dir, "a"), join(dir, "b")] });
    assert.match(ens.thresholdFrom, /re-chosen on the runs' validation split/);
    // The stored val scores of both runs are the same, so the ensemble's val threshold is the
    // 95%-sensitivity threshold of those scores (positives 0.8 + i * 1e-4).
    assert.ok(ens.threshold > 0.79 && ens.threshold < 0.81, `threshold ${ens.threshold}`);
    const pa = plain.scored.prob[0];
    const pb = (await scoreForSite({ ...base, runs: [join(dir, "b")] })).scored.prob[0];
    assert.ok(Math.abs(ens.scored.prob[0] - (pa + pb) / 2) < 1e-6);

    const tta = await scoreForSite({ ...base, runs: [join(dir, "a")], tta: 2 });
    assert.equal(tta.tta, 2);
    assert.match(tta.thresholdFrom, /TTA 2/);
    assert.notEqual(tta.scored.prob[0], plain.scored.prob[0]);

    const cal = await scoreForSite({ ...base, runs: [join(dir, "a")], calibrate: site });
    assert.equal(cal.calibration!.y.length, 24);
    assert.match(cal.thresholdFrom, /calibrated on the labels of/);
    assert.notEqual(cal.threshold, 0.01);

    const bn = await scoreForSite({ ...base, runs: [join(dir, "a")], adapt: "bn+prior" });
    assert.notEqual(bn.scored.prob[0], plain.scored.prob[0]);
    assert.equal(bn.prior!.base, 0.5);
    assert.ok(bn.prior!.site.prior > 0 && bn.prior!.site.prior < 1);
    const withCi = summariseScoring(bn, { ci: true, nBoot: 50, details: true });
    assert.equal(withCi.adapt, "bn+prior");
    assert.ok(withCi.intervals!.auc.nValid > 0);

    await assert.rejects(
      () => scoreForSite({ ...base, runs: [join(dir, "a")], adapt: "tent" as never }),
      /not one of none, bn/,
    );
    await assert.rejects(
      () => scoreForSite({ ...base, runs: [join(dir, "a")], tta: 1, valData: join(dir, "nope") }),
      /pass --val-data DIR/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("scoreForSite: memoised scores give what scoring afresh gives, in every mode", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const data = join(dir, "data"), site = join(dir, "site");
    await writeSyntheticDataset(data, { perClass: 10, size: 40, seed: 5 });
    await writeSyntheticDataset(site, { perClass: 12, size: 40, seed: 6, splits: ["test"] });
    await writeRun(join(dir, "a"), data);
    const { records } = await discoverDataset(site);
    const base = { records, source: site, cacheDir: join(dir, "cache"), runs: [join(dir, "a")] };
    const calls = [
      ...ADAPT_MODES.map((adapt) => ({ ...base, adapt })),
      { ...base, calibrate: site },
      { ...base, adapt: "bn" as const, calibrate: site },
    ];
    const memoised = [];
    clearScoreMemo();
    for (const c of calls) memoised.push(await scoreForSite(c));
    for (const [i, c] of calls.entries()) {
      clearScoreMemo();
      assert.deepEqual(memoised[i], await scoreForSite(c), `call ${i}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
