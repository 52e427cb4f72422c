/**
 * The webgpu backend against the cpu reference. Runs wherever Deno finds a WebGPU adapter; on a
 * machine without a GPU, Mesa's lavapipe (`apt-get install mesa-vulkan-drivers`; optionally
 * `DENO_WEBGPU_BACKEND=vulkan`) is one, a software renderer: correct but slow, so sizes are tiny.
 * Without any adapter the GPU tests are ignored and the reason is printed.
 *
 * The GPU work runs in a child `deno run` of this file (on its main thread), never in the test
 * process: `deno test` runs each file in a runtime off the main thread, and a WebGPU instance made
 * there (lavapipe, LLVM) crashes the whole process at exit in a few runs out of a hundred
 * ("double free or corruption", segmentation faults). `XRAY_WEBGPU_CASE` names the case the child
 * runs ("probe" prints the adapter).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { describeBackend, initBackend } from "../../lib/backend/select.ts";
import {
  describeAdapter,
  gpuDeviceNodes,
  probeWebGpu,
  softwareRenderer,
  summariseAdapter,
  type WebGpuProbe,
} from "../../lib/backend/webgpu.ts";
import { LAYER_CASES, LAYER_TOLERANCE, layerParity } from "../../lib/backend/parity.ts";
import { FIT_TOLERANCE, fitParity, fitPasses } from "../../lib/train/fit_parity.ts";
import { saveModel } from "../../lib/models/io.ts";
import { resolveConfig } from "../../lib/train/config.ts";
import { syntheticTrainData } from "../../lib/train/synthetic_data.ts";
import { train } from "../../lib/train/train.ts";
import { gradCam } from "../../lib/eval/gradcam.ts";
import { featuresOf } from "../../lib/train/ood.ts";
import type { Preprocessing } from "../../lib/models/types.ts";

/** The case a child process runs (set by {@link inChild}); undefined in the test process. */
const CHILD_CASE = Deno.env.get("XRAY_WEBGPU_CASE");

/** Runs this file in a child `deno run` with XRAY_WEBGPU_CASE=name; returns its stdout. */
async function inChild(name: string): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", fileURLToPath(import.meta.url)],
    env: { XRAY_WEBGPU_CASE: name },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  assert.equal(
    out.code,
    0,
    `webgpu case "${name}" exited with ${out.code}${out.signal ? ` (${out.signal})` : ""}:\n` +
      dec.decode(out.stderr).slice(-3000),
  );
  return dec.decode(out.stdout);
}

/** The adapter probe: in the child, asked here; in the test process, read from a child. */
const probe: WebGpuProbe = CHILD_CASE !== undefined
  ? await probeWebGpu()
  : JSON.parse((await inChild("probe")).trim().split("\n").at(-1)!);
if (CHILD_CASE === "probe") console.log(JSON.stringify(probe));
const noGpu = probe.adapter === null;
if (CHILD_CASE === undefined) {
  if (noGpu) console.log(`webgpu tests ignored: ${probe.reason}`);
  else console.log(`webgpu tests on ${describeAdapter(probe.adapter!)} (in child processes)`);
}

/** The GPU cases by name, run by the child process. */
const CASES = new Map<string, () => Promise<void>>();
const gpuTest = (name: string, fn: () => Promise<void>) => {
  CASES.set(name, fn);
  Deno.test({ name, ignore: noGpu, fn: async () => void await inChild(name) });
};

async function withEnv<T>(name: string, value: string | undefined, fn: () => Promise<T>) {
  const old = Deno.env.get(name);
  if (value === undefined) Deno.env.delete(name);
  else Deno.env.set(name, value);
  try {
    return await fn();
  } finally {
    if (old === undefined) Deno.env.delete(name);
    else Deno.env.set(name, old);
  }
}

