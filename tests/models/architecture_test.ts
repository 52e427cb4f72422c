import assert from "node:assert/strict";
import * as tfl from "@tensorflow/tfjs-layers";
import { initBackend } from "../../lib/backend/select.ts";
import { saveModel } from "../../lib/models/io.ts";
import { transfer, transferSpec } from "../../lib/models/transfer.ts";
import { cnn, cnnSpec } from "../../lib/models/cnn.ts";
import { cnnReg, cnnRegSpec } from "../../lib/models/cnn_reg.ts";
import { compact, compactSpec } from "../../lib/models/compact.ts";
import { denseBaseline, denseSpec } from "../../lib/models/dense_baseline.ts";
import {
  createModel,
  describeModel,
  listModels,
  registerModel,
} from "../../lib/models/registry.ts";
import type { ModelSpec } from "../../lib/models/types.ts";

await initBackend({ prefer: "cpu" });

const filtersOf = async (name: string, size: number) => {
  const m = await createModel(name, { size, seed: 1 });
  const f = m.layers.filter((l) => l.getClassName() === "Conv2D").map((l) => l.getConfig().filters);
  m.dispose();
  return f;
};

Deno.test("the family builders with no change build the registered seed models, same weights", async () => {
  const pairs: [ModelSpec, ModelSpec, number][] = [
    [cnn, cnnSpec(), 48],
    [cnnReg, cnnRegSpec(), 48],
    [compact, compactSpec(), 32],
    [denseBaseline, denseSpec(), 16],
  ];
  for (const [a, b, size] of pairs) {
    assert.equal(b.name, a.name);
    assert.equal(b.description, a.description);
    assert.equal(b.minSize, a.minSize, `${a.name}: minSize`);
    const opts = { size, channels: a.channels, seed: 3, classes: 2 as const };
    const [ma, mb] = [await a.build(opts), await b.build(opts)];
    const wa = ma.getWeights().map((w) => Array.from(w.dataSync()));
    const wb = mb.getWeights().map((w) => Array.from(w.dataSync()));
    assert.deepEqual(wb, wa, `${a.name}: same initial weights`);
    ma.dispose(), mb.dispose();
  }
});

Deno.test("registerModel replaces a model of the same name (a notebook cell run twice)", async () => {
  const before = listModels().length;
  try {
    registerModel(cnnSpec({ name: "cnn", filters: [8, 8] }));
    registerModel(cnnSpec({ name: "cnn", filters: [6] }));
    assert.equal(listModels().length, before);
    assert.deepEqual(await filtersOf("cnn", 24), [6]);
    assert.throws(() => registerModel({ name: "x" } as ModelSpec), /build\(\) function/);
  } finally {
    registerModel(cnn);
  }
  assert.deepEqual(await filtersOf("cnn", 48), [64, 32, 20]);
});

Deno.test("edited architectures: their own layer sizes and minimum input", () => {
  assert.equal(cnnSpec({ filters: [8, 8] }).minSize, 10);
  assert.equal(cnnRegSpec({ filters: [8, 8, 8, 8, 8] }).minSize, 94);
  assert.equal(compactSpec({ filters: [8, 8, 8] }).minSize, 4);
  assert.match(denseSpec({ name: "d2", units: [4] }).description, /Dense 4-1/);
});

Deno.test("describeModel: the layer table of a registered model at an input shape", async () => {
  const html = await describeModel("cnn", [24, 24, 3]);
  assert.match(html, /<caption>cnn \(24x24x3\): Seed notebook&#39;s CNN/);
  assert.match(html, /9 layers, 27,797 parameters/);
  assert.equal((html.match(/<tr>/g) ?? []).length, 10);
  await assert.rejects(describeModel("nope"), /Unknown model "nope"; known models/);
});

Deno.test("transferSpec: the seed's head by default, another head when asked", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const base = tfl.sequential();
    base.add(tfl.layers.conv2d({ filters: 2, kernelSize: 3, inputShape: [16, 16, 3] }));
    await saveModel(base, tmp);
    const units = async (spec: ModelSpec) => {
      const m = await spec.build({ size: 16, channels: 3, seed: 1, classes: 2, basePath: tmp });
      const u = m.layers.filter((l) => l.getClassName() === "Dense").map((l) =>
        l.getConfig().units
      );
      m.dispose();
      return u;
    };
    assert.deepEqual(await units(transfer), [82, 64, 1]);
    assert.deepEqual(await units(transferSpec({ name: "t2", head: [4] })), [4, 1]);
    assert.equal(transferSpec().description, transfer.description);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
