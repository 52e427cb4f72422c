/**
 * The fast dropout layer (lib/models/dropout.ts): the mask's rate and scale, determinism from the
 * seed, training-only behaviour, the gradient (the mask again), and that saved models keep TF.js'
 * "Dropout" class name and load into this class.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { getKernel } from "@tensorflow/tfjs-core";
import { initBackend } from "../../lib/backend/select.ts";
import { dropout, dropoutMask, FastDropout } from "../../lib/models/dropout.ts";

Deno.test("dropoutMask keeps about 1 - rate of the values, each 1 / (1 - rate), seeded", () => {
  for (const rate of [0.1, 0.3, 0.5, 0.9]) {
    const m = dropoutMask(200_000, rate, 42);
    const kept = m.filter((v) => v !== 0);
    assert.ok(kept.every((v) => Math.abs(v - 1 / (1 - rate)) < 1e-6), "kept values are 1/keep");
    const frac = kept.length / m.length;
    // Binomial sd at n = 2e5 is at most 0.0011: 5 sd.
    assert.ok(Math.abs(frac - (1 - rate)) < 0.006, `rate ${rate}: kept ${frac}`);
    assert.deepEqual(dropoutMask(1000, rate, 42), m.subarray(0, 1000), "same seed, same mask");
  }
  assert.notDeepEqual(dropoutMask(1000, 0.3, 1), dropoutMask(1000, 0.3, 2));
  assert.ok(dropoutMask(10, 0, 1).every((v) => v === 1), "rate 0 keeps everything");
  assert.throws(() => dropoutMask(10, 1, 1), /rate must be in \[0, 1\)/);
});

Deno.test("FastDropout drops only in training, and its gradient is the mask", async () => {
  await initBackend({ prefer: "cpu" });
  const layer = dropout({ rate: 0.4 });
  const x = tf.ones([4, 50, 3]);
  const infer = layer.apply(x, { training: false }) as tf.Tensor;
  assert.deepEqual(infer.dataSync(), x.dataSync(), "identity at inference");
  const y = layer.apply(x, { training: true }) as tf.Tensor;
  const v = y.dataSync();
  const zeros = v.filter((a) => a === 0).length / v.length;
  assert.ok(zeros > 0.25 && zeros < 0.55, `dropped ${zeros}`);
  assert.ok(v.every((a) => a === 0 || Math.abs(a - 1 / 0.6) < 1e-6));
  // d(sum(dropout(x) * w))/dx: the mask times w, for one draw of the mask.
  const w = tf.randomNormal([4, 50, 3], 0, 1, "float32", 3);
  let out: tf.Tensor | null = null;
  const g = tf.grad((xx: tf.Tensor) => {
    out = tf.keep(layer.apply(xx, { training: true }) as tf.Tensor);
    return tf.sum(tf.mul(out, w));
  })(x);
  const mask = out!.dataSync(), gw = g.dataSync(), wv = w.dataSync();
  for (let i = 0; i < gw.length; i++) assert.ok(Math.abs(gw[i] - mask[i] * wv[i]) < 1e-5);
  tf.dispose([x, infer, y, w, g, out!]);
});

Deno.test("seeded Math.random gives the same masks (the trainer's reproducibility)", async () => {
  await initBackend({ prefer: "cpu" });
  const layer = dropout({ rate: 0.3 });
  const x = tf.ones([2, 100]);
  const draw = () => {
    let s = 7;
    const orig = Math.random;
    Math.random = () => ((s = (s * 16807) % 2147483647) / 2147483647);
    try {
      return (layer.apply(x, { training: true }) as tf.Tensor).dataSync();
    } finally {
      Math.random = orig;
    }
  };
  assert.deepEqual(draw(), draw());
  x.dispose();
});

Deno.test("saved models keep the class name Dropout and load as FastDropout", async () => {
  await initBackend({ prefer: "cpu" });
  const m = tfl.sequential({
    layers: [tfl.layers.dense({ units: 3, inputShape: [4] }), dropout({ rate: 0.2 })],
  });
  const json = m.toJSON(null, false) as { config: { layers: { class_name: string }[] } };
  assert.equal(json.config.layers[1].class_name, "Dropout");
  let artifacts: tf.io.ModelArtifacts | null = null;
  await m.save(tf.io.withSaveHandler((a) => {
    artifacts = a;
    return Promise.resolve({
      modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" },
    });
  }));
  const loaded = await tfl.loadLayersModel(tf.io.fromMemory(artifacts!));
  assert.ok(loaded.layers[1] instanceof FastDropout, "loaded into the fast class");
  m.dispose();
  loaded.dispose();
});

Deno.test("on wasm the mask is made on the heap (XrayDropoutMask), the same as on cpu", async () => {
  const draw = async (backend: "cpu" | "wasm") => {
    await initBackend({ prefer: backend });
    const layer = dropout({ rate: 0.3 });
    const x = tf.randomUniform([3, 11, 7, 5], -1, 1, "float32", 4);
    let s = 11;
    const orig = Math.random;
    Math.random = () => ((s = (s * 16807) % 2147483647) / 2147483647);
    try {
      const y = layer.apply(x, { training: true }) as tf.Tensor;
      const out = y.dataSync().slice();
      tf.dispose([x, y]);
      return out;
    } finally {
      Math.random = orig;
    }
  };
  await initBackend({ prefer: "wasm" });
  assert.ok(getKernel("XrayDropoutMask", "wasm"), "the mask kernel is registered on wasm");
  assert.deepEqual(await draw("wasm"), await draw("cpu"));
});
