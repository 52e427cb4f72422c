import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { describeBackend, initBackend } from "../../lib/backend/select.ts";
import { gpuDeviceNodes } from "../../lib/backend/webgpu.ts";
import { wasmKernelMode } from "../../lib/backend/wasm/mod.ts";
import { wasmThreadsSetting } from "../../lib/backend/wasm/threaded.ts";

async function withEnv<T>(
  name: string,
  value: string | undefined,
  fn: () => Promise<T>,
): Promise<T> {
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

Deno.test("initBackend picks wasm here and says why tfjs-node(-gpu) and webgpu were skipped", async () => {
  await withEnv("XRAY_BACKEND", undefined, async () => {
    const info = await initBackend();
    assert.equal(info.name, "wasm");
    assert.equal(tf.getBackend(), "wasm");
    assert.equal(info.forcedBy, "auto");
    assert.ok(info.threads >= 1);
    assert.equal(info.wasmKernels, "fast");
    assert.equal(wasmKernelMode(), "fast");
    assert.deepEqual(info.skipped.map((s) => s.name), ["tfjs-node-gpu", "webgpu", "tfjs-node"]);
    assert.equal(info.adapter, null);
    for (const s of info.skipped) {
      // This machine has no GPU: webgpu finds no adapter or only a software one (lavapipe).
      assert.match(s.reason, s.name === "webgpu" ? /no WebGPU adapter|software/ : /not installed/);
    }
    // Idempotent: same request, same object, backend unchanged.
    assert.equal(await initBackend(), info);
    const line = describeBackend(info);
    // The thread count and where it came from (XRAY_WASM_THREADS, else the default: 2 on 2+ cores).
    const t = wasmThreadsSetting();
    assert.equal(info.threads, t.threads);
    assert.match(
      line,
      new RegExp(`^TF\\.js backend: wasm \\(${t.threads} threads? \\[${t.from}\\]`),
    );
    assert.match(line, /skipped: tfjs-node-gpu/);
  });
});

Deno.test("initBackend: prefer and XRAY_BACKEND force a backend; bad names fail clearly", async () => {
  await withEnv("XRAY_BACKEND", undefined, async () => {
    const cpu = await initBackend({ prefer: "cpu" });
    assert.equal(cpu.name, "cpu");
    assert.equal(tf.getBackend(), "cpu");
    assert.equal(cpu.forcedBy, "prefer");
    assert.equal(cpu.threads, 1);
    assert.deepEqual(cpu.skipped.map((s) => s.name), [
      "tfjs-node-gpu",
      "webgpu",
      "tfjs-node",
      "wasm",
    ]);
    await assert.rejects(initBackend({ prefer: "tfjs-node" }), /forced .* not installed/);
    await assert.rejects(initBackend({ prefer: "gpu" as never }), /unknown backend "gpu"/);
  });
  await withEnv("XRAY_BACKEND", "cpu", async () => {
    const info = await initBackend();
    assert.equal(info.name, "cpu");
    assert.equal(info.forcedBy, "env");
    assert.match(describeBackend(info), /forced by XRAY_BACKEND/);
    // The flag wins over the environment.
    assert.equal((await initBackend({ prefer: "wasm" })).name, "wasm");
  });
  await withEnv("XRAY_BACKEND", "tpu", async () => {
    await assert.rejects(initBackend(), /XRAY_BACKEND="tpu" is not a backend; expected one of/);
  });
  await withEnv("XRAY_BACKEND", undefined, async () => {
    assert.equal((await initBackend()).name, "wasm");
  });
});

Deno.test("initBackend: reference wasm kernels can be chosen for baselines", async () => {
  await withEnv("XRAY_BACKEND", undefined, async () => {
    const ref = await initBackend({ wasmKernels: "reference" });
    assert.equal(ref.wasmKernels, "reference");
    assert.equal(wasmKernelMode(), "reference");
    assert.equal((await initBackend()).wasmKernels, "fast");
    assert.equal(wasmKernelMode(), "fast");
  });
});

Deno.test({
  name: "automatic selection without a GPU device file loads no WebGPU driver into the process",
  ignore: gpuDeviceNodes()?.length !== 0,
  async fn() {
    // A WebGPU instance in a test file's runtime (off the main thread) loads Mesa's lavapipe and
    // crashes the process at exit now and then; automatic selection must not make one here.
    await withEnv("XRAY_BACKEND", undefined, async () => {
      const info = await initBackend();
      const skip = info.skipped.find((s) => s.name === "webgpu");
      assert.match(skip!.reason, /^no GPU device on this machine/);
    });
    const maps = await Deno.readTextFile("/proc/self/maps");
    const drivers = [...new Set(maps.match(/\S*(?:libvulkan|libLLVM)\S*/g) ?? [])];
    assert.deepEqual(drivers, [], "Vulkan or LLVM libraries mapped into the test process");
  },
});
