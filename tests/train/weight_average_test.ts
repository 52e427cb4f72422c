import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { initBackend } from "../../lib/backend/select.ts";
import {
  addToAverage,
  disposeAverage,
  trainableIndices,
  withAveragedWeights,
} from "../../lib/train/weight_average.ts";

await initBackend();

/** Dense + batch norm: trainable kernel, bias, gamma, beta; non-trainable moving statistics. */
function tiny(): tfl.LayersModel {
  const m = tfl.sequential();
  m.add(tfl.layers.dense({ units: 2, inputShape: [3] }));
  m.add(tfl.layers.batchNormalization({}));
  return m;
}

const values = (m: tfl.LayersModel) => m.weights.map((w) => Array.from(w.read().dataSync()));

/** Sets every weight of `m` to the constant `c` (moving statistics too). */
function fill(m: tfl.LayersModel, c: number) {
  const ts = m.weights.map((w) => tf.fill(w.shape as number[], c));
  m.setWeights(ts);
  ts.forEach((t) => t.dispose());
}

Deno.test("the average is the mean of the trainable weights of every epoch added", () => {
  const m = tiny();
  const before = tf.memory().numTensors;
  let avg = null;
  for (const c of [1, 2, 6]) {
    fill(m, c);
    avg = addToAverage(m, avg);
  }
  assert.equal(avg!.count, 3);
  assert.equal(avg!.mean.length, trainableIndices(m).length);
  assert.equal(trainableIndices(m).length, 4, "kernel, bias, gamma, beta");
  for (const t of avg!.mean) for (const v of t.dataSync()) assert.ok(Math.abs(v - 3) < 1e-6);
  disposeAverage(avg);
  assert.equal(tf.memory().numTensors, before, "old means are disposed");
  m.dispose();
});

Deno.test("withAveragedWeights judges the mean, then puts every weight back", async () => {
  const m = tiny();
  fill(m, 4);
  const avg = addToAverage(m, null);
  fill(m, 0);
  const avg2 = addToAverage(m, avg); // mean 2
  fill(m, 7);
  const trained = values(m);
  const before = tf.memory().numTensors;
  const seen = await withAveragedWeights(m, avg2, () => {
    // Moving statistics re-estimated inside (here: overwritten) must not leak out.
    const stats = m.weights.filter((w) => !w.trainable);
    tf.tidy(() => stats.forEach((w) => w.write(tf.fill(w.shape as number[], -1))));
    return Promise.resolve(values(m));
  });
  trainableIndices(m).forEach((i) => assert.ok(seen[i].every((v) => v === 2), `weight ${i}`));
  assert.deepEqual(values(m), trained, "training continues from its own weights");
  assert.equal(tf.memory().numTensors, before, "nothing leaks");
  await assert.rejects(
    withAveragedWeights(m, { mean: avg2.mean.slice(1), count: 1 }, () => Promise.resolve(0)),
    /3 tensors but the model has 4 trainable/,
  );
  disposeAverage(avg2);
  m.dispose();
});
