/**
 * tfjs issue #4326 reported wasm training diverging from the other backends. Here a small seeded
 * CNN (conv 'valid' + max-pool, strided conv 'same' + batch norm, depthwise conv, global average
 * pooling, L2, dense, sigmoid) trains a few Adam steps on the same batch with the cpu backend
 * and with wasm (our fast kernels, and the reference ones): losses and final weights must agree.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { initBackend } from "../../lib/backend/select.ts";
import type { WasmKernelMode } from "../../lib/backend/wasm/mod.ts";
import { makeRng } from "../../lib/util/rng.ts";

function buildModel(): tfl.LayersModel {
  const init = (k: number) => tfl.initializers.glorotUniform({ seed: 100 + k });
  const m = tfl.sequential();
  m.add(tfl.layers.conv2d({
    inputShape: [14, 14, 3],
    filters: 6,
    kernelSize: 3,
    activation: "relu",
    kernelInitializer: init(0),
    kernelRegularizer: tfl.regularizers.l2({ l2: 1e-3 }),
  }));
  m.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
  m.add(
    tfl.layers.conv2d({
      filters: 8,
      kernelSize: 3,
      strides: 2,
      padding: "same",
      useBias: false, // a bias before batch norm has a ~0 gradient (rounding noise) that Adam amplifies
      kernelInitializer: init(1),
    }),
  );
  m.add(tfl.layers.batchNormalization({ momentum: 0.9 }));
  m.add(tfl.layers.activation({ activation: "relu" }));
  m.add(
    tfl.layers.depthwiseConv2d({ kernelSize: 2, padding: "same", depthwiseInitializer: init(2) }),
  );
  m.add(tfl.layers.globalAveragePooling2d({}));
  m.add(tfl.layers.dense({ units: 1, activation: "sigmoid", kernelInitializer: init(3) }));
  return m;
}

async function train(backend: "cpu" | "wasm", kernels: WasmKernelMode) {
  await initBackend({ prefer: backend, wasmKernels: kernels });
  const model = buildModel();
  model.compile({ optimizer: tf.train.adam(1e-2), loss: "binaryCrossentropy" });
  const rng = makeRng(5);
  const x = tf.tensor4d(Float32Array.from({ length: 8 * 14 * 14 * 3 }, rng), [8, 14, 14, 3]);
  const y = tf.tensor2d([0, 1, 1, 0, 1, 0, 0, 1], [8, 1]);
  const losses: number[] = [];
  for (let i = 0; i < 6; i++) losses.push(await model.trainOnBatch(x, y) as number);
  const weights = model.getWeights().map((w) => w.dataSync().slice() as Float32Array);
  tf.dispose([x, y]);
  model.dispose();
  return { losses, weights };
}

Deno.test("a few seeded Adam steps on wasm match the cpu backend (losses and weights)", async () => {
  const cpu = await train("cpu", "fast");
  for (const mode of ["fast", "reference"] as const) {
    const wasm = await train("wasm", mode);
    // The model does learn: the loss falls over the steps.
    assert.ok(cpu.losses[5] < cpu.losses[0], `loss did not fall: ${cpu.losses}`);
    for (let i = 0; i < cpu.losses.length; i++) {
      const d = Math.abs(wasm.losses[i] - cpu.losses[i]);
      assert.ok(
        d <= 1e-4 * Math.max(1, cpu.losses[i]),
        `${mode} step ${i}: loss ${wasm.losses[i]} vs ${cpu.losses[i]}`,
      );
    }
    assert.equal(wasm.weights.length, cpu.weights.length);
    for (const [k, w] of wasm.weights.entries()) {
      let diff = 0, scale = 0;
      for (let i = 0; i < w.length; i++) {
        diff = Math.max(diff, Math.abs(w[i] - cpu.weights[k][i]));
        scale = Math.max(scale, Math.abs(cpu.weights[k][i]));
      }
      assert.ok(
        diff / Math.max(scale, 1e-6) <= 1e-4,
        `${mode} weight ${k}: rel diff ${diff / scale}`,
      );
    }
  }
});
