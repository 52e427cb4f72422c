import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import "@tensorflow/tfjs-backend-cpu";
import {
  checkLayerClasses,
  type DataParallelOptions,
  DataParallelTrainer,
} from "../../lib/train/parallel/trainer.ts";
import { makeRng } from "../../lib/util/rng.ts";

await tf.setBackend("cpu");

const SIZE = 8;

/** Tiny conv net with L2 on the conv kernel; optional dropout and batch norm. */
function tinyModel(
  opts: { dropout?: number; batchNorm?: boolean; classes?: 1 | 3 } = {},
): tfl.LayersModel {
  const m = tfl.sequential();
  m.add(tfl.layers.conv2d({
    inputShape: [SIZE, SIZE, 1],
    filters: 3,
    kernelSize: 3,
    activation: "relu",
    kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }),
    kernelRegularizer: tfl.regularizers.l2({ l2: 0.01 }),
  }));
  if (opts.batchNorm) m.add(tfl.layers.batchNormalization());
  m.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
  if (opts.dropout) m.add(tfl.layers.dropout({ rate: opts.dropout }));
  m.add(tfl.layers.flatten());
  const classes = opts.classes ?? 1;
  m.add(tfl.layers.dense({
    units: classes,
    activation: classes === 1 ? "sigmoid" : "softmax",
    kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }),
  }));
  return m;
}

/** A trainer of `model` with Adam (0.01) and binary cross-entropy on 2 cpu workers; `opts` overrides. */
function adamTrainer(
  model: tfl.LayersModel,
  opts: Partial<DataParallelOptions> = {},
): Promise<DataParallelTrainer> {
  return DataParallelTrainer.create({
    model,
    optimizer: { name: "adam", learningRate: 0.01 },
    loss: "binaryCrossentropy",
    workers: 2,
    backend: "cpu",
    ...opts,
  });
}

function batch(n: number, seed: number, classes = 1): { x: Uint8Array; y: Float32Array } {
  const rng = makeRng(seed);
  const x = new Uint8Array(n * SIZE * SIZE);
  for (let i = 0; i < x.length; i++) x[i] = Math.floor(rng() * 256);
  const y = new Float32Array(n * classes);
  for (let i = 0; i < n; i++) {
    if (classes === 1) y[i] = i % 2;
    else y[i * classes + (i % classes)] = 1;
  }
  return { x, y };
}

function maxAbsDiff(a: tf.Tensor[], b: tf.Tensor[]): number {
  assert.equal(a.length, b.length);
  let d = 0;
  a.forEach((t, i) => {
    const u = t.dataSync(), v = b[i].dataSync();
    for (let j = 0; j < u.length; j++) d = Math.max(d, Math.abs(u[j] - v[j]));
  });
  return d;
}

Deno.test("2 workers train the same weights as single-process trainOnBatch (adam, L2, uneven shards)", async () => {
  const model = tinyModel();
  const ref = tinyModel();
  ref.setWeights(model.getWeights());
  ref.compile({ optimizer: tf.train.adam(0.01), loss: "binaryCrossentropy" });
  const trainer = await DataParallelTrainer.create({
    model,
    optimizer: { name: "adam", learningRate: 0.01 },
    loss: "binaryCrossentropy",
    workers: 2,
    backend: "cpu",
  });
  try {
    assert.equal(trainer.workers, 2);
    assert.equal(trainer.backend, "cpu");
    for (const [step, n] of [[0, 6], [1, 5], [2, 6], [3, 1]]) {
      const { x, y } = batch(n, 100 + step);
      const { loss } = await trainer.trainBatch(x, y, n);
      const xs = tf.tensor4d(Float32Array.from(x, (v) => v / 255), [n, SIZE, SIZE, 1]);
      const ys = tf.tensor2d(y, [n, 1]);
      const refLoss = (await ref.trainOnBatch(xs, ys)) as number;
      tf.dispose([xs, ys]);
      assert.ok(
        Math.abs(loss - refLoss) < 1e-5,
        `step ${step}: loss ${loss} vs trainOnBatch ${refLoss}`,
      );
    }
    await trainer.syncTo(model);
    const d = maxAbsDiff(model.getWeights(), ref.getWeights());
    assert.ok(d < 1e-5, `max |weight difference| ${d}`);
    // The weights really moved (the comparison is not vacuous).
    const init = tinyModel();
    assert.ok(maxAbsDiff(init.getWeights(), ref.getWeights()) > 1e-3);
  } finally {
    await trainer.dispose();
  }
});

