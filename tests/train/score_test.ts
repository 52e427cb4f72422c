import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import sharp from "sharp";
import { initBackend } from "../../lib/backend/select.ts";
import type { SplitRecord } from "../../lib/data/types.ts";
import { loadRunImages, makeSplitData } from "../../lib/train/data.ts";
import { predictRecords, predictSplit, scoreRecords } from "../../lib/train/score.ts";

/** A model whose output is known: mean pixel (in [0, 1]) through a fixed sigmoid or softmax. */
function meanModel(units: 1 | 3): tfl.LayersModel {
  const m = tfl.sequential();
  m.add(tfl.layers.globalAveragePooling2d({ inputShape: [8, 8, 1] }));
  m.add(tfl.layers.dense({ units, activation: units === 1 ? "sigmoid" : "softmax" }));
  const w = units === 1 ? [10] : [0, 10, 20];
  const b = units === 1 ? [-5] : [0, 0, 0];
  m.layers[1].setWeights([tf.tensor2d(w, [1, units]), tf.tensor1d(b)]);
  return m;
}

Deno.test("scoreRecords returns every output, P(pneumonia), pixels and failures", async () => {
  await initBackend({ prefer: "cpu" });
  const dir = await Deno.makeTempDir();
  try {
    const white = join(dir, "white.png"), black = join(dir, "black.png");
    const bad = join(dir, "bad.png");
    await sharp({ create: { width: 16, height: 16, channels: 3, background: "#fff" } }).png()
      .toFile(white);
    await sharp({ create: { width: 16, height: 16, channels: 3, background: "#000" } }).png()
      .toFile(black);
    await Deno.writeTextFile(bad, "nope");
    const pre = { size: 8, channels: 1 as const, scale: 1 / 255, mean: 0, std: 1 };
    const one = await scoreRecords({ model: meanModel(1), preprocessing: pre }, [
      white,
      { path: black },
      bad,
    ], { cacheDir: join(dir, "cache") });
    assert.equal(one.units, 1);
    assert.ok(Math.abs(one.prob[0] - 1 / (1 + Math.exp(-5))) < 1e-5); // sigmoid(10 * 1 - 5)
    assert.ok(Math.abs(one.prob[1] - 1 / (1 + Math.exp(5))) < 1e-5); // sigmoid(-5)
    assert.ok(Number.isNaN(one.prob[2]));
    assert.deepEqual(one.ok, [true, true, false]);
    assert.equal(one.failures.length, 1);
    assert.equal(one.pixels.length, 3 * 64);
    assert.equal(one.pixels[0], 255);
    const three = await scoreRecords({ model: meanModel(3), preprocessing: pre }, [black], {
      cacheDir: join(dir, "cache"),
    });
    assert.equal(three.units, 3);
    // black: logits all 0 -> softmax 1/3 each; P(pneumonia) = 1 - P(normal) = 2/3
    assert.ok(Math.abs(three.prob[0] - 2 / 3) < 1e-5);
    assert.equal(three.outputs.length, 3);
    // masked to the chest box: white image keeps 0.56 of its area white -> mean 0.56
    const masked = await scoreRecords({ model: meanModel(1), preprocessing: pre }, [white], {
      cacheDir: join(dir, "cache"),
      chestRegion: "mask",
    });
    const whiteShare = masked.pixels.filter((v) => v === 255).length / 64;
    assert.ok(whiteShare > 0.4 && whiteShare < 0.7, `white share ${whiteShare}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("files and in-memory splits go through one scoring loop: same P, perturbed or not", async () => {
  await initBackend({ prefer: "cpu" });
  const dir = await Deno.makeTempDir();
  try {
    const paths: string[] = [];
    for (const [i, grey] of [40, 120, 200].entries()) {
      const p = join(dir, `g${i}.png`);
      await sharp({
        create: { width: 16, height: 16, channels: 3, background: { r: grey, g: grey, b: grey } },
      })
        .png().toFile(p);
      paths.push(p);
    }
    const pre = { size: 8, channels: 1 as const, scale: 1 / 255, mean: 0, std: 1 };
    const run = { model: meanModel(1), preprocessing: pre };
    const cacheDir = join(dir, "cache");
    const loaded = await loadRunImages(paths, { size: 8, channels: 1, cacheDir });
    const recs = paths.map((p) => ({ path: p, y: 0 }) as unknown as SplitRecord);
    const split = makeSplitData(recs, 2, loaded.data, new Map(paths.map((p, i) => [p, i])), 64);
    for (const perturbSeed of [undefined, 7]) {
      const files = await predictRecords(run, paths, { cacheDir, perturbSeed, batch: 2 });
      const inMemory = await predictSplit(run.model, split, pre, 2, 2, perturbSeed);
      assert.deepEqual(files.prob, inMemory, `perturbSeed ${perturbSeed}`);
    }
    const clean = await predictRecords(run, paths, { cacheDir });
    const perturbed = await predictRecords(run, paths, { cacheDir, perturbSeed: 7 });
    assert.notDeepEqual(clean.prob, perturbed.prob, "the perturbation changes the scores");
    run.model.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
