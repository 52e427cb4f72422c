import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { initBackend } from "../../lib/backend/select.ts";
import { writeSyntheticDataset } from "../../lib/data/synthetic.ts";
import { calibrateSiteFolder } from "../../lib/eval/site_folder.ts";
import { formatSiteCalibration } from "../../lib/eval/site_calibration.ts";
import { writeRunFolder } from "./_run_folder.ts";

/** A run folder by hand: a mean-brightness model with a stored threshold of 0.01. */
async function writeRun(dir: string): Promise<void> {
  const m = tfl.sequential();
  m.add(tfl.layers.globalAveragePooling2d({ inputShape: [32, 32, 1] }));
  m.add(tfl.layers.dense({ units: 1, activation: "sigmoid" }));
  m.layers[1].setWeights([tf.tensor2d([20], [1, 1]), tf.tensor1d([-8])]);
  await writeRunFolder(dir, m, { threshold: 0.01 });
}

Deno.test("calibrateSiteFolder scores a site folder and re-picks the threshold", async () => {
  await initBackend({ prefer: "cpu" });
  const dir = await Deno.makeTempDir();
  try {
    await writeRun(join(dir, "run"));
    await writeSyntheticDataset(join(dir, "site"), {
      perClass: 30,
      size: 48,
      seed: 3,
      layout: "flat",
    });
    await Deno.writeTextFile(join(dir, "site", "NORMAL", "IM-9999-0001.jpeg"), "broken");
    const res = await calibrateSiteFolder(join(dir, "run"), join(dir, "site"), {
      sampleSize: 20,
      seed: 1,
      nBoot: 50,
      cacheDir: join(dir, "cache"),
    });
    assert.equal(res.originalThreshold, 0.01);
    assert.equal(res.skipped.length, 1);
    assert.equal(res.sample.n + res.rest.n, 60);
    assert.ok(res.sample.n >= 20 && res.sample.n <= 24, `sample ${res.sample.n}`);
    assert.equal(res.policy, "sensitivity >= 0.95");
    assert.ok(res.newThreshold > res.originalThreshold, `new threshold ${res.newThreshold}`);
    assert.match(formatSiteCalibration(res), /threshold 0\.0100 -> /);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
