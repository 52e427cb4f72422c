import assert from "node:assert/strict";
import { defaultTrainWorkers } from "../../lib/train/parallel/start.ts";

Deno.test("defaultTrainWorkers: none with wasm kernel threads or a GPU, else 2 on 2+ cores", () => {
  const cnn = { model: "cnn_reg" };
  assert.equal(defaultTrainWorkers(cnn, { name: "wasm", threads: 2 }), 0);
  assert.equal(defaultTrainWorkers(cnn, { name: "webgpu", threads: 1 }), 0);
  assert.equal(defaultTrainWorkers(cnn, { name: "tfjs-node-gpu", threads: 8 }), 0);
  assert.equal(defaultTrainWorkers({ model: "transfer" }, { name: "wasm", threads: 1 }), 0);
  const multi = navigator.hardwareConcurrency >= 2 ? 2 : 0;
  assert.equal(defaultTrainWorkers(cnn, { name: "wasm", threads: 1 }), multi);
  assert.equal(defaultTrainWorkers(cnn, { name: "cpu", threads: 1 }), multi);
});
