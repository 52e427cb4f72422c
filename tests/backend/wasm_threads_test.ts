/**
 * The SIMD kernels on several threads (lib/backend/wasm/simd/pool.ts, split.ts): on tfjs' threaded
 * build with XRAY_WASM_THREADS=2, every kernel split over both threads gives the very same bits
 * as on one thread and writes nothing outside its output; the backend line says the thread count;
 * a process that never stops the pool still exits. Plus the pool itself (errors, close) and the
 * thread setting.
 */
import assert from "node:assert/strict";
import { KernelPool } from "../../lib/backend/wasm/simd/pool.ts";
import { cut } from "../../lib/backend/wasm/simd/split.ts";
import { KERNELS_SHARED_WASM_BASE64 } from "../../lib/backend/wasm/simd/kernels_wasm.ts";
import { simdKernelsSupported } from "../../lib/backend/wasm/simd/mod.ts";
import { wasmThreadsSetting } from "../../lib/backend/wasm/threaded.ts";

const available = simdKernelsSupported();

function sharedModule(): WebAssembly.Module {
  return new WebAssembly.Module(
    Uint8Array.from(atob(KERNELS_SHARED_WASM_BASE64), (c) => c.charCodeAt(0)),
  );
}

Deno.test("cut: contiguous ranges on unit boundaries covering [a, b)", () => {
  assert.deepEqual(cut(0, 10, 2), [[0, 5], [5, 10]]);
  assert.deepEqual(cut(0, 64, 2, 16), [[0, 32], [32, 64]]);
  assert.deepEqual(cut(0, 20, 2, 16), [[0, 16], [16, 20]]);
  assert.deepEqual(cut(0, 9, 2, 2), [[0, 4], [4, 9]]);
  assert.deepEqual(cut(0, 3, 4), [[0, 1], [1, 2], [2, 3]]);
});

Deno.test("wasmThreadsSetting: XRAY_WASM_THREADS, else the default (2 on 2+ cores); a bad value is an error", () => {
  const was = Deno.env.get("XRAY_WASM_THREADS");
  try {
    Deno.env.set("XRAY_WASM_THREADS", "3");
    assert.deepEqual(wasmThreadsSetting(), { threads: 3, from: "XRAY_WASM_THREADS" });
    Deno.env.set("XRAY_WASM_THREADS", "two");
    assert.throws(() => wasmThreadsSetting(), /XRAY_WASM_THREADS="two" is not a positive integer/);
    Deno.env.delete("XRAY_WASM_THREADS");
    const s = wasmThreadsSetting();
    assert.equal(s.from, "default");
    assert.equal(s.threads, Math.min(2, navigator.hardwareConcurrency));
  } finally {
    if (was === undefined) Deno.env.delete("XRAY_WASM_THREADS");
    else Deno.env.set("XRAY_WASM_THREADS", was);
  }
});

