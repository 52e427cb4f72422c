/**
 * The training engine's chest-region option end to end: the data path crops or masks what the
 * model sees, the mode is stored in preprocessing.json, and a reloaded run predicts as in memory.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { initBackend } from "../../lib/backend/select.ts";
import { applyChestRegion, boxPixels } from "../../lib/images/chest_region.ts";
import { predictRecords, scoreRecords } from "../../lib/train/score.ts";
import { writeSyntheticDataset } from "../../lib/data/synthetic.ts";
import { loadImages } from "../../lib/images/cache.ts";
import { resolveConfig } from "../../lib/train/config.ts";
import { loadTrainData } from "../../lib/train/data.ts";
import { loadRun, readRunChestRegion } from "../../lib/train/run.ts";
import { train } from "../../lib/train/train.ts";
import { readJson, writeJsonAtomic } from "../../lib/util/atomic.ts";

await initBackend();
const quiet = () => {};
const SIZE = 32;

/** Bytes of image `i` outside the chest box that are not zero. */
function nonZeroOutside(pixels: Uint8Array, i: number, size: number): number {
  const [left, top, width, height] = boxPixels(size);
  let n = 0;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const inside = x >= left && x < left + width && y >= top && y < top + height;
      if (!inside && pixels[i * size * size + y * size + x] !== 0) n++;
    }
  }
  return n;
}

async function withDataset(fn: (tmp: string, data: string) => Promise<void>) {
  const tmp = await Deno.makeTempDir({ prefix: "chest_engine_" });
  try {
    const data = join(tmp, "data");
    await writeSyntheticDataset(data, { perClass: 8, size: 48, seed: 11 });
    await fn(tmp, data);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

const config = (tmp: string, data: string, name: string, chestRegion: "none" | "crop" | "mask") =>
  resolveConfig({
    model: "compact",
    data,
    out: join(tmp, name),
    outputsDir: join(tmp, "outputs"),
    size: SIZE,
    batchSize: 8,
    epochs: 1,
    seed: 3,
    chestRegion,
  });

Deno.test("chestRegion mask: the engine's data path hands training and validation masked pixels", async () => {
  await withDataset(async (tmp, data) => {
    const cache = join(tmp, "outputs", "cache", "images");
    const d = await loadTrainData(config(tmp, data, "m", "mask"));
    for (const split of [d.train, d.val]) {
      assert.ok(split.records.length > 0);
      split.records.forEach((r, i) => {
        const s = split.slot[i];
        assert.equal(nonZeroOutside(split.pixels, s, SIZE), 0, `${r.relPath} masked`);
      });
    }
    // Inside the box the pixels are the loaded image's, untouched; the cache itself is unchanged.
    const r0 = d.train.records[0];
    const raw = (await loadImages([r0.path], { size: SIZE, channels: 1, cacheDir: cache })).data;
    assert.ok(nonZeroOutside(raw, 0, SIZE) > 0, "the synthetic image has content outside the box");
    const s0 = d.train.slot[0];
    assert.deepEqual(
      d.train.pixels.subarray(s0 * SIZE * SIZE, (s0 + 1) * SIZE * SIZE),
      await applyChestRegion(raw, SIZE, 1, "mask"),
    );
    const none = await loadTrainData(config(tmp, data, "n", "none"));
    assert.ok(nonZeroOutside(none.train.pixels, none.train.slot[0], SIZE) > 0);
  });
});

Deno.test({
  name: "chestRegion crop: stored in preprocessing.json; a reloaded run predicts as in memory",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withDataset(async (tmp, data) => {
      const cfg = config(tmp, data, "crop", "crop");
      const res = await train(cfg, { log: quiet });
      assert.equal(res.config.chestRegion, "crop");
      const pre = await readJson<Record<string, unknown>>(join(cfg.out, "preprocessing.json"));
      assert.equal(pre.chestRegion, "crop");
      assert.equal(
        (await readJson<{ chestRegion: string }>(join(cfg.out, "config.json"))).chestRegion,
        "crop",
      );

      // In-memory predictions of the kept model on the (cropped) validation images.
      const rows = (await Deno.readTextFile(join(cfg.out, "val_predictions.csv"))).trim()
        .split("\n").slice(1).map((l) => l.split(","));
      const manifest = await loadTrainData(cfg);
      const paths = manifest.val.records.map((r) => r.path);
      assert.deepEqual(manifest.val.records.map((r) => r.relPath), rows.map((r) => r[0]));
      const inMemory = rows.map((r) => Number(r[3]));

      const run = await loadRun(cfg.out);
      assert.equal(run.preprocessing.chestRegion, "crop");
      const cacheDir = join(tmp, "outputs", "cache", "images");
      const viaRun = await predictRecords(run, paths, { cacheDir });
      const viaEval = await scoreRecords(run, paths, { cacheDir });
      inMemory.forEach((p, i) => {
        assert.ok(
          Math.abs(viaRun.prob[i] - p) < 1e-5,
          `predictRecords ${i}: ${viaRun.prob[i]} vs ${p}`,
        );
        assert.ok(
          Math.abs(viaEval.prob[i] - p) < 1e-5,
          `scoreRecords ${i}: ${viaEval.prob[i]} vs ${p}`,
        );
      });
      // The crop really is applied on the way in: without it the scores differ.
      const uncropped = await scoreRecords(run, paths, { cacheDir, chestRegion: "none" });
      assert.ok(uncropped.prob.some((p, i) => Math.abs(p - inMemory[i]) > 1e-4));
      // A mask run's pixels reach the model masked in the evaluation path too.
      const masked = await scoreRecords(
        { model: run.model, preprocessing: { ...run.preprocessing, chestRegion: "mask" } },
        paths.slice(0, 2),
        { cacheDir },
      );
      assert.equal(
        nonZeroOutside(masked.pixels, 0, SIZE) + nonZeroOutside(masked.pixels, 1, SIZE),
        0,
      );
      run.model.dispose();

      // Old runs: no field means "none"; chapter 13's former chest_region.json is still honoured.
      const old = join(tmp, "old");
      await writeJsonAtomic(join(old, "preprocessing.json"), {
        size: SIZE,
        channels: 1,
        scale: 1 / 255,
        mean: 0,
        std: 1,
      });
      assert.equal(await readRunChestRegion(old), "none");
      await writeJsonAtomic(join(old, "chest_region.json"), { mode: "crop" });
      assert.equal(await readRunChestRegion(old), "crop");
    });
  },
});
