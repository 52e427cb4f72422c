import assert from "node:assert/strict";
import { defaultTrainWorkers } from "../../lib/train/parallel/workers.ts";

Deno.test("defaultTrainWorkers: 2 on a multi-core CPU, 0 on one core, GPU backends and nested bases", () => {
  assert.equal(defaultTrainWorkers({ model: "cnn_reg" }, "wasm", 2), 2);
  assert.equal(defaultTrainWorkers({ model: "cnn_reg" }, "cpu", 16), 2);
  assert.equal(defaultTrainWorkers({ model: "cnn_reg" }, "tfjs-node", 4), 2);
  assert.equal(defaultTrainWorkers({ model: "cnn_reg" }, "wasm", 1), 0);
  for (const b of ["webgpu", "tfjs-node-gpu", "tensorflow"]) {
    assert.equal(defaultTrainWorkers({ model: "cnn" }, b, 8), 0, b);
  }
  assert.equal(defaultTrainWorkers({ model: "transfer" }, "wasm", 2), 0);
  assert.equal(defaultTrainWorkers({ model: "finetune" }, "wasm", 2), 0);
  // An edited transfer variant registered under its own name: its base makes it 0 too.
  assert.equal(defaultTrainWorkers({ model: "transfer_small", basePath: "b" }, "wasm", 2), 0);
  assert.equal(defaultTrainWorkers({ model: "cnn", basePath: null }, "wasm", 2), 2);
});

Deno.test("defaultTrainWorkers: 2 on 2+ cores also with wasm kernel threads; none on a GPU", () => {
  const cnn = { model: "cnn_reg" };
  const multi = navigator.hardwareConcurrency >= 2 ? 2 : 0;
  assert.equal(defaultTrainWorkers(cnn, { name: "wasm", threads: 2 }), multi);
  assert.equal(defaultTrainWorkers(cnn, { name: "wasm", threads: 2 }, 1), 0);
  assert.equal(defaultTrainWorkers(cnn, { name: "webgpu", threads: 1 }), 0);
  assert.equal(defaultTrainWorkers(cnn, { name: "tfjs-node-gpu", threads: 8 }), 0);
  assert.equal(defaultTrainWorkers({ model: "transfer" }, { name: "wasm", threads: 2 }), 0);
  assert.equal(defaultTrainWorkers(cnn, { name: "wasm", threads: 1 }), multi);
  assert.equal(defaultTrainWorkers(cnn, { name: "cpu", threads: 1 }), multi);
});