Deno.test("software adapters are recognised by name or by isFallbackAdapter", () => {
  const lavapipe = summariseAdapter({
    vendor: "65541",
    device: "0",
    description: "llvmpipe (LLVM 15.0.6, 256 bits)",
  });
  assert.equal(lavapipe.software, true);
  assert.equal(softwareRenderer(lavapipe), "llvmpipe");
  assert.equal(describeAdapter(lavapipe), "llvmpipe (LLVM 15.0.6, 256 bits) [software]");
  assert.equal(summariseAdapter({ description: "SwiftShader Device (Subzero)" }).software, true);
  assert.equal(summariseAdapter({ description: "Microsoft Basic Render Driver" }).software, true);
  const flagged = summariseAdapter({ vendor: "x", description: "" }, true);
  assert.equal(flagged.isFallbackAdapter, true);
  assert.equal(softwareRenderer(flagged), "fallback adapter");
  const h100 = summariseAdapter({
    vendor: "nvidia",
    architecture: "hopper",
    description: "NVIDIA H100 80GB HBM3",
    isFallbackAdapter: false,
  });
  assert.equal(h100.software, false);
  assert.equal(describeAdapter(h100), "NVIDIA H100 80GB HBM3");
  assert.equal(describeAdapter(summariseAdapter({})), "unnamed adapter");
});

gpuTest(
  "automatic selection skips a software adapter with its reason; forcing uses it",
  async () => {
    await withEnv("XRAY_BACKEND", undefined, async () => {
      const auto = await initBackend();
      const skip = auto.skipped.find((s) => s.name === "webgpu");
      if (probe.adapter!.software) {
        assert.equal(auto.name, "wasm");
        // Without a GPU device file automatic selection does not even ask for the adapter.
        assert.match(
          skip!.reason,
          gpuDeviceNodes()?.length === 0
            ? /^no GPU device on this machine .*software \(CPU\) renderer.*XRAY_BACKEND=webgpu/
            : /software \(CPU\) renderer.*XRAY_BACKEND=webgpu/,
        );
      } else {
        assert.equal(auto.name, "webgpu");
      }
    });
    await withEnv("XRAY_BACKEND", "webgpu", async () => {
      const info = await initBackend();
      assert.equal(info.name, "webgpu");
      assert.equal(tf.getBackend(), "webgpu");
      assert.deepEqual(info.adapter, probe.adapter);
      assert.match(describeBackend(info), /webgpu \(forced by XRAY_BACKEND\).*adapter /);
    });
  },
);

gpuTest("gradients of every layer type the models use match the cpu backend", async () => {
  await initBackend({ prefer: "cpu" });
  await initBackend({ prefer: "webgpu" });
  for (const c of LAYER_CASES) {
    const r = await layerParity(c, "webgpu", "cpu");
    assert.ok(r.maxError < LAYER_TOLERANCE, `${c.name}: ${JSON.stringify(r)}`);
    assert.ok(Object.keys(r.gradientErrors).includes("input"), c.name);
  }
});

gpuTest("seeded 6-step Adam fits (compact, dense_baseline) match the cpu backend", async () => {
  await initBackend({ prefer: "cpu" });
  await initBackend({ prefer: "webgpu" });
  // compact: batch norm, dropout (seeded) and a 1x1 feature map at 16 px, the hardest case.
  const c = await fitParity("compact", "webgpu", "cpu", { size: 16, batch: 2, steps: 6 });
  assert.ok(c.lossError < FIT_TOLERANCE.loss, JSON.stringify(c.losses));
  assert.ok(c.losses.ref[5] < c.losses.ref[0], "the fit learns");
  assert.ok(c.predictionError < FIT_TOLERANCE.prediction, `predictions: ${c.predictionError}`);
  // Adam turns rounding noise on a zero gradient into whole steps (see FitParity.weightError).
  assert.ok(c.weightError < FIT_TOLERANCE.weights, `weights: ${c.weightError}`);
  assert.equal(fitPasses(c), true);
  const d = await fitParity("dense_baseline", "webgpu", "cpu", { size: 8, batch: 4, steps: 6 });
  assert.ok(d.lossError < 1e-6, JSON.stringify(d.losses));
  assert.ok(d.weightError < 1e-5, `weights: ${d.weightError}`);
});

/** A MobileNetV2-like frozen base: conv, batch norm, ReLU6, depthwise conv, 1x1 conv. */
async function tinyBase(dir: string): Promise<string> {
  const base = tfl.sequential();
  base.add(tfl.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, inputShape: [16, 16, 3] }));
  base.add(tfl.layers.batchNormalization({}));
  base.add(tfl.layers.reLU({ maxValue: 6 }));
  base.add(tfl.layers.depthwiseConv2d({ kernelSize: 3, padding: "same" }));
  base.add(tfl.layers.conv2d({ filters: 6, kernelSize: 1 }));
  await saveModel(base, dir);
  base.dispose();
  return dir;
}

