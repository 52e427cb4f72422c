/**
 * The fused Adam (lib/backend/fused_adam.ts) must train exactly like `tf.train.adam`: a seeded
 * model trained N steps with each, on wasm (fast kernels) and on cpu, ends with the same weights
 * (within 1e-5) and the same losses; its optimizer state round-trips through get/setWeights.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { initBackend } from "../../lib/backend/select.ts";
import { FusedAdamOptimizer, makeAdam } from "../../lib/backend/fused_adam.ts";
import { simdAdamFor } from "../../lib/backend/fused_adam_simd.ts";
import { makeRng } from "../../lib/util/rng.ts";

function buildModel(): tfl.LayersModel {
  const init = (k: number) => tfl.initializers.glorotUniform({ seed: 200 + k });
  const m = tfl.sequential();
  m.add(tfl.layers.flatten({ inputShape: [12, 12, 3] }));
  m.add(tfl.layers.dense({ units: 7, activation: "relu", kernelInitializer: init(0) }));
  m.add(tfl.layers.dense({ units: 1, activation: "sigmoid", kernelInitializer: init(1) }));
  return m;
}

async function train(backend: "cpu" | "wasm", optimizer: () => tf.Optimizer, steps = 8) {
  await initBackend({ prefer: backend, wasmKernels: "fast" });
  const model = buildModel();
  const opt = optimizer();
  model.compile({ optimizer: opt, loss: "binaryCrossentropy" });
  const rng = makeRng(11);
  const x = tf.tensor4d(Float32Array.from({ length: 16 * 12 * 12 * 3 }, rng), [16, 12, 12, 3]);
  const y = tf.tensor2d(Array.from({ length: 16 }, (_, i) => (i * 7) % 3 === 0 ? 1 : 0), [16, 1]);
  const losses: number[] = [];
  for (let i = 0; i < steps; i++) losses.push(await model.trainOnBatch(x, y) as number);
  const weights = model.getWeights().map((w) => w.dataSync().slice() as Float32Array);
  tf.dispose([x, y]);
  return { losses, weights, model, opt };
}

function assertClose(a: Float32Array[], b: Float32Array[], tol: number, what: string) {
  assert.equal(a.length, b.length);
  for (let k = 0; k < a.length; k++) {
    for (let i = 0; i < a[k].length; i++) {
      const d = Math.abs(a[k][i] - b[k][i]);
      assert.ok(d <= tol, `${what}: tensor ${k}[${i}] ${a[k][i]} vs ${b[k][i]} (|diff| ${d})`);
    }
  }
}

for (const backend of ["wasm", "cpu"] as const) {
  Deno.test(`fused Adam matches tf.train.adam on ${backend} (8 seeded steps)`, async () => {
    const stock = await train(backend, () => tf.train.adam(5e-3));
    const fused = await train(backend, () => new FusedAdamOptimizer(5e-3));
    assertClose(fused.weights, stock.weights, 1e-5, `${backend} weights`);
    fused.losses.forEach((l, i) => assert.ok(Math.abs(l - stock.losses[i]) <= 1e-5, `loss ${i}`));
    // The weights moved: the comparison is not between two untrained models.
    const init = buildModel().getWeights().map((w) => w.dataSync() as Float32Array);
    assert.ok(init[0].some((w, i) => Math.abs(w - fused.weights[0][i]) > 1e-3), "weights moved");
    // Optimizer state (iterations, m, v) matches the stock optimizer's.
    const [sw, fw] = [await stock.opt.getWeights(), await fused.opt.getWeights()];
    assert.deepEqual(
      fw.map((w) => w.name.replace(/\d+/g, "")),
      sw.map((w) => w.name.replace(/\d+/g, "")),
    );
    assertClose(
      fw.map((w) => w.tensor.dataSync() as Float32Array),
      sw.map((w) => w.tensor.dataSync() as Float32Array),
      1e-5,
      `${backend} optimizer state`,
    );
    assert.equal(fused.opt.getClassName(), "Adam");
    for (const r of [stock, fused]) r.model.dispose(), r.opt.dispose();
  });
}

Deno.test("fused Adam resumes from stock Adam's saved state", async () => {
  await initBackend({ prefer: "wasm", wasmKernels: "fast" });
  const a = await train("wasm", () => tf.train.adam(5e-3), 3);
  const fused = new FusedAdamOptimizer(5e-3);
  await fused.setWeights(await a.opt.getWeights());
  const stock = tf.train.adam(5e-3);
  await stock.setWeights(await a.opt.getWeights());
  const vars = a.model.trainableWeights.map((w) => w.read() as tf.Variable);
  const start = vars.map((v) => v.clone());
  const grads = vars.map((v, k) => ({ name: v.name, tensor: tf.fill(v.shape, 0.01 * (k + 1)) }));
  const step = (o: tf.Optimizer) => {
    vars.forEach((v, k) => v.assign(start[k]));
    o.applyGradients(grads);
    return vars.map((v) => v.dataSync().slice() as Float32Array);
  };
  const ws = step(stock), wf = step(fused);
  assertClose(wf, ws, 1e-6, "resumed step");
  assert.ok(ws[0].some((w, i) => w !== start[0].dataSync()[i]), "the step moved the weights");
  tf.dispose([...start, ...grads.map((g) => g.tensor)]);
  a.model.dispose(), a.opt.dispose(), fused.dispose(), stock.dispose();
});

Deno.test("makeAdam: fused on wasm fast and cpu, stock Adam for the wasm reference kernels", async () => {
  await initBackend({ prefer: "cpu" });
  assert.equal(makeAdam(1e-3).constructor, FusedAdamOptimizer);
  await initBackend({ prefer: "wasm", wasmKernels: "fast" });
  assert.equal(makeAdam(1e-3).constructor, FusedAdamOptimizer);
  await initBackend({ prefer: "wasm", wasmKernels: "reference" });
  const stock = makeAdam(1e-3);
  // (tfjs' optimizers override instanceof, so compare constructors)
  assert.equal(stock.constructor, tf.AdamOptimizer);
  await initBackend({ prefer: "wasm", wasmKernels: "fast" });
});

Deno.test("the SIMD Adam pass compiles here and gives float32-exact results", () => {
  const memory = new WebAssembly.Memory({ initial: 1 });
  const simd = simdAdamFor(memory);
  assert.ok(simd !== null, "wasm SIMD unavailable: the fused Adam would fall back to its JS loop");
  const n = 8, heap = new Float32Array(memory.buffer);
  const rng = makeRng(3);
  for (let i = 0; i < 4 * n; i++) heap[i] = rng() - 0.5 + (i >= 3 * n ? 0.6 : 0); // w, g, m, v >= 0
  const fr = Math.fround;
  const [b1, ob1, b2, ob2, c1, c2, eps, nlr] = [0.9, 0.1, 0.999, 0.001, 0.271, 0.00299, 1e-7, -1e-3]
    .map(fr);
  simd(0, 4 * n, 8 * n, 12 * n, 16 * n, 20 * n, 24 * n, n * 4, b1, ob1, b2, ob2, c1, c2, eps, nlr);
  for (let i = 0; i < n; i++) {
    const [w, g, m, v] = [heap[i], heap[n + i], heap[2 * n + i], heap[3 * n + i]];
    const m1 = fr(fr(m * b1) + fr(g * ob1)), v1 = fr(fr(v * b2) + fr(fr(g * g) * ob2));
    const w1 = fr(fr(fr(fr(m1 / c1) / fr(fr(Math.sqrt(fr(v1 / c2))) + eps)) * nlr) + w);
    assert.deepEqual(
      [heap[4 * n + i], heap[5 * n + i], heap[6 * n + i]],
      [w1, m1, v1],
      `lane ${i}`,
    );
  }
});
