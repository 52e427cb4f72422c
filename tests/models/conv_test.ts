/**
 * The Conv2D layer fused in training (lib/models/conv.ts, with the FusedConv2D gradient of
 * lib/backend/wasm/conv_bias_relu.ts): on wasm a seeded training run gives the very same losses
 * and weights as TF.js' stock layer (which trains Conv2D + Add + Relu); it runs FusedConv2D and
 * no separate bias add or ReLU; a network's first layer computes no input gradient; elsewhere
 * (inference, cpu, the reference kernels) it is the stock layer; saved models keep "Conv2D".
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { initBackend } from "../../lib/backend/select.ts";
import type { WasmKernelMode } from "../../lib/backend/wasm/mod.ts";
import { setSimdKernelsEnabled } from "../../lib/backend/wasm/simd/mod.ts";
import { conv2d, FastConv2D } from "../../lib/models/conv.ts";
import { makeRng } from "../../lib/util/rng.ts";

type ConvFactory = typeof tfl.layers.conv2d;

/** Conv 3x3 ReLU + bias (L2), pool, conv 'same' stride 2 without bias (linear), pool, dense. */
function build(make: ConvFactory): tfl.LayersModel {
  const init = (k: number) => tfl.initializers.glorotUniform({ seed: 300 + k });
  const m = tfl.sequential();
  m.add(make({
    inputShape: [15, 14, 3],
    filters: 8,
    kernelSize: 3,
    activation: "relu",
    kernelInitializer: init(0),
    biasInitializer: tfl.initializers.randomUniform({ minval: -0.1, maxval: 0.1, seed: 7 }),
    kernelRegularizer: tfl.regularizers.l2({ l2: 1e-3 }),
  }));
  m.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
  m.add(make({
    filters: 12,
    kernelSize: 3,
    strides: 2,
    padding: "same",
    useBias: false,
    kernelInitializer: init(1),
  }));
  m.add(make({ filters: 4, kernelSize: 1, activation: "relu", kernelInitializer: init(2) }));
  m.add(tfl.layers.flatten());
  m.add(tfl.layers.dense({ units: 1, activation: "sigmoid", kernelInitializer: init(3) }));
  return m;
}

async function train(make: ConvFactory, backend: "wasm" | "cpu", kernels: WasmKernelMode = "fast") {
  await initBackend({ prefer: backend, wasmKernels: kernels });
  const model = build(make);
  model.compile({ optimizer: tf.train.adam(1e-2), loss: "binaryCrossentropy" });
  const rng = makeRng(9);
  const x = tf.tensor4d(Float32Array.from({ length: 6 * 15 * 14 * 3 }, () => rng() - 0.4), [
    6,
    15,
    14,
    3,
  ]);
  const y = tf.tensor2d([0, 1, 1, 0, 1, 0], [6, 1]);
  const losses: number[] = [];
  let kernelNames: string[] = [];
  for (let i = 0; i < 5; i++) {
    if (i === 1) {
      const info = await tf.profile(async () => {
        losses.push(await model.trainOnBatch(x, y) as number);
      });
      kernelNames = info.kernels.map((k) => k.name);
    } else losses.push(await model.trainOnBatch(x, y) as number);
  }
  const weights = model.getWeights().map((w) => w.dataSync().slice() as Float32Array);
  tf.dispose([x, y]);
  model.dispose();
  return { losses, weights, kernelNames };
}

Deno.test("fused training on wasm: the same bits as TF.js' stock Conv2D layer", async () => {
  const stock = await train(tfl.layers.conv2d, "wasm");
  const fused = await train(conv2d as ConvFactory, "wasm");
  assert.ok(stock.losses[4] < stock.losses[0], `the model learns: ${stock.losses}`);
  assert.deepEqual(fused.losses, stock.losses);
  assert.deepEqual(fused.weights, stock.weights);
  // Stock: Conv2D, Add and Relu (and, for the linear layer, TF.js' fused op); fused: FusedConv2D
  // for all three layers, no Relu, no bias adds; the first layer's input gradient is not computed.
  const count = (names: string[], k: string) => names.filter((n) => n === k).length;

  assert.equal(count(fused.kernelNames, "FusedConv2D"), 3, fused.kernelNames.join());
  // (the loss has a Relu of its own)
  assert.equal(count(stock.kernelNames, "Relu") - count(fused.kernelNames, "Relu"), 2, "ReLUs");
  assert.equal(count(stock.kernelNames, "Add") - count(fused.kernelNames, "Add"), 2, "bias adds");
  assert.equal(count(fused.kernelNames, "Conv2DBackpropInput"), 2, "input gradients of layers 2-3");
  assert.equal(count(fused.kernelNames, "Conv2DBackpropFilter"), 3);
  // dz and the bias gradient in one pass for the two ReLU layers: two Sums fewer.
  assert.equal(count(fused.kernelNames, "XrayReluGradBias"), 2);
  assert.equal(count(stock.kernelNames, "Sum") - count(fused.kernelNames, "Sum"), 2, "bias sums");
});

Deno.test("fused training without the SIMD kernels: within rounding of the stock layer", async () => {
  // XNNPACK's FusedConv2D starts its sums from the bias (ours adds it last, as Conv2D + Add do),
  // so here the forward differs in the last bits.
  const was = setSimdKernelsEnabled(false);
  try {
    const stock = await train(tfl.layers.conv2d, "wasm");
    const fused = await train(conv2d as ConvFactory, "wasm");
    assert.ok(fused.kernelNames.includes("XrayReluGradBias"));
    fused.losses.forEach((l, i) => assert.ok(Math.abs(l - stock.losses[i]) < 1e-6, `loss ${i}`));
    for (const [k, w] of fused.weights.entries()) {
      w.forEach((v, i) => assert.ok(Math.abs(v - stock.weights[k][i]) < 1e-5, `w ${k}[${i}]`));
    }
  } finally {
    setSimdKernelsEnabled(was);
  }
});

Deno.test("elsewhere FastConv2D is the stock layer: cpu, the reference kernels", async () => {
  for (const [backend, kernels] of [["cpu", "fast"], ["wasm", "reference"]] as const) {
    const stock = await train(tfl.layers.conv2d, backend, kernels);
    const fused = await train(conv2d as ConvFactory, backend, kernels);
    assert.deepEqual(fused.losses, stock.losses, `${backend} ${kernels}`);
    assert.deepEqual(fused.kernelNames, stock.kernelNames, `${backend} ${kernels}`);
  }
  await initBackend({ prefer: "wasm", wasmKernels: "fast" });
});

Deno.test("inference is unchanged and saved models keep the class name Conv2D", async () => {
  await initBackend({ prefer: "wasm" });
  const a = build(conv2d as ConvFactory), b = build(tfl.layers.conv2d);
  const x = tf.randomUniform([2, 15, 14, 3], 0, 1, "float32", 3);
  const [ya, yb] = [a.predict(x) as tf.Tensor, b.predict(x) as tf.Tensor];
  assert.deepEqual(ya.dataSync(), yb.dataSync());
  const json = a.toJSON(null, false) as { config: { layers: { class_name: string }[] } };
  assert.equal(json.config.layers[0].class_name, "Conv2D");
  const loaded = await tfl.models.modelFromJSON({ modelTopology: a.toJSON(null, false) as never });
  assert.ok(loaded.layers[0] instanceof FastConv2D, "loads as FastConv2D");
  tf.dispose([x, ya, yb]);
  for (const m of [a, b, loaded]) m.dispose();
});