Deno.test("workers: 0 trains in place like the workers; sample weights and SGD; categorical", async () => {
  const a = tinyModel({ classes: 3 }), b = tinyModel({ classes: 3 });
  const common = {
    optimizer: { name: "sgd" as const, learningRate: 0.1 },
    loss: "categoricalCrossentropy" as const,
  };
  const local = await DataParallelTrainer.create({ ...common, model: a, workers: 0 });
  const par = await DataParallelTrainer.create({ ...common, model: b, workers: 2, backend: "cpu" });
  try {
    for (let step = 0; step < 3; step++) {
      const { x, y } = batch(7, 7 + step, 3);
      const opts = { classWeights: { 0: 0.5, 1: 2, 2: 1 } };
      const l1 = await local.trainBatch(x, y, 7, opts);
      const l2 = await par.trainBatch(x, y, 7, opts);
      assert.ok(Math.abs(l1.loss - l2.loss) < 1e-5, `step ${step}: ${l1.loss} vs ${l2.loss}`);
    }
    await par.syncTo(b);
    assert.ok(maxAbsDiff(a.getWeights(), b.getWeights()) < 1e-5);
  } finally {
    await local.dispose();
    await par.dispose();
  }
});

Deno.test("with dropout and batch norm, replicas stay bit-identical (syncTo checks) and moving stats move", async () => {
  const model = tinyModel({ dropout: 0.5, batchNorm: true });
  const before = model.getWeights().map((t) => t.clone());
  const trainer = await DataParallelTrainer.create({
    model,
    optimizer: { name: "adam", learningRate: 0.01 },
    loss: "binaryCrossentropy",
    workers: 2,
    backend: "cpu",
    seed: 3,
  });
  try {
    for (let step = 0; step < 2; step++) {
      const { x, y } = batch(8, step);
      const { loss } = await trainer.trainBatch(x, y, 8);
      assert.ok(Number.isFinite(loss));
    }
    // Moving mean/variance changed from their initial 0/1 (training updated them).
    await trainer.syncTo(model);
    const names = model.weights.map((w) => w.name);
    const mm = names.findIndex((n) => n.includes("moving_mean"));
    assert.ok(mm >= 0, `no moving_mean among ${names}`);
    assert.ok(maxAbsDiff([before[mm]], [model.getWeights()[mm]]) > 0);
  } finally {
    await trainer.dispose();
    tf.dispose(before);
  }
});

Deno.test("an error in a worker rejects with the worker's index; a crash too; then dispose is clean", async () => {
  const trainer = await adamTrainer(tinyModel());
  try {
    await assert.rejects(
      trainer.injectFailure(1, "now"),
      /worker 1 failed in fail: injected failure/,
    );
    // A handled error leaves the worker usable.
    const { x, y } = batch(4, 1);
    assert.ok(Number.isFinite((await trainer.trainBatch(x, y, 4)).loss));
    await assert.rejects(
      trainer.injectFailure(0, "uncaught"),
      /worker 0 crashed: .*injected uncaught failure/,
    );
    await assert.rejects(trainer.trainBatch(x, y, 4), /worker 0 crashed/);
    await assert.rejects(trainer.trainBatch(x, y, 3 as number), /x has 256 values, expected 3/);
  } finally {
    await trainer.dispose();
  }
  await assert.rejects(
    () => trainer.trainBatch(new Uint8Array(64), new Float32Array(1), 1),
    /after dispose/,
  );
});

