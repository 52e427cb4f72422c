import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import "@tensorflow/tfjs-backend-cpu";
import { architectureTable, describeLayers } from "../../lib/models/describe.ts";

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
  const html = architectureTable(m, "tiny");
  assert.match(html, /data-chart="architecture"/);
  assert.match(html, /tiny: architecture \(input 16x16x1\)/);
  assert.match(html, /5 layers, 77 parameters/);
  m.dispose();
});
