/** Saving and loading models on disk: one weights.bin, or 4 MiB shards for a larger model. */
import assert from "node:assert/strict";
import { join } from "node:path";
import * as tfl from "@tensorflow/tfjs-layers";
import { initBackend } from "../../lib/backend/select.ts";
import { loadModel, saveModel, weightFileNames } from "../../lib/models/io.ts";

Deno.test("weightFileNames: one file up to 4 MiB, numbered shards above", () => {
  assert.deepEqual(weightFileNames(100), ["weights.bin"]);
  assert.deepEqual(weightFileNames(4 * 1024 * 1024), ["weights.bin"]);
  assert.deepEqual(weightFileNames(4 * 1024 * 1024 + 1), [
    "weights-shard1of2.bin",
    "weights-shard2of2.bin",
  ]);
  assert.deepEqual(weightFileNames(0), ["weights.bin"]);
});

Deno.test("a model over 4 MiB is saved in shards of at most 4 MiB and loads back identical", async () => {
  await initBackend({ prefer: "cpu" });
  const dir = await Deno.makeTempDir({ prefix: "test_io_" });
  try {
    // 1,100 x 1,000 float32 kernel + bias: 4,404,000 bytes, two shards.
    const m = tfl.sequential({
      layers: [tfl.layers.dense({ inputShape: [1100], units: 1000 })],
    });
    await saveModel(m, dir);
    const files = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assert.deepEqual(files, ["model.json", "weights-shard1of2.bin", "weights-shard2of2.bin"]);
    assert.equal(Deno.statSync(join(dir, "weights-shard1of2.bin")).size, 4 * 1024 * 1024);
    const back = await loadModel(dir);
    const [a, b] = [m.getWeights(), back.getWeights()];
    assert.equal(a.length, b.length);
    for (let i = 0; i < a.length; i++) {
      assert.deepEqual(await b[i].data(), await a[i].data());
    }
    // A small model keeps the single weights.bin.
    const small = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [4], units: 1 })] });
    const d2 = join(dir, "small");
    await Deno.mkdir(d2);
    await saveModel(small, d2);
    assert.deepEqual([...Deno.readDirSync(d2)].map((e) => e.name).sort(), [
      "model.json",
      "weights.bin",
    ]);
    m.dispose();
    back.dispose();
    small.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
