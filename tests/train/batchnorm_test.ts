import assert from "node:assert/strict";
import * as tfl from "@tensorflow/tfjs-layers";
import { initBackend } from "../../lib/backend/select.ts";
import { preprocessingFor } from "../../lib/models/registry.ts";
import { recalibrateBatchNorm } from "../../lib/train/batchnorm.ts";
import { tinyData } from "./_fixtures.ts";

await initBackend();

Deno.test("batch-norm statistics move to the clean images' statistics; weights stay", () => {
  const data = tinyData(64, 8, 1);
  const m = tfl.sequential();
  m.add(tfl.layers.batchNormalization({ inputShape: [8, 8, 1], momentum: 0.5 }));
  const pre = preprocessingFor("compact", { size: 8 });
  const n = recalibrateBatchNorm(m, data.train, pre, 16, 1, 30);
  assert.equal(n, 4); // 64 images, batches of 16
  const [gamma, beta, mean] = m.getWeights().map((w) => w.dataSync());
  assert.deepEqual(Array.from(gamma), [1]);
  assert.deepEqual(Array.from(beta), [0]);
  let sum = 0;
  for (let i = 0; i < data.train.records.length; i++) {
    const s = data.train.slot[i] * 64;
    for (let j = 0; j < 64; j++) sum += data.train.pixels[s + j] / 255;
  }
  const trueMean = sum / (64 * 64);
  // After 4 updates with momentum 0.5 from 0, 1 - 0.5^4 = 94% of the way to the data mean.
  assert.ok(Math.abs(mean[0] - 0.9375 * trueMean) < 0.02, `moving mean ${mean[0]} vs ${trueMean}`);
  const plain = tfl.sequential();
  plain.add(tfl.layers.dense({ units: 1, inputShape: [3] }));
  assert.equal(recalibrateBatchNorm(plain, data.train, pre, 16, 1), 0);
});