gpuTest("every registered model trains and predicts on webgpu as on wasm", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    await initBackend({ prefer: "wasm" });
    const basePath = await tinyBase(join(tmp, "base"));
    await initBackend({ prefer: "webgpu" });
    for (const model of ["dense_baseline", "cnn", "cnn_reg", "compact", "transfer"]) {
      const size = model === "transfer" ? 16 : undefined;
      const r = await fitParity(model, "webgpu", "wasm", { size, batch: 2, steps: 2, basePath });
      assert.ok(r.lossError < 1e-4, `${model}: ${JSON.stringify(r.losses)}`);
      assert.ok(r.predictionError < 1e-3, `${model}: predictions ${r.predictionError}`);
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

gpuTest("a tiny training run through the training engine on webgpu matches cpu", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const data = syntheticTrainData({ trainPerClass: 4, valPerClass: 2, size: 16, channels: 1 });
    const runs = [];
    for (const backend of ["cpu", "webgpu"] as const) {
      await initBackend({ prefer: backend });
      const cfg = resolveConfig({
        model: "compact",
        data: "(in memory)",
        size: 16,
        epochs: 2,
        batchSize: 4,
        out: join(tmp, backend),
      });
      runs.push(await train(cfg, { data, workers: 0, log: () => {} }));
    }
    const [cpu, gpu] = runs;
    assert.equal(gpu.summary.backend, "webgpu");
    assert.equal(gpu.history.length, 2);
    for (const [i, row] of gpu.history.entries()) {
      assert.ok(Math.abs(row.train.loss - cpu.history[i].train.loss) < 1e-4, `epoch ${i + 1}`);
      assert.ok(Math.abs(row.val.loss - cpu.history[i].val.loss) < 1e-3, `epoch ${i + 1} val`);
    }
    assert.ok(Math.abs(gpu.threshold.threshold - cpu.threshold.threshold) < 1e-3);
    for (const f of ["model/model.json", "metrics.csv", "summary.json", "threshold.json"]) {
      await Deno.stat(join(tmp, "webgpu", f));
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

gpuTest(
  "Grad-CAM and the OOD features read GPU-resident tensors back on webgpu (as cpu)",
  async () => {
    // tfjs-backend-webgpu's synchronous read goes through a 2D canvas, which Deno lacks: these
    // paths must read with `await data()`. Sizes are big enough for the tensors to live on the GPU.
    const build = () =>
      tfl.sequential({
        layers: [
          tfl.layers.conv2d({
            inputShape: [32, 32, 1],
            filters: 8,
            kernelSize: 3,
            activation: "relu",
            kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }),
          }),
          tfl.layers.globalAveragePooling2d({}),
          tfl.layers.dense({
            units: 1,
            activation: "sigmoid",
            kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }),
          }),
        ],
      });
    const pixels = Uint8Array.from({ length: 3 * 32 * 32 }, (_, i) => (i * 37) % 251);
    const pre: Preprocessing = { size: 32, channels: 1, scale: 1 / 255, mean: 0, std: 1 };
    const results = [];
    for (const backend of ["cpu", "webgpu"] as const) {
      await initBackend({ prefer: backend });
      const m = build();
      const x = tf.tensor4d(Float32Array.from(pixels, (v) => v / 255), [3, 32, 32, 1]);
      const cams = await gradCam(m, x);
      const { features, dim } = await featuresOf(m, pre, pixels, 3);
      results.push({ heat: cams.map((c) => Array.from(c.heatmap)), features, dim });
      tf.dispose(x);
      m.dispose();
    }
    const [cpu, gpu] = results;
    assert.equal(gpu.dim, cpu.dim);
    for (let i = 0; i < cpu.features.length; i++) {
      assert.ok(Math.abs(gpu.features[i] - cpu.features[i]) < 1e-4, `feature ${i}`);
    }
    for (const [k, h] of cpu.heat.entries()) {
      const e = Math.max(...h.map((v, i) => Math.abs(v - gpu.heat[k][i])));
      assert.ok(e < 1e-3, `heatmap ${k}: max difference ${e}`);
    }
  },
);

// In the child process: run the case it was started for, after every case is registered above.
if (CHILD_CASE !== undefined && CHILD_CASE !== "probe") {
  const run = CASES.get(CHILD_CASE);
  if (!run) throw new Error(`no webgpu case "${CHILD_CASE}" (known: ${[...CASES.keys()]})`);
  await run();
}
