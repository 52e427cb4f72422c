import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import * as tfl from "@tensorflow/tfjs-layers";
import {
  DATA_PARALLEL_MAX_PARAMS,
  DATA_PARALLEL_MIN_SIZE,
  defaultTrainWorkers,
  modelTraits,
} from "../../lib/train/parallel/workers.ts";

await tf.setBackend("cpu");

const conv = { convolutional: true, trainableParams: 114_000 };

Deno.test("defaultTrainWorkers: 2 on a multi-core CPU, 0 on one core, GPU backends and nested bases", () => {
  const cnn = { model: "cnn_reg", size: 150 };
  assert.equal(defaultTrainWorkers(cnn, "cpu", 16), 2);
  assert.equal(defaultTrainWorkers(cnn, "tfjs-node", 4), 2);
  assert.equal(defaultTrainWorkers(cnn, { name: "wasm", threads: 1 }, 2), 2);
  assert.equal(defaultTrainWorkers(cnn, { name: "wasm", threads: 1 }, 1), 0);
  for (const b of ["webgpu", "tfjs-node-gpu", "tensorflow"]) {
    assert.equal(defaultTrainWorkers({ model: "cnn", size: 150 }, b, 8, conv), 0, b);
  }
  assert.equal(defaultTrainWorkers({ model: "transfer", size: 150 }, "cpu", 2), 0);
  assert.equal(defaultTrainWorkers({ model: "finetune", size: 150 }, "cpu", 2), 0);
  // An edited transfer variant registered under its own name: its base makes it 0 too.
  const variant = { model: "transfer_small", size: 150, basePath: "b" };
  assert.equal(defaultTrainWorkers(variant, "cpu", 2), 0);
  assert.equal(defaultTrainWorkers({ model: "cnn", size: 150, basePath: null }, "cpu", 2), 2);
});

Deno.test("defaultTrainWorkers with wasm kernel threads: workers only where they were measured faster", () => {
  const wasm2 = { name: "wasm", threads: 2 };
  const at = (size: number) => ({ model: "cnn_reg", size });
  assert.equal(defaultTrainWorkers(at(150), wasm2, 2, conv), 2);
  assert.equal(defaultTrainWorkers(at(DATA_PARALLEL_MIN_SIZE), wasm2, 2, conv), 2);
  assert.equal(defaultTrainWorkers(at(DATA_PARALLEL_MIN_SIZE - 1), wasm2, 2, conv), 0, "small");
  const big = { convolutional: true, trainableParams: DATA_PARALLEL_MAX_PARAMS + 1 };
  assert.equal(defaultTrainWorkers(at(150), wasm2, 2, big), 0, "many parameters");
  const dense = { convolutional: false, trainableParams: 1000 };
  assert.equal(defaultTrainWorkers(at(150), wasm2, 2, dense), 0, "no convolution");
  assert.equal(defaultTrainWorkers(at(150), wasm2, 2), 0, "model unknown");
  assert.equal(defaultTrainWorkers(at(150), wasm2, 1, conv), 0, "one core");
  assert.equal(defaultTrainWorkers({ ...at(150), model: "transfer" }, wasm2, 2, conv), 0);
});

Deno.test("modelTraits: convolutions (nested too) and trainable parameters", () => {
  const flat = tfl.sequential({
    layers: [
      tfl.layers.flatten({ inputShape: [4, 4, 1] }),
      tfl.layers.dense({ units: 3 }),
    ],
  });
  assert.deepEqual(modelTraits(flat), { convolutional: false, trainableParams: 16 * 3 + 3 });
  const inner = tfl.sequential({
    layers: [tfl.layers.conv2d({ inputShape: [4, 4, 1], filters: 2, kernelSize: 3 })],
  });
  inner.trainable = false;
  const outer = tfl.sequential({
    layers: [inner, tfl.layers.flatten(), tfl.layers.dense({ units: 1 })],
  });
  assert.deepEqual(modelTraits(outer), { convolutional: true, trainableParams: 8 + 1 });
  flat.dispose();
  outer.dispose();
});
