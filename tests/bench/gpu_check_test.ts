import assert from "node:assert/strict";
import { runEpochs } from "../../bench/epoch_run.ts";
import { formatGpuCheck, GPU_CHECK_SCHEMA, type GpuCheckJson } from "../../bench/gpu_check.ts";
import { formatBench } from "../../bench/format.ts";
import { modelErrorEntry, SCHEMA } from "../../bench/schema.ts";
import { summariseAdapter } from "../../lib/backend/webgpu.ts";
import { FIT_TOLERANCE } from "../../lib/train/fit_parity.ts";

const lavapipe = summariseAdapter({ description: "llvmpipe (LLVM 15.0.6, 256 bits)" }, true);

Deno.test("runEpochs times epochs of a model through the training engine", async () => {
  const r = await runEpochs({
    backend: "wasm",
    model: "compact",
    size: 16,
    trainPerClass: 4,
    valPerClass: 2,
    epochs: 2,
  });
  assert.equal(r.backend, "wasm");
  assert.equal(r.adapter, null);
  assert.equal(r.trainImages, 8);
  assert.equal(r.valImages, 4);
  assert.equal(r.epochSeconds.length, 2);
  assert.ok(r.epochSeconds.every((s) => s > 0) && r.imagesPerSecond > 0);
  assert.ok(Number.isFinite(r.valLoss));
});

Deno.test("the GPU check summary names adapters, flags software ones and shows failures", () => {
  const r: GpuCheckJson = {
    schema: GPU_CHECK_SCHEMA,
    startedAt: "",
    finishedAt: "",
    machine: { cpus: 2, cpuModel: "test", memoryGiB: 1, deno: "x" },
    options: {
      size: 48,
      trainPerClass: 8,
      valPerClass: 4,
      epochs: 2,
      models: ["compact"],
      quick: true,
    },
    tolerances: { layer: 1e-5, fit: FIT_TOLERANCE },
    backends: [
      {
        name: "tfjs-node-gpu",
        available: false,
        reason: "not installed",
        adapter: null,
        software: false,
      },
      { name: "webgpu", available: true, reason: null, adapter: lavapipe, software: true },
    ],
    correctness: [{
      backend: "webgpu",
      reference: "cpu",
      layers: [{ name: "conv", maxError: 2e-7, passed: true }],
      fits: [],
      passed: true,
      error: null,
      seconds: 1,
    }],
    epochs: [{ backend: "webgpu", model: "cnn_reg", error: "out of memory" }],
  };
  const text = formatGpuCheck(r);
  assert.match(text, /tfjs-node-gpu: not available: not installed/);
  assert.match(
    text,
    /webgpu: loaded on llvmpipe .*\[software\] \(software renderer: timings are not GPU speeds\)/,
  );
  assert.match(text, /webgpu: passed \(1 layer cases, worst error 2\.0e-7/);
  assert.match(text, /cnn_reg on webgpu: not run: out of memory/);
});

Deno.test("the bench table names each backend, its adapter and unavailable ones", () => {
  const text = formatBench({
    schema: SCHEMA,
    startedAt: "",
    finishedAt: "",
    machine: {
      cpus: 2,
      cpuModel: "test",
      memoryGiB: 1,
      loadAverage1mAtStart: 0,
      loadAverage1mAtEnd: 0,
      deno: "x",
    },
    backend: { name: "webgpu", threads: 1, simd: null, skipped: [], adapter: lavapipe },
    backends: [
      { name: "webgpu", threads: 1, simd: null, adapter: lavapipe, skipped: [], error: null },
      { name: "wasm", threads: 1, simd: true, adapter: null, skipped: [], error: null },
      { name: "tfjs-node-gpu", threads: null, simd: null, adapter: null, skipped: [], error: "x" },
    ],
    models: [modelErrorEntry("compact", "boom", "webgpu"), modelErrorEntry("compact", "y", "wasm")],
    imageLoading: null,
    parallel: null,
  });
  assert.match(text, /^Backend webgpu, 1 thread\(s\), adapter llvmpipe .*correctness only/);
  assert.match(text, /\nBackend wasm, 1 thread\(s\)\n/);
  assert.match(text, /Backend tfjs-node-gpu: not measured: x/);
  assert.match(text, /compact@webgpu\s+not run: boom/);
  // Only what this run measured: no PyTorch figure carried over from another machine.
  assert.doesNotMatch(text, /PyTorch[^\n]*\d+(\.\d+)? ms/);
  assert.match(text, /Against PyTorch on this machine: deno task bench-pytorch/);
});
