import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import "@tensorflow/tfjs-backend-cpu";
import { join } from "node:path";
import { describeLayers, pythonicToTs, savedModelLayers } from "../../lib/models/describe.ts";
import { saveModel } from "../../lib/models/io.ts";
import { createModel, listModels } from "../../lib/models/registry.ts";

Deno.test("describeLayers names layers for people: kind, number, what they do, shapes", async () => {
  await tf.setBackend("cpu");
  const m = tfl.sequential();
  m.add(
    tfl.layers.conv2d({
      filters: 4,
      kernelSize: 3,
      strides: 2,
      activation: "relu",
      inputShape: [16, 16, 1],
    }),
  );
  m.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
  m.add(tfl.layers.dropout({ rate: 0.3 }));
  m.add(tfl.layers.flatten());
  m.add(tfl.layers.dense({ units: 1, activation: "sigmoid" }));
  const d = describeLayers(m);
  assert.deepEqual(d.map((l) => [l.name, l.detail, l.outputShape, l.params]), [
    ["conv 1", "4 filters 3x3, stride 2, relu", "7x7x4", 40],
    ["max pool 1", "2x2", "3x3x4", 0],
    ["dropout 1", "rate 0.3", "3x3x4", 0],
    ["flatten", "", "36", 0],
    ["dense 1", "1 unit, sigmoid", "1", 37],
  ]);
  m.dispose();
});

Deno.test("savedModelLayers rebuilds every registered model's layers from model.json alone", async () => {
  await tf.setBackend("cpu");
  const dir = await Deno.makeTempDir();
  try {
    for (const { name } of listModels().filter((m) => m.name !== "transfer")) {
      const m = await createModel(name, { size: 64 });
      await saveModel(m, join(dir, name));
      const fromFile = savedModelLayers(join(dir, name));
      assert.deepEqual(fromFile, describeLayers(m), name);
      m.dispose();
    }
    assert.throws(() => savedModelLayers(join(dir, "missing")), /missing/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pythonicToTs: keys and values to camelCase, names and node references kept", () => {
  assert.deepEqual(
    pythonicToTs({
      class_name: "Conv2D",
      config: { name: "conv_a", data_format: "channels_last" },
      inbound_nodes: [["conv_a", 0, 0, {}]],
    }),
    {
      className: "Conv2D",
      config: { name: "conv_a", dataFormat: "channelsLast" },
      inboundNodes: [["conv_a", 0, 0, {}]],
    },
  );
});
