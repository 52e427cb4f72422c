import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import sharp from "sharp";
import { initBackend } from "../../lib/backend/select.ts";
import type { SplitRecord } from "../../lib/data/types.ts";
import { loadRunImages, makeSplitData } from "../../lib/train/data.ts";
import { predictRecords, predictSplit, scoreRecords } from "../../lib/train/score.ts";

/** Mean pixel through a fixed sigmoid (scale `w`), so every image has its own score. */
function meanModel(w: number): tfl.LayersModel {
  const m = tfl.sequential();
  m.add(tfl.layers.globalAveragePooling2d({ inputShape: [8, 8, 1] }));
  m.add(tfl.layers.dense({ units: 1, activation: "sigmoid" }));
  m.layers[1].setWeights([tf.tensor2d([w], [1, 1]), tf.tensor1d([-w / 2])]);
  return m;
}

const pre = { size: 8, channels: 1 as const, scale: 1 / 255, mean: 0, std: 1 };
const IMAGE_BYTES = 8 * 8;

/** `n` grey films of distinct levels, with an unreadable file at every 5th place. */
async function films(dir: string, n: number): Promise<string[]> {
  const paths: string[] = [];
  for (let i = 0; i < n; i++) {
    const p = join(dir, `f${i}.png`);
    if (i % 5 === 3) await Deno.writeTextFile(p, "not an image");
    else {
      const g = Math.round((i * 251) / n) % 256;
      await sharp({
        create: {
          width: 16,
          height: 16,
          channels: 3,
          background: { r: g, g: g, b: (g * 7) % 256 },
        },
      }).png().toFile(p);
    }
    paths.push(p);
  }
  return paths;
}

Deno.test("predictRecords streams in chunks and scores exactly as scoring every image at once", async () => {
  await initBackend({ prefer: "cpu" });
  const dir = await Deno.makeTempDir();
  try {
    const paths = await films(dir, 23);
    const run = { model: meanModel(6), preprocessing: pre };
    const cacheDir = join(dir, "cache");
    // The reference: every image decoded into one block, scored from memory.
    const loaded = await loadRunImages(paths, { size: 8, channels: 1, cacheDir });
    const good = paths.filter((_, i) => loaded.ok[i]);
    const slot = new Map(paths.map((p, i) => [p, i]));
    const recs = good.map((p) => ({ path: p, y: 0 }) as unknown as SplitRecord);
    const split = makeSplitData(recs, 2, loaded.data, slot, IMAGE_BYTES);
    for (const perturbSeed of [undefined, 7]) {
      const whole = await predictSplit(run.model, split, pre, 2, 4, perturbSeed);
      const chunks: number[] = [];
      const streamed = await predictRecords(run, paths, {
        cacheDir,
        perturbSeed,
        batch: 4,
        chunkBytes: 3 * IMAGE_BYTES,
        onChunk: (_, count) => chunks.push(count),
      });
      assert.deepEqual(streamed.prob.filter((_, i) => loaded.ok[i]), whole, `seed ${perturbSeed}`);
      assert.ok(streamed.prob.every((p, i) => Number.isFinite(p) === loaded.ok[i]));
      assert.deepEqual(streamed.failures, loaded.failures);
      assert.deepEqual(chunks, [3, 3, 3, 3, 3, 3, 3, 2]);
      // One chunk for everything: the same again.
      const oneChunk = await predictRecords(run, paths, { cacheDir, perturbSeed, batch: 4 });
      assert.deepEqual(oneChunk.prob, streamed.prob);
      // scoreRecords keeps the pixels of every image, and agrees.
      const kept = await scoreRecords(run, paths, {
        cacheDir,
        perturbSeed,
        batch: 4,
        chunkBytes: 5 * IMAGE_BYTES,
      });
      assert.deepEqual(kept.prob, streamed.prob);
      assert.deepEqual(kept.pixels, loaded.data);
    }
    run.model.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("predictRecords holds a bounded number of decoded images, whatever their number", async () => {
  await initBackend({ prefer: "cpu" });
  const dir = await Deno.makeTempDir();
  try {
    const run = { model: meanModel(4), preprocessing: pre };
    const cacheDir = join(dir, "cache");
    const paths = await films(dir, 60);
    for (const n of [12, 60]) {
      let most = 0, chunks = 0, seen = 0;
      const r = await predictRecords(run, paths.slice(0, n), {
        cacheDir,
        chunkBytes: 8 * IMAGE_BYTES,
        onChunk: (start, count) => {
          assert.equal(start, seen, "chunks in order, none skipped");
          seen += count;
          most = Math.max(most, count);
          chunks++;
        },
      });
      assert.equal(r.prob.length, n);
      assert.equal(seen, n);
      assert.equal(most, 8, `${n} images: at most 8 decoded at once`);
      assert.equal(chunks, Math.ceil(n / 8));
    }
    run.model.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an ensemble streams member by member: the mean of the members' streamed scores", async () => {
  await initBackend({ prefer: "cpu" });
  const dir = await Deno.makeTempDir();
  try {
    const paths = await films(dir, 14);
    const cacheDir = join(dir, "cache");
    const a = { model: meanModel(3), preprocessing: pre };
    const b = { model: meanModel(9), preprocessing: pre };
    const opts = { cacheDir, batch: 4, chunkBytes: 4 * IMAGE_BYTES };
    const ens = await predictRecords({ ...a, members: [a, b] }, paths, opts);
    const pa = (await predictRecords(a, paths, opts)).prob;
    const pb = (await predictRecords(b, paths, opts)).prob;
    ens.prob.forEach((p, i) => {
      if (Number.isNaN(pa[i])) assert.ok(Number.isNaN(p));
      else assert.equal(p, (pa[i] + pb[i]) / 2);
    });
    const whole = await scoreRecords({ ...a, members: [a, b] }, paths, { cacheDir, batch: 4 });
    assert.deepEqual(whole.prob, ens.prob);
    assert.equal(ens.failures.length, 3);
    a.model.dispose();
    b.model.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