Deno.test({
  name:
    "KernelPool: parts run on both threads, each once, a failing part is an error, close() ends it",
  ignore: !available,
  async fn() {
    const memory = new WebAssembly.Memory({ initial: 2, maximum: 65536, shared: true });
    const pool = await KernelPool.start(sharedModule(), memory, 2);
    try {
      const f = new Float32Array(memory.buffer);
      // relu_grad(dy, x, dx, n): dy at 0, x at 4096 bytes, dx at 8192 bytes, 64 values each.
      for (let i = 0; i < 64; i++) f[i] = i + 1, f[1024 + i] = i % 2 ? 1 : -1;
      pool.run("relu_grad", [[0, 4096, 8192, 32], [128, 4096 + 128, 8192 + 128, 32]]);
      for (let i = 0; i < 64; i++) assert.equal(f[2048 + i], i % 2 ? i + 1 : 0, `dx[${i}]`);
      // A part that reads past the memory traps in the worker: reported, and the pool goes on.
      assert.throws(
        () => pool.run("relu_grad", [[0, 4096, 8192, 4], [0, 2 ** 31 - 64, 8192, 4]]),
        /relu_grad failed/,
      );
      pool.run("relu_grad", [[0, 4096, 8192, 4], [16, 4096 + 16, 8192 + 16, 4]]);
      // Up to 4 parts per thread, each claimed and run exactly once (sum_rows adds into its f64
      // accumulator: a part run twice would double its columns), over many rounds.
      const rows = 10, cols = 32, acc = 16384; // x [10, 32] at 0, acc [32] f64 at 16 KiB
      for (let i = 0; i < rows * cols; i++) f[i] = (i % 7) + 1;
      const want = Array.from({ length: cols }, (_, c) => {
        let s = 0;
        for (let r = 0; r < rows; r++) s += f[r * cols + c];
        return s;
      });
      for (let round = 0; round < 200; round++) {
        const n = 2 + (round % 7); // 2 .. 8 parts of 4 columns each
        new Float64Array(memory.buffer, acc, cols).fill(0);
        const parts = Array.from({ length: n }, (_, k) => [16 * k, acc + 32 * k, rows, 4, cols]);
        pool.run("sum_rows", parts);
        const got = new Float64Array(memory.buffer, acc, cols);
        for (let c = 0; c < cols; c++) {
          assert.equal(got[c], c < 4 * n ? want[c] : 0, `round ${round} column ${c}`);
        }
      }
      assert.throws(() => pool.run("sum_rows", Array(9).fill([0, acc, 1, 4, 4])), /9 parts/);
    } finally {
      pool.close();
    }
    assert.throws(() => pool.run("relu_grad", [[0, 0, 0, 0]]), /used after close/);
  },
});

/**
 * Run in a subprocess (the threaded build replaces the process' wasm backend): every kernel,
 * split (MIN_PART_WORK 0) and whole (on one thread), on guard-surrounded tensors; prints JSON.
 * It never stops the pool: the subprocess must exit by itself.
 */
