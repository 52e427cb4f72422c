import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { initBackend } from "../../lib/backend/select.ts";
import { loadModel, saveModel } from "../../lib/models/io.ts";
import {
  createModel,
  getModelSpec,
  listModels,
  preprocessingFor,
} from "../../lib/models/registry.ts";
import { checkInputRange, checkInputShape } from "../../lib/models/preprocessing.ts";

await initBackend();

/** Tiny sizes each architecture accepts, to keep the test fast. */
const TINY: Record<string, number> = {
  dense_baseline: 16,
  cnn: 24,
  cnn_reg: 48,
  transfer: 16,
  compact: 32,
  finetune: 32,
};

async function tinyBase(dir: string): Promise<string> {
  const base = tfl.sequential();
  base.add(
    tfl.layers.conv2d({ filters: 4, kernelSize: 3, activation: "relu", inputShape: [16, 16, 3] }),
  );
  base.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
  await saveModel(base, dir);
  return dir;
}

Deno.test("transfer keeps its frozen base in inference mode while the head trains", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const base = tfl.sequential();
    base.add(tfl.layers.conv2d({ filters: 4, kernelSize: 3, inputShape: [16, 16, 3] }));
    base.add(tfl.layers.batchNormalization({}));
    await saveModel(base, join(tmp, "b"));
    const m = await createModel("transfer", { size: 16, basePath: join(tmp, "b") });
    const frozen = m.layers.find((l) => l.getClassName() === "Sequential")!;
    const before = frozen.getWeights().map((w) => w.dataSync().slice());
    const x = tf.randomUniform([4, 16, 16, 3], 0, 1, "float32", 1);
    m.compile({ optimizer: "adam", loss: "binaryCrossentropy" });
    await m.trainOnBatch(x, tf.tensor2d([0, 1, 0, 1], [4, 1]));
    const after = frozen.getWeights().map((w) => w.dataSync());
    before.forEach((b, i) => assert.deepEqual(Array.from(after[i]), Array.from(b)));
    const pTrain = (m.apply(x, { training: true }) as tf.Tensor).dataSync();
    const pInfer = (m.predict(x) as tf.Tensor).dataSync();
    assert.deepEqual(Array.from(pTrain), Array.from(pInfer));
    m.dispose();
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("transfer takes a base that ends pooled (2-D output) without a flatten", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const base = tfl.sequential();
    base.add(tfl.layers.conv2d({ filters: 4, kernelSize: 3, inputShape: [16, 16, 3] }));
    base.add(tfl.layers.globalAveragePooling2d({}));
    await saveModel(base, join(tmp, "b"));
    const m = await createModel("transfer", { size: 16, basePath: join(tmp, "b") });
    assert.deepEqual(m.outputs[0].shape, [null, 1]);
    assert.ok(!m.layers.some((l) => l.getClassName() === "Flatten"));
    m.dispose();
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

/** A base shaped like MobileNetV2's end: a frozen block, then layers finetune trains. */
async function tinyFinetuneBase(dir: string): Promise<string> {
  const base = tfl.sequential();
  base.add(tfl.layers.conv2d({
    filters: 4,
    kernelSize: 3,
    inputShape: [32, 32, 3],
    name: "block_14_expand",
  }));
  base.add(tfl.layers.batchNormalization({ name: "block_15_expand_BN" }));
  base.add(tfl.layers.conv2d({ filters: 4, kernelSize: 1, name: "Conv_1" }));
  base.add(tfl.layers.globalAveragePooling2d({ name: "base_gap" }));
  await saveModel(base, dir);
  return dir;
}

Deno.test("finetune trains the top layers only; the base's batch norm keeps its statistics", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const m = await createModel("finetune", {
      size: 32,
      seed: 2,
      basePath: await tinyFinetuneBase(join(tmp, "b")),
    });
    const names = m.trainableWeights.map((w) => w.originalName);
    assert.ok(names.some((n) => n.startsWith("Conv_1")), names.join());
    assert.ok(names.some((n) => n.startsWith("block_15_expand_BN/gamma")), names.join());
    assert.ok(!names.some((n) => n.startsWith("block_14")), names.join());
    const byName = (n: string) => m.weights.find((w) => w.originalName.startsWith(n))!;
    const frozen = byName("block_14_expand/kernel").read().dataSync().slice();
    const movingMean = byName("block_15_expand_BN/moving_mean").read().dataSync().slice();
    m.compile({ optimizer: tf.train.adam(0.05), loss: "binaryCrossentropy" });
    const x = tf.randomUniform([4, 32, 32, 3], 0, 1, "float32", 1);
    await m.trainOnBatch(x, tf.tensor2d([0, 1, 0, 1], [4, 1]));
    assert.deepEqual(byName("block_14_expand/kernel").read().dataSync(), frozen);
    assert.deepEqual(byName("block_15_expand_BN/moving_mean").read().dataSync(), movingMean);
    m.dispose();
    const plain = tfl.sequential();
    plain.add(tfl.layers.conv2d({ filters: 2, kernelSize: 3, inputShape: [32, 32, 3] }));
    await saveModel(plain, join(tmp, "plain"));
    await assert.rejects(
      createModel("finetune", { size: 32, basePath: join(tmp, "plain") }),
      /has no layer named block_15_, block_16_, Conv_1/,
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("registry lists the six models and rejects unknown names with the list", () => {
  assert.deepEqual(listModels().map((m) => m.name).sort(), [
    "cnn",
    "cnn_reg",
    "compact",
    "dense_baseline",
    "finetune",
    "transfer",
  ]);
  assert.throws(() => getModelSpec("resnet"), /Unknown model "resnet"; known models: .*compact/);
});

Deno.test("compact stays small: grayscale, under 300k parameters", async () => {
  const m = await createModel("compact", { seed: 1 });
  assert.deepEqual(m.inputs[0].shape, [null, 128, 128, 1]);
  assert.ok(m.countParams() < 300_000, `compact has ${m.countParams()} params`);
  m.dispose();
});

Deno.test("seed architectures have the notebook's layers", async () => {
  const dense = await createModel("dense_baseline", { size: 150, seed: 1 });
  assert.deepEqual(
    dense.layers.filter((l) => l.getClassName() === "Dense").map((l) => l.getConfig().units),
    [15, 8, 5, 1],
  );
  const reg = await createModel("cnn_reg", { size: 150, seed: 1 });
  assert.deepEqual(
    reg.layers.filter((l) => l.getClassName() === "Conv2D").map((l) => l.getConfig().filters),
    [64, 32, 32, 20],
  );
  assert.equal(reg.layers.filter((l) => l.getClassName() === "Dropout").length, 3);
  dense.dispose();
  reg.dispose();
});

Deno.test("a size below the architecture's minimum is refused with the minimum", async () => {
  await assert.rejects(createModel("cnn_reg", { size: 20 }), /needs an integer input size >= 46/);
});

Deno.test("transfer without a base explains how to provide one", async () => {
  const prev = Deno.env.get("XRAY_TRANSFER_BASE");
  Deno.env.delete("XRAY_TRANSFER_BASE");
  try {
    await assert.rejects(createModel("transfer"), /tensorflowjs_converter/);
    await assert.rejects(
      createModel("transfer", { basePath: "/nonexistent/base" }),
      /Cannot read a TF.js model at \/nonexistent\/base\/model.json/,
    );
  } finally {
    if (prev) Deno.env.set("XRAY_TRANSFER_BASE", prev);
  }
});

Deno.test("input checks say what the model expected", () => {
  const pre = preprocessingFor("compact", { size: 64 });
  assert.throws(() => checkInputShape(pre, [2, 64, 64, 3]), /expects \[n, 64, 64, 1\].*grayscale/);
  checkInputShape(pre, [2, 64, 64, 1]);
  assert.throws(() => checkInputRange(pre, [0, 255]), /scaled twice or not at all/);
  checkInputRange(pre, [0, 0.5, 1]);
});

for (const { name, channels } of listModels()) {
  Deno.test(`${name}: builds, trains a step, saves and reloads with identical predictions`, async () => {
    const tmp = await Deno.makeTempDir();
    try {
      const size = TINY[name];
      const basePath = name === "transfer"
        ? await tinyBase(join(tmp, "base"))
        : name === "finetune"
        ? await tinyFinetuneBase(join(tmp, "base"))
        : undefined;
      const model = await createModel(name, { size, channels, seed: 3, basePath });
      const x = tf.randomUniform([4, size, size, channels], 0, 1, "float32", 5);
      const y = tf.tensor2d([0, 1, 0, 1], [4, 1]);
      model.compile({ optimizer: tf.train.adam(0.01), loss: "binaryCrossentropy" });
      const before = model.trainableWeights.map((w) => w.read().dataSync().slice());
      const loss = await model.trainOnBatch(x, y);
      assert.ok(Number.isFinite(loss as number), `loss ${loss}`);
      const after = model.trainableWeights.map((w) => w.read().dataSync());
      assert.ok(before.some((b, i) => b.some((v, j) => v !== after[i][j])), "weights changed");
      if (name === "transfer") {
        const frozen = model.layers.find((l) => l.getClassName() === "Sequential")!;
        assert.equal(frozen.trainable, false);
      }
      await saveModel(model, join(tmp, "m"));
      const back = await loadModel(join(tmp, "m"));
      const p1 = (model.predict(x) as tf.Tensor).dataSync();
      const p2 = (back.predict(x) as tf.Tensor).dataSync();
      assert.deepEqual(Array.from(p2), Array.from(p1));
      model.dispose();
      back.dispose();
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  });
}
