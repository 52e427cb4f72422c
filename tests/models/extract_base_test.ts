import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { initBackend } from "../../lib/backend/select.ts";
import { extractBase, readBaseInfo } from "../../lib/models/extract_base.ts";
import { loadModel, saveModel } from "../../lib/models/io.ts";
import { readJson } from "../../lib/util/atomic.ts";

await initBackend();

Deno.test("extract_base cuts a pretrained model, re-sizes its input and keeps its weights", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const inp = tfl.input({ shape: [16, 16, 3] });
    const c = tfl.layers.conv2d({ filters: 4, kernelSize: 3, name: "trunk_conv" }).apply(inp);
    const f = tfl.layers.flatten().apply(c);
    const out = tfl.layers.dense({ units: 2 }).apply(f) as tfl.SymbolicTensor;
    const full = tfl.model({ inputs: inp, outputs: out });
    await saveModel(full, join(tmp, "full"));
    await extractBase(join(tmp, "full"), join(tmp, "base"), {
      layer: "trunk_conv",
      size: 24,
      scaling: { scale: 1 / 127.5, mean: 1, std: 1 },
      description: "tiny test trunk",
    });
    const base = await loadModel(join(tmp, "base"));
    assert.deepEqual(base.inputs[0].shape, [null, 24, 24, 3]);
    assert.deepEqual(base.outputs[0].shape, [null, 4]);
    const kOrig = full.getLayer("trunk_conv").getWeights()[0].dataSync();
    const kBase = base.weights.find((w) => w.originalName.includes("trunk_conv/kernel"))!.read()
      .dataSync();
    assert.deepEqual(Array.from(kBase), Array.from(kOrig));
    const x = tf.ones([1, 24, 24, 3]);
    assert.equal((base.predict(x) as tf.Tensor).shape[1], 4);
    assert.deepEqual(await readJson(join(tmp, "base", "preprocessing.json")), {
      size: 24,
      channels: 3,
      scale: 1 / 127.5,
      mean: 1,
      std: 1,
    });
    const info = await readBaseInfo(join(tmp, "base"));
    assert.equal(info?.description, "tiny test trunk");
    assert.equal(info?.layer, "trunk_conv");
    assert.equal((await readBaseInfo(join(tmp, "base", "model.json")))?.size, 24);
    assert.equal(await readBaseInfo(join(tmp, "full")), null);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
