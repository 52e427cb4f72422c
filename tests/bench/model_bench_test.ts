import assert from "node:assert/strict";
import { benchModel, peakRssMiB } from "../../bench/model_bench.ts";
import { formatBench } from "../../bench/format.ts";
import { type BenchJson, modelErrorEntry, SCHEMA } from "../../bench/schema.ts";
import { profileTraining } from "../../bench/profile.ts";

Deno.test("benchModel trains through data-parallel workers when asked", async () => {
  const r = await benchModel({
    model: "compact",
    kernels: "fast",
    size: 24,
    batchSize: 4,
    steps: 2,
    workers: 2,
  });
  assert.equal(r.workers, 2);
  assert.equal(r.train.stepMs.length, 2);
  assert.ok(r.train.msPerImage > 0 && r.train.cpuMsPerImage > 0);
});

Deno.test("benchModel times a small registry model with fast and reference kernels", async () => {
  const fast = await benchModel({
    model: "compact",
    kernels: "fast",
    size: 24,
    batchSize: 4,
    steps: 2,
  });
  const ref = await benchModel({
    model: "compact",
    kernels: "reference",
    size: 24,
    batchSize: 4,
    steps: 1,
  });
  for (const r of [fast, ref]) {
    assert.equal(r.backend, "wasm");
    assert.equal(r.inputSize, 24);
    assert.equal(r.batchSize, 4);
    assert.ok(r.params > 1000);
    for (const p of [r.train, r.predict]) {
      assert.ok(p.msPerImage > 0 && p.imagesPerSecond > 0 && p.cpuMsPerImage > 0);
      assert.ok(Math.abs(p.imagesPerSecond - 1000 / p.msPerImage) / p.imagesPerSecond < 0.02);
    }
  }
  assert.equal(fast.train.stepMs.length, 2);
  assert.equal(fast.workers, 0, "trainOnBatch in this process unless workers are asked for");
  assert.ok(fast.peakRssMiB >= 1 && fast.peakRssMiB <= peakRssMiB());
  const json: BenchJson = {
    schema: SCHEMA,
    startedAt: "2026-01-01T00:00:00.000Z",
    finishedAt: "2026-01-01T00:01:00.000Z",
    machine: {
      cpus: 2,
      cpuModel: "test",
      memoryGiB: 1,
      loadAverage1mAtStart: 0,
      loadAverage1mAtEnd: 0,
      deno: "x",
    },
    backend: { name: "wasm", threads: 1, simd: true, skipped: [] },
    models: [{
      model: "compact",
      error: null,
      inputSize: 24,
      channels: 1,
      batchSize: 4,
      params: fast.params,
      threads: 1,
      train: fast.train,
      predict: fast.predict,
      peakRssMiB: fast.peakRssMiB,
      stock: { error: null, train: ref.train, predict: ref.predict, peakRssMiB: ref.peakRssMiB },
      trainSpeedupVsStock: 2,
      predictSpeedupVsStock: 1,
      trainSpeedupVsStockCpu: 2,
      predictSpeedupVsStockCpu: 1,
    }, modelErrorEntry("transfer", "needs a base model")],
    imageLoading: null,
    parallel: null,
  };
  const text = formatBench(json);
  assert.match(text, /^Backend wasm, 1 thread/);
  assert.match(text, /compact\s+24\s+4/);
  assert.match(text, /2\.0x \(2\.0x\)/);
  assert.match(text, /transfer\s+not run: needs a base model/);
});

Deno.test("profileTraining attributes CPU time to kernels", async () => {
  const r = await profileTraining("compact", { steps: 1, batchSize: 2, byShape: false });
  assert.ok(r.totalCpuMs > 0);
  const names = r.rows.map((x) => x.kernel);
  assert.ok(names.includes("Conv2DBackpropFilter"), names.join(","));
  assert.equal(names[names.length - 1], "(outside kernels)");
});