Deno.test("a step that fails in one replica fails in all (none waits at the exchange); so do later steps", async () => {
  const trainer = await adamTrainer(tinyModel());
  try {
    const { x, y } = batch(4, 1);
    await trainer.trainBatch(x, y, 4);
    await trainer.injectFailure(1, "step");
    await assert.rejects(trainer.trainBatch(x, y, 4), /worker 1 failed in step: injected failure/);
    // No replica applied that step; the trainer says so instead of training on.
    await assert.rejects(
      trainer.trainBatch(x, y, 4),
      /replica 1 failed in this step or an earlier|exchange was aborted \(a replica failed/,
    );
  } finally {
    await trainer.dispose();
  }
});

Deno.test("overlapping trainBatch calls (the next batch sent early) give the sequential result", async () => {
  const run = async (overlap: boolean) => {
    const model = tinyModel({ dropout: 0.3 });
    const trainer = await adamTrainer(model, { seed: 5 });
    try {
      const batches = [batch(5, 1), batch(5, 2), batch(5, 3), batch(1, 4)];
      const losses = overlap
        ? (await Promise.all(batches.map((b) => trainer.trainBatch(b.x, b.y, b.y.length))))
          .map((r) => r.loss)
        : [];
      if (!overlap) {
        for (const b of batches) losses.push((await trainer.trainBatch(b.x, b.y, b.y.length)).loss);
      }
      await trainer.syncTo(model);
      return { losses, weights: model.getWeights().map((w) => Array.from(w.dataSync())) };
    } finally {
      await trainer.dispose();
      model.dispose();
    }
  };
  const a = await run(false), b = await run(true);
  assert.deepEqual(b.losses, a.losses);
  assert.deepEqual(b.weights, a.weights);
});

Deno.test("a worker that cannot build the model fails create() naming it", async () => {
  await assert.rejects(
    DataParallelTrainer.create({
      model: tinyModel(),
      optimizer: { name: "adam", learningRate: 0.01 },
      loss: "binaryCrossentropy",
      workers: 1,
      backend: "no-such-backend",
    }),
    /worker 0 failed in init: .*no-such-backend/,
  );
});

Deno.test("replicas rebuild the project's own layer classes; a layer class they lack fails create()", async () => {
  // The project's fused Conv2D and fast Dropout (registered under TF.js' stock names): the
  // workers import them, so the rebuilt model has the same classes and create() succeeds.
  const { conv2d } = await import("../../lib/models/conv.ts");
  const { dropout } = await import("../../lib/models/dropout.ts");
  const own = tfl.sequential({
    layers: [
      conv2d({ inputShape: [SIZE, SIZE, 1], filters: 2, kernelSize: 3, activation: "relu" }),
      dropout({ rate: 0.25 }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 1, activation: "sigmoid" }),
    ],
  });
  const ok = await adamTrainer(own, { workers: 1 });
  await ok.dispose();
  // A subclass under a stock name that the workers do not know: they would rebuild the stock
  // layer and train something else.
  const StockDense = Object.getPrototypeOf(tfl.layers.dense({ units: 1 }))
    .constructor as new (args: Parameters<typeof tfl.layers.dense>[0]) => tfl.layers.Layer;
  class ShadowDense extends StockDense {
    static className = "Dense";
  }
  const shadowed = tfl.sequential({
    layers: [
      tfl.layers.flatten({ inputShape: [SIZE, SIZE, 1] }),
      new ShadowDense({ units: 1, activation: "sigmoid", name: "shadow" }),
    ],
  });
  await assert.rejects(
    adamTrainer(shadowed, { workers: 1 }),
    /rebuilt layer 1 \(shadow\) as Dense where the model has ShadowDense: .*setupModules/,
  );
  own.dispose();
  shadowed.dispose();
});

Deno.test("checkLayerClasses: a replica may have a subclass of the main layer's class, not a base", () => {
  const fast = ["FastConv2D", "Conv2D", "Conv", "Layer"], stock = ["Conv2D", "Conv", "Layer"];
  checkLayerClasses([stock], [fast], ["c"]);
  checkLayerClasses([fast], [fast], ["c"]);
  assert.throws(
    () => checkLayerClasses([fast], [stock], ["c"]),
    /layer 0 \(c\) as Conv2D where the model has FastConv2D/,
  );
  assert.throws(
    () => checkLayerClasses([fast, stock], [fast], ["a", "b"]),
    /layer 1 \(b\) as nothing/,
  );
});