const SCRIPT = (root: string) => `
import * as tf from "@tensorflow/tfjs-core";
import { initBackend, describeBackend } from "${root}/lib/backend/select.ts";
import { setMinPartWork } from "${root}/lib/backend/wasm/simd/split.ts";
import { registerFusedAdam } from "${root}/lib/backend/fused_adam.ts";
import { dropoutMask } from "${root}/lib/util/dropout_mask.ts";
registerFusedAdam();
const info = await initBackend({ prefer: "wasm" });
let seed = 1;
const rnd = (shape) => {
  const n = shape.reduce((a, b) => a * b, 1), d = new Float32Array(n);
  for (let i = 0; i < n; i++) { seed = (seed * 16807) % 2147483647; d[i] = seed / 2147483647 - 0.5; }
  return tf.tensor(d, shape);
};
const x = rnd([2, 21, 19, 16]), w64 = rnd([3, 3, 16, 64]), w20 = rnd([3, 3, 16, 20]);
const dy64 = rnd([2, 19, 17, 64]), dy20 = rnd([2, 11, 10, 20]), bias = rnd([64]);
const pooled = rnd([2, 10, 9, 16]);
const w65 = rnd([2, 19, 17, 65]), g64 = rnd([2, 19, 17, 65]), m64 = rnd([2, 19, 17, 65]), v64 = tf.square(rnd([2, 19, 17, 65]));
const cases = {
  conv: () => tf.conv2d(x, w64, 1, "valid"),
  fused: () => tf.fused.conv2d({ x, filter: w64, strides: 1, pad: "same", bias, activation: "relu" }),
  filterGradByChannels: () => tf.engine().runKernel("Conv2DBackpropFilter", { x, dy: dy64 },
    { strides: 1, pad: "valid", dataFormat: "NHWC", filterShape: [3, 3, 16, 64] }),
  filterGradByRows: () => tf.engine().runKernel("Conv2DBackpropFilter", { x, dy: dy20 },
    { strides: 2, pad: "same", dataFormat: "NHWC", filterShape: [3, 3, 16, 20] }),
  inputGrad: () => tf.engine().runKernel("Conv2DBackpropInput", { dy: dy64, filter: w64 },
    { strides: 1, pad: "valid", dataFormat: "NHWC", inputShape: [2, 21, 19, 16] }),
  maxPoolGrad: () => tf.grad((a) => tf.sum(tf.mul(tf.maxPool(a, 2, 2, "valid"), pooled)))(x),
  sum: () => tf.sum(dy64, [0, 1, 2]),
  reluGrad: () => tf.grad((a) => tf.sum(tf.mul(tf.relu(a), x)))(x),
  mul: () => tf.mul(dy64, dy64),
  maxPool: () => tf.maxPool(dy64, 2, 2, "valid"),
  reluGradBias: () => tf.engine().runKernel("XrayReluGradBias", { dy: dy64, y: tf.sub(dy64, 0.1) }),
  fusedTraining: () => tf.grads((a, w, b) => tf.sum(tf.mul(tf.engine().runKernel("FusedConv2D",
    { x: a, filter: w, bias: b }, { strides: 1, pad: "valid", dataFormat: "NHWC", dilations: 1,
      activation: "relu" }), dy64)))([x, w64, bias]),
  dropoutMask: () => tf.engine().runKernel("XrayDropoutMask", {},
    { shape: [3, 7, 11, 13], rate: 0.3, seed: 12345 }),
  adam: () => tf.engine().runKernel("XrayFusedAdam",
    { w: w65, g: g64, m: m64, v: v64, c1: tf.scalar(0.19), c2: tf.scalar(0.002) },
    { beta1: 0.9, beta2: 0.999, epsilon: 1e-7, learningRate: 0.001 }),
};
const out = { line: describeBackend(info), threads: info.threads, same: {}, guards: true };
for (const [name, f] of Object.entries(cases)) {
  const runs = [];
  for (const split of [false, true]) {
    setMinPartWork(split ? 0 : Infinity);
    const guards = Array.from({ length: 6 }, (_, i) => tf.fill([999], i + 0.5));
    const y = f();
    runs.push([y].flat().flatMap((t) => Array.from(t.dataSync())));
    for (const [i, g] of guards.entries()) {
      if (!g.dataSync().every((v) => v === i + 0.5)) out.guards = false;
    }
    tf.dispose([y, ...guards]);
  }
  out.same[name] = runs[0].length > 0 && runs[0].every((v, i) => Object.is(v, runs[1][i]));
}
// The mask made on the heap (split over both threads) is the TypeScript generator's, bit for bit.
setMinPartWork(0);
const m = tf.engine().runKernel("XrayDropoutMask", {}, { shape: [1001], rate: 0.4, seed: -99 });
out.maskAsTs = Array.from(m.dataSync()).every((v, i) => v === dropoutMask(1001, 0.4, -99)[i]);
console.log(JSON.stringify(out));
`;

Deno.test({
  name:
    "2 kernel threads: bit-identical to one thread, no writes outside outputs, the process exits",
  ignore: !available,
  async fn() {
    const root = new URL("../..", import.meta.url).href.replace(/\/$/, "");
    const res = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--quiet", SCRIPT(root)],
      env: { XRAY_WASM_THREADS: "2" },
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(120_000),
    }).output();
    const stderr = new TextDecoder().decode(res.stderr);
    assert.equal(res.code, 0, `subprocess failed or hung: ${stderr}`);
    const line = new TextDecoder().decode(res.stdout).trim().split("\n").filter((l) =>
      l.startsWith("{")
    ).pop()!;
    const r = JSON.parse(line);
    assert.equal(r.threads, 2, r.line);
    assert.match(r.line, /wasm \(forced\) \(2 threads \[XRAY_WASM_THREADS\]/);
    for (const [name, same] of Object.entries(r.same)) {
      assert.equal(same, true, `${name}: split over 2 threads differs from one thread`);
    }
    assert.equal(Object.keys(r.same).length, 14);
    assert.equal(r.maskAsTs, true, "the dropout mask on 2 threads differs from dropoutMask()");
    assert.equal(r.guards, true, "a tensor outside an output changed");
  },
});
