/**
 * The training engine's intensity option end to end: stored in config.json and
 * preprocessing.json, applied to training and validation pixels, and by every prediction path of
 * a reloaded run; strong augmentation is a config value that trains.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { initBackend } from "../../lib/backend/select.ts";
import { scoreRecords } from "../../lib/eval/predict.ts";
import { scoreForSite } from "../../lib/eval/site_eval.ts";
import { loadImages } from "../../lib/images/cache.ts";
import { equalizeInPlace } from "../../lib/images/intensity.ts";
import { writeSyntheticDataset } from "../../lib/data/synthetic.ts";
import {
  intensityOf,
  resolveConfig,
  sameConfig,
  type TrainConfig,
} from "../../lib/train/config.ts";
import { loadTrainData } from "../../lib/train/data.ts";
import { loadRun, predictRecords } from "../../lib/train/run.ts";
import { train } from "../../lib/train/train.ts";
import { readJson } from "../../lib/util/atomic.ts";

await initBackend();
const SIZE = 32;

Deno.test("config: intensity and augmentation default, validate, and old configs still match", () => {
  const c = resolveConfig({ model: "compact", data: "d" });
  assert.equal(c.intensity, "none");
  assert.equal(c.augmentation, "standard");
  assert.throws(
    () => resolveConfig({ model: "compact", data: "d", intensity: "gamma" as "clahe" }),
    /run "compact-s42": intensity "gamma" is not one of none, standardize, equalize, clahe/,
  );
  assert.throws(
    () => resolveConfig({ model: "compact", data: "d", augmentation: "wild" as "strong" }),
    /augmentation "wild"/,
  );
  const { intensity: _, augmentation: __, ...old } = c;
  assert.equal(intensityOf(old as TrainConfig), "none");
  assert.ok(sameConfig(old as TrainConfig, c));
  assert.ok(!sameConfig(old as TrainConfig, { ...c, intensity: "equalize" }));
  assert.ok(!sameConfig(old as TrainConfig, { ...c, augmentation: "strong" }));
});

Deno.test({
  name:
    "intensity equalize: training pixels equalised, stored, and applied by every prediction path",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "intensity_engine_" });
    try {
      const data = join(tmp, "data");
      await writeSyntheticDataset(data, { perClass: 8, size: 48, seed: 12 });
      const cfg = resolveConfig({
        model: "compact",
        data,
        out: join(tmp, "run"),
        outputsDir: join(tmp, "outputs"),
        size: SIZE,
        batchSize: 8,
        epochs: 1,
        seed: 3,
        intensity: "equalize",
        augmentation: "strong",
      });
      const cacheDir = join(tmp, "outputs", "cache", "images");
      const d = await loadTrainData(cfg);
      const r0 = d.train.records[0];
      const raw = (await loadImages([r0.path], { size: SIZE, channels: 1, cacheDir })).data;
      equalizeInPlace(raw);
      const s0 = d.train.slot[0];
      assert.deepEqual(d.train.pixels.subarray(s0 * SIZE * SIZE, (s0 + 1) * SIZE * SIZE), raw);

      await train(cfg, { log: () => {} });
      const pre = await readJson<Record<string, unknown>>(join(cfg.out, "preprocessing.json"));
      assert.equal(pre.intensity, "equalize");
      const saved = await readJson<TrainConfig>(join(cfg.out, "config.json"));
      assert.equal(saved.augmentation, "strong");
      const run = await loadRun(cfg.out);
      assert.equal(run.preprocessing.intensity, "equalize");
      const rows = (await Deno.readTextFile(join(cfg.out, "val_predictions.csv"))).trim()
        .split("\n").slice(1).map((l) => l.split(","));
      const paths = d.val.records.map((r) => r.path);
      const inMemory = rows.map((r) => Number(r[3]));
      const viaRun = await predictRecords(run, paths, { cacheDir });
      const viaEval = await scoreRecords(run, paths, { cacheDir });
      run.model.dispose();
      const viaSite = await scoreForSite({
        runs: [cfg.out],
        records: d.val.records,
        source: "val",
        cacheDir,
      });
      inMemory.forEach((p, i) => {
        assert.ok(Math.abs(viaRun.prob[i] - p) < 1e-5, `predictRecords ${i}`);
        assert.ok(Math.abs(viaEval.prob[i] - p) < 1e-5, `scoreRecords ${i}`);
        assert.ok(Math.abs(viaSite.scored.prob[i] - p) < 1e-5, `scoreForSite ${i}`);
      });
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