Deno.test("enableWasmThreads: threaded wasm runs with 2 threads, matches cpu, and the process exits", async () => {
  // In a subprocess: it replaces the wasm backend of the whole process.
  const lib = new URL("../../lib/backend/wasm/threaded.ts", import.meta.url).href;
  const code = `
    import * as tf from "@tensorflow/tfjs-core";
    import "@tensorflow/tfjs-backend-cpu";
    import "@tensorflow/tfjs-backend-wasm";
    import { enableWasmThreads } from "${lib}";
    await tf.setBackend("wasm"); // a single-threaded instance first: it must be replaced
    const info = await enableWasmThreads(2);
    const a = tf.tensor2d(Array.from({ length: 96 * 80 }, (_, i) => Math.sin(i)), [96, 80]);
    const w = Array.from(tf.matMul(a, a, false, true).dataSync());
    await tf.setBackend("cpu");
    const c = Array.from(tf.matMul(tf.tensor2d(Array.from(a.dataSync()), [96, 80]), tf.tensor2d(Array.from(a.dataSync()), [96, 80]), false, true).dataSync());
    const diff = Math.max(...w.map((v, i) => Math.abs(v - c[i])));
    console.log(JSON.stringify({ ...info, diff, workerIsWeb: typeof Worker === "function" && Worker.name === "Worker" }));
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--quiet", code],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, `subprocess failed: ${new TextDecoder().decode(out.stderr)}`);
  const line = stdout.trim().split("\n").filter((l) => l.startsWith("{")).pop()!;
  const r = JSON.parse(line);
  assert.equal(r.threads, 2);
  assert.equal(r.reinitialised, true);
  assert.ok(r.diff < 1e-3, `threaded wasm vs cpu matMul: max diff ${r.diff}`);
  assert.equal(r.workerIsWeb, true, "the Web Worker global must be restored");
});

Deno.test("float input, training-mode outputs, and resuming from optimizer state equal one uninterrupted run", async () => {
  const spec = {
    optimizer: { name: "adam" as const, learningRate: 0.01 },
    loss: "binaryCrossentropy" as const,
  };
  const straight = tinyModel(), resumed = tinyModel();
  const c = await DataParallelTrainer.create({ ...spec, model: straight, workers: 0 });
  const a = await DataParallelTrainer.create({
    ...spec,
    model: resumed,
    workers: 2,
    backend: "cpu",
  });
  let b: DataParallelTrainer | null = null;
  try {
    const batches = [0, 1, 2].map((s) => batch(6, 50 + s));
    for (const s of [0, 1]) {
      const { x, y } = batches[s];
      const r1 = await c.trainBatch(x, y, 6);
      const r2 = await a.trainBatch(Float32Array.from(x, (v) => v / 255), y, 6);
      assert.equal(r2.outputs.length, 6);
      const d = Math.max(...r1.outputs.map((v, i) => Math.abs(v - r2.outputs[i])));
      assert.ok(d < 1e-5, `outputs differ by ${d}`);
    }
    await a.syncTo(resumed);
    const state = await a.optimizerWeights();
    assert.ok(state.length > 1, "adam state has iterations and moments");
    await a.dispose();
    b = await DataParallelTrainer.create({
      ...spec,
      model: resumed,
      workers: 2,
      backend: "cpu",
      optimizerWeights: state,
    });
    tf.dispose(state.map((s) => s.tensor));
    await c.trainBatch(batches[2].x, batches[2].y, 6);
    await b.trainBatch(batches[2].x, batches[2].y, 6);
    await b.syncTo(resumed);
    const d = maxAbsDiff(straight.getWeights(), resumed.getWeights());
    assert.ok(d < 1e-5, `resumed run differs by ${d}`);
  } finally {
    await c.dispose();
    await a.dispose();
    await b?.dispose();
  }
});
