import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../../lib/backend/select.ts";
import { resolveConfig, type TrainConfig } from "../../lib/train/config.ts";
import { loadModel } from "../../lib/models/io.ts";
import { createModel } from "../../lib/models/registry.ts";
import { train } from "../../lib/train/train.ts";
import {
  batchTargets,
  makeOptimizer,
  optimizerSpecOf,
  setLearningRate,
  SGD_MOMENTUM,
} from "../../lib/train/step.ts";
import { tinyData } from "./_fixtures.ts";

await initBackend();
const quiet = () => {};

/** Every optimizer the training config accepts. */
const OPTIMIZERS: TrainConfig["optimizer"][] = ["adam", "sgd", "rmsprop"];

function maxAbsDiff(a: tf.Tensor[], b: tf.Tensor[]): number {
  assert.equal(a.length, b.length);
  let d = 0;
  a.forEach((t, i) => {
    const u = t.dataSync(), v = b[i].dataSync();
    for (let j = 0; j < u.length; j++) d = Math.max(d, Math.abs(u[j] - v[j]));
  });
  return d;
}

Deno.test("the config's sgd is SGD with momentum, in every path", () => {
  assert.deepEqual(optimizerSpecOf({ optimizer: "sgd", learningRate: 0.1 }), {
    name: "sgd",
    learningRate: 0.1,
    momentum: SGD_MOMENTUM,
  });
  const opt = makeOptimizer(optimizerSpecOf({ optimizer: "sgd", learningRate: 0.1 }));
  assert.equal(opt.getClassName(), "Momentum");
  opt.dispose();
});

Deno.test("setLearningRate changes the step of sgd, momentum, adam and rmsprop alike", () => {
  for (const optimizer of OPTIMIZERS) {
    const v = tf.variable(tf.scalar(1));
    const opt = makeOptimizer(optimizerSpecOf({ optimizer, learningRate: 0.1 }));
    setLearningRate(opt, 0);
    const g = tf.scalar(1);
    opt.applyGradients({ [v.name]: g });
    assert.equal(v.dataSync()[0], 1, `${optimizer}: a zero learning rate leaves the weight`);
    tf.dispose([v, g]);
    opt.dispose();
  }
});

Deno.test("batch targets: labels for 2 classes, one-hot rows for 3", () => {
  assert.deepEqual([...batchTargets([1, 0], 2)], [1, 0]);
  assert.deepEqual([...batchTargets([2, 0], 3)], [0, 0, 1, 1, 0, 0]);
});

for (const optimizer of OPTIMIZERS) {
  Deno.test(`${optimizer}: in-process and two-worker training end with the same weights`, async () => {
    const tmp = await Deno.makeTempDir();
    try {
      const data = { ...tinyData(11, 24, 3), classWeights: [0.8, 1.3] };
      const cfg = (out: string) =>
        resolveConfig({
          model: "cnn",
          data: "/mem",
          out,
          size: 24,
          batchSize: 5, // batches of 5, 5, 1: uneven shards and a one-image batch
          epochs: 3,
          seed: 5,
          augment: true,
          optimizer,
          learningRate: optimizer === "sgd" ? 0.05 : 0.003,
          lrDecay: 0.5,
          earlyStopping: { metric: "val_loss", patience: 5 },
        });
      const a = await train(cfg(join(tmp, "w0")), { data, log: quiet, workers: 0 });
      const b = await train(cfg(join(tmp, "w2")), { data, log: quiet, workers: 2 });
      assert.equal(b.summary.workers, 2);
      a.history.forEach((h, i) => {
        const d = Math.abs(h.train.loss - b.history[i].train.loss);
        assert.ok(d < 1e-5, `epoch ${i + 1}: loss ${h.train.loss} vs ${b.history[i].train.loss}`);
        assert.equal(h.lr, b.history[i].lr);
      });
      assert.equal(a.summary.bestEpoch, b.summary.bestEpoch);
      const [ma, mb] = [
        await loadModel(join(tmp, "w0", "model")),
        await loadModel(join(tmp, "w2", "model")),
      ];
      const init = await createModel("cnn", { size: 24, channels: 3, seed: 5 });
      try {
        const d = maxAbsDiff(ma.getWeights(), mb.getWeights());
        // Measured 2e-6 (adam), 2e-6 (sgd), 7e-8 (rmsprop): float32 sums in another order.
        assert.ok(d < 1e-4, `${optimizer}: max |weight difference| ${d}`);
        // The weights really moved, so the comparison is not vacuous.
        assert.ok(maxAbsDiff(init.getWeights(), ma.getWeights()) > 1e-3);
      } finally {
        [ma, mb, init].forEach((m) => m.dispose());
      }
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  });
}
