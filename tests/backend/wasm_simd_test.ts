/**
 * The SIMD kernels of lib/backend/wasm/simd (kernels.c): each against the cpu backend, on shapes
 * that reach every code path (register blocks of 8 and 4 channels, 1-4 leftover filter rows,
 * padding borders, strides, odd pooling sizes, ties), with the SIMD kernels on and off; plus the
 * safety of running the module on tfjs' memory: it defines no data and writes nothing outside its
 * output, and the committed bytes are what kernels.c builds to (where clang 16 is installed).
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../../lib/backend/select.ts";
import { setWasmKernels } from "../../lib/backend/wasm/mod.ts";
import {
  setSimdKernelsEnabled,
  simdKernels,
  simdKernelsFor,
  simdKernelsSupported,
} from "../../lib/backend/wasm/simd/mod.ts";
import { dropoutMask, dropoutMaskInto, dropoutMaskParams } from "../../lib/util/dropout_mask.ts";
import { makeRng } from "../../lib/util/rng.ts";
import { KERNELS_WASM_BASE64 } from "../../lib/backend/wasm/simd/kernels_wasm.ts";
import type { WasmBackendLike } from "../../lib/backend/wasm/_heap.ts";
import { setWinogradEnabled, usesWinograd } from "../../lib/backend/wasm/conv.ts";
import { conv2dInfoNHWC, convDims } from "../../lib/backend/wasm/_conv_geometry.ts";
import { type Arr, rand, relErr, run } from "./_kernel_check.ts";

const TOL = 1e-5;

/** The kernel on cpu, then on wasm with SIMD on and off: both within TOL of cpu. */
async function compare(kernel: string, inputs: Record<string, Arr>, attrs: object) {
  await initBackend({ prefer: "cpu" });
  const want = run(kernel, inputs, attrs);
  await initBackend({ prefer: "wasm" });
  setWasmKernels("fast");
  for (const on of [true, false]) {
    setSimdKernelsEnabled(on);
    const got = run(kernel, inputs, attrs);
    assert.deepEqual(got.shape, want.shape);
    const e = relErr(got.data, want.data);
    assert.ok(e <= TOL, `${kernel} simd=${on} ${JSON.stringify(attrs)}: rel err ${e}`);
  }
  setSimdKernelsEnabled(true);
}

const available = simdKernelsSupported();
if (!available) {
  console.log("SIMD kernel tests skipped: this engine has no wasm relaxed SIMD");
}

/** Convolution cases: every channel-block remainder, padding, strides. */
const convCases: { x: number[]; f: number[]; s: number | [number, number]; pad: unknown }[] = [
  { x: [2, 12, 11, 8], f: [3, 3, 8, 16], s: 1, pad: "valid" }, // blocks of 8 channels
  { x: [2, 12, 11, 3], f: [3, 3, 3, 20], s: 1, pad: "valid" }, // 9 filter rows: 4 + 4 + 1; 8+8+4
  { x: [1, 9, 10, 5], f: [3, 2, 5, 12], s: 1, pad: "same" }, // 10 rows: 4 + 4 + 2; borders
  { x: [2, 13, 9, 7], f: [3, 3, 7, 4], s: 2, pad: "same" }, // 21 rows: ... + 1; stride 2
  { x: [1, 11, 14, 6], f: [5, 5, 6, 8], s: [2, 1], pad: "valid" }, // 30 rows: ... + 2
  { x: [1, 8, 8, 1], f: [3, 3, 1, 4], s: 1, pad: [[0, 0], [2, 1], [0, 2], [0, 0]] }, // explicit
  { x: [3, 7, 7, 4], f: [1, 1, 4, 8], s: 1, pad: "valid" }, // pointwise
  { x: [1, 5, 5, 2], f: [5, 5, 2, 4], s: 1, pad: "valid" }, // one output pixel
  { x: [2, 3, 3, 8], f: [3, 3, 8, 8], s: 1, pad: "same" }, // no interior column: all border
  { x: [1, 2, 6, 4], f: [5, 5, 4, 4], s: 1, pad: [[0, 0], [2, 2], [4, 4], [0, 0]] }, // empty cols
];

Deno.test({
  name: "SIMD Conv2D, FusedConv2D (bias, ReLU) and the conv gradients match cpu",
  ignore: !available,
  async fn() {
    for (const [i, c] of convCases.entries()) {
      const x = rand(c.x, 10 + i), f = rand(c.f, 20 + i);
      const attrs = { strides: c.s, pad: c.pad, dataFormat: "NHWC", dilations: 1 };
      await compare("Conv2D", { x, filter: f }, attrs);
      const bias = rand([c.f[3]], 40 + i);
      for (const activation of ["linear", "relu", "relu6", "elu"]) {
        await compare("FusedConv2D", { x, filter: f, bias }, { ...attrs, activation });
      }
      await compare("FusedConv2D", { x, filter: f }, { ...attrs, activation: "relu" });
      await initBackend({ prefer: "cpu" });
      const y = tf.conv2d(
        tf.tensor4d(x.data, c.x as [number, number, number, number]),
        tf.tensor4d(f.data, c.f as [number, number, number, number]),
        c.s,
        c.pad as "valid",
      );
      const dy = rand(y.shape, 30 + i);
      y.dispose();
      await compare("Conv2DBackpropFilter", { x, dy }, { ...attrs, filterShape: c.f });
      await compare("Conv2DBackpropInput", { dy, filter: f }, { ...attrs, inputShape: c.x });
    }
  },
});

/**
 * 3x3 stride-1 cases with 16+ channels, which run by Winograd's F(2x2, 3x3): odd output sizes (a
 * tile half outside), 'same' and uneven explicit padding (tiles across the border), blocks of
 * 16 and 4 output channels, an output smaller than a tile, the input gradient (a 3x3 stride-1
 * convolution of dy with the flipped filter, padded by 2) and the filter gradient (F(3x3, 2x2)).
 */
const winoCases: { x: number[]; f: number[]; pad: unknown }[] = [
  { x: [2, 10, 9, 16], f: [3, 3, 16, 20], pad: "valid" }, // 8x7: odd columns; 16 + 4 channels
  { x: [1, 7, 8, 32], f: [3, 3, 32, 16], pad: "same" }, // 7x8: odd rows; border tiles
  { x: [1, 9, 6, 16], f: [3, 3, 16, 16], pad: [[0, 0], [2, 0], [0, 2], [0, 0]] }, // uneven
  { x: [2, 3, 3, 16], f: [3, 3, 16, 24], pad: "valid" }, // one output pixel
  { x: [1, 5, 4, 20], f: [3, 3, 20, 16], pad: "same" }, // every tile on a border
];

Deno.test({
  name: "Winograd convolutions, input and filter gradients match cpu and the direct kernels",
  ignore: !available,
  async fn() {
    for (const [i, c] of winoCases.entries()) {
      const attrs = { strides: 1, pad: c.pad, dataFormat: "NHWC", dilations: 1 };
      const info = conv2dInfoNHWC("Conv2D", c.x, c.f, attrs);
      const d = convDims(info);
      assert.ok(usesWinograd(d), `case ${i} should run by Winograd`);
      // The input gradient's convolution has dy's channels in and x's out.
      assert.ok(usesWinograd({ ...d, CI: d.CO, CO: d.CI }), `case ${i}: input gradient`);
      const x = rand(c.x, 70 + i), f = rand(c.f, 80 + i), bias = rand([c.f[3]], 90 + i);
      await initBackend({ prefer: "cpu" });
      const y = tf.conv2d(
        tf.tensor4d(x.data, c.x as never),
        tf.tensor4d(f.data, c.f as never),
        1,
        c.pad as "valid",
      );
      const dy = rand(y.shape, 60 + i);
      y.dispose();
      for (const on of [true, false]) {
        const was = setWinogradEnabled(on);
        try {
          await compare("Conv2D", { x, filter: f }, attrs);
          for (const activation of ["linear", "relu", "relu6"]) {
            await compare("FusedConv2D", { x, filter: f, bias }, { ...attrs, activation });
          }
          await compare("Conv2DBackpropInput", { dy, filter: f }, { ...attrs, inputShape: c.x });
          await compare("Conv2DBackpropFilter", { x, dy }, { ...attrs, filterShape: c.f });
        } finally {
          setWinogradEnabled(was);
        }
      }
    }
  },
});

Deno.test({
  name: "ReLU and ReLU6 in the convolutions' stores keep NaN where cpu does (direct and Winograd)",
  ignore: !available,
  async fn() {
    for (const [shape, f] of [[[1, 6, 6, 3], [3, 3, 3, 8]], [[1, 6, 6, 16], [3, 3, 16, 16]]]) {
      const x = rand(shape, 3), w = rand(f, 4), bias = rand([f[3]], 5);
      x.data[7 * shape[3]] = NaN; // input pixel (1, 1): reaches outputs (0..1, 0..1)
      for (const activation of ["relu", "relu6"]) {
        const attrs = { strides: 1, pad: "valid", dataFormat: "NHWC", dilations: 1, activation };
        await initBackend({ prefer: "cpu" });
        const want = run("FusedConv2D", { x, filter: w, bias }, attrs);
        await initBackend({ prefer: "wasm" });
        setWasmKernels("fast");
        const got = run("FusedConv2D", { x, filter: w, bias }, attrs);
        const nan = (d: Float32Array) => Array.from(d, (v) => Number.isNaN(v));
        assert.ok(nan(want.data).some((v) => v), "cpu gives NaN somewhere");
        assert.deepEqual(nan(got.data), nan(want.data), `${activation} ${shape}: NaN positions`);
        const clean = (d: Float32Array) => Float32Array.from(d, (v) => Number.isNaN(v) ? 0 : v);
        assert.ok(relErr(clean(got.data), clean(want.data)) <= TOL, `${activation} ${shape}`);
      }
    }
  },
});

Deno.test({
  name: "SIMD 2x2 MaxPoolGrad matches cpu: ties go to the first maximum, odd sizes, negatives",
  ignore: !available,
  async fn() {
    for (const shape of [[2, 6, 8, 4], [1, 7, 5, 8], [2, 4, 4, 12]]) {
      const x = rand(shape, 5);
      // Values on a coarse grid make ties inside windows common (the first in scan order must
      // win); every fifth value negative makes all-negative windows.
      for (let i = 0; i < x.data.length; i++) x.data[i] = Math.round(x.data[i] * 1.5) / 1.5;
      for (let i = 0; i < x.data.length; i += 5) x.data[i] = -Math.abs(x.data[i]);
      await initBackend({ prefer: "cpu" });
      const pooled = tf.maxPool(tf.tensor4d(x.data, shape as never), 2, 2, "valid");
      const y = { shape: pooled.shape, data: pooled.dataSync() as Float32Array };
      pooled.dispose();
      const dy = rand(y.shape, 6);
      await compare("MaxPoolGrad", { dy, input: x, output: y }, {
        filterSize: 2,
        strides: 2,
        pad: "valid",
      });
    }
  },
});

Deno.test({
  name: "SIMD 2x2 MaxPool equals cpu exactly: odd sizes, 'same' padding, strides, other windows",
  ignore: !available,
  async fn() {
    const cases: [number[], number, number, string][] = [
      [[2, 6, 8, 4], 2, 2, "valid"],
      [[1, 7, 5, 8], 2, 2, "valid"], // odd: the last row and column are dropped
      [[2, 4, 6, 12], 2, 2, "same"], // even 'same': no padding, the SIMD kernel
      [[1, 5, 7, 4], 2, 2, "same"], // odd 'same': padded, the stock kernel
      [[1, 6, 6, 4], 3, 2, "valid"], // 3x3 windows: stock
      [[1, 6, 6, 3], 2, 2, "valid"], // 3 channels: stock
    ];
    for (const [shape, f, s, pad] of cases) {
      const x = rand(shape, 9);
      for (let i = 0; i < x.data.length; i += 3) x.data[i] = -Math.abs(x.data[i]);
      const attrs = { filterSize: f, strides: s, pad };
      await initBackend({ prefer: "cpu" });
      const want = run("MaxPool", { x }, attrs);
      await initBackend({ prefer: "wasm" });
      setWasmKernels("fast");
      for (const on of [true, false]) {
        setSimdKernelsEnabled(on);
        assert.deepEqual(run("MaxPool", { x }, attrs), want, `${shape} ${f} ${s} ${pad} ${on}`);
      }
      setSimdKernelsEnabled(true);
    }
  },
});

Deno.test({
  name: "SIMD Sum and Mean over leading axes match cpu (4, 16 and 20 channels, long columns)",
  ignore: !available,
  async fn() {
    for (const shape of [[3, 5, 4], [600, 16], [2, 300, 20], [1, 7, 8, 64]]) {
      const x = rand(shape, 8);
      await compare("Sum", { x }, { axis: shape.slice(0, -1).map((_, i) => i), keepDims: false });
      await compare("Mean", { x }, { axis: [0], keepDims: true });
    }
  },
});

Deno.test("the one-pass ReLU gradient matches cpu (fast and reference kernels, SIMD on and off)", async () => {
  const x = rand([3, 7, 5, 6], 3), w = rand([3, 7, 5, 6], 4); // 630 values: a tail of 2 after SIMD
  for (let i = 0; i < x.data.length; i += 9) x.data[i] = 0; // relu'(0) is 0
  const grad = () => {
    const xt = tf.tensor(x.data, x.shape), wt = tf.tensor(w.data, w.shape);
    const g = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.relu(a), wt)))(xt);
    // + 0 turns -0 into 0: TF.js' dy * step(x) gives -0 where dy < 0 and x <= 0, ours gives 0.
    const out = Array.from(g.dataSync(), (v) => v + 0);
    tf.dispose([xt, wt, g]);
    return out;
  };
  await initBackend({ prefer: "cpu" });
  const want = grad();
  await initBackend({ prefer: "wasm" });
  for (const [mode, on] of [["fast", true], ["fast", false], ["reference", true]] as const) {
    setWasmKernels(mode);
    setSimdKernelsEnabled(on);
    assert.deepEqual(grad(), want, `${mode}, simd ${on}`);
  }
  setWasmKernels("fast");
  setSimdKernelsEnabled(true);
});

Deno.test({
  name: "SIMD kernels write only their output: tensors around it keep their values",
  ignore: !available,
  async fn() {
    await initBackend({ prefer: "wasm" });
    setWasmKernels("fast");
    setSimdKernelsEnabled(true);
    assert.ok(simdKernels(tf.backend() as unknown as WasmBackendLike), "kernels load on wasm");
    const guards = Array.from({ length: 8 }, (_, i) => tf.fill([1024], i + 0.25));
    const x = tf.tensor4d(rand([2, 10, 10, 8], 1).data, [2, 10, 10, 8]);
    const w = tf.tensor4d(rand([3, 3, 8, 12], 2).data, [3, 3, 8, 12]);
    const g = tf.grad((k: tf.Tensor) => tf.sum(tf.conv2d(x, k as tf.Tensor4D, 1, "same")))(w);
    const pooled = tf.grad((a: tf.Tensor) => tf.sum(tf.maxPool(a as tf.Tensor4D, 2, 2, "valid")))(
      x,
    );
    const s = tf.sum(x, [0, 1, 2]);
    for (const [i, t] of guards.entries()) {
      assert.ok(t.dataSync().every((v) => v === i + 0.25), `guard tensor ${i} unchanged`);
    }
    tf.dispose([...guards, x, w, g, pooled, s]);
  },
});

/** A fresh unshared memory with the kernels on it (one thread), and its float view. */
function kernelsOnFreshMemory(pages = 4) {
  const memory = new WebAssembly.Memory({ initial: pages });
  const k = simdKernelsFor(memory);
  assert.ok(k, "kernels load on an unshared memory");
  return { k, heap: new Float32Array(memory.buffer) };
}

Deno.test({
  name: "SIMD dropout mask: the bits of the TypeScript generator, every tail, ranges, guards",
  ignore: !available,
  fn() {
    const { k, heap } = kernelsOnFreshMemory();
    for (
      const [n, rate, seed] of [[1003, 0.3, 42], [4, 0.5, -7], [17, 0.9, 2 ** 31 + 5], [
        2,
        0,
        1,
      ]] as const
    ) {
      heap.fill(7.5, 0, 4096);
      k.dropout_mask(64, n, seed, dropoutMaskParams(rate).cut, dropoutMaskParams(rate).scale);
      const want = dropoutMask(n, rate, seed);
      assert.deepEqual(heap.slice(16, 16 + n), want, `n ${n}, rate ${rate}`);
      assert.ok(heap.slice(0, 16).every((v) => v === 7.5), "nothing written before the mask");
      assert.ok(heap.slice(16 + n, 4096).every((v) => v === 7.5), "nothing written after it");
    }
    // Any range of the mask on its own (what threads do): values [from, from + m) of the whole.
    const whole = dropoutMask(300, 0.3, 9), part = new Float32Array(37);
    dropoutMaskInto(part, 0.3, 9, 101);
    assert.deepEqual(part, whole.slice(101, 138));
  },
});

Deno.test({
  name: "SIMD mul and Adam: float32-exact, every tail, nothing written outside the outputs",
  ignore: !available,
  fn() {
    const { k, heap } = kernelsOnFreshMemory();
    const rng = makeRng(5), fr = Math.fround;
    for (const n of [1, 3, 4, 13, 64]) {
      heap.fill(-3.25, 0, 16384);
      const base = (i: number) => 64 + i * 80; // float index of array i (8 arrays of <= 64 + gap)
      for (let a = 0; a < 4; a++) {
        for (let i = 0; i < n; i++) heap[base(a) + i] = rng() - 0.5 + (a === 3 ? 0.6 : 0);
      }
      k.mul(4 * base(0), 4 * base(1), 4 * base(4), n);
      for (let i = 0; i < n; i++) {
        assert.equal(heap[base(4) + i], fr(heap[base(0) + i] * heap[base(1) + i]), `mul ${i}`);
      }
      const sc = [0.9, 0.1, 0.999, 0.001, 0.271, 0.00299, 1e-7, -1e-3].map(fr);
      const [b1, ob1, b2, ob2, c1, c2, eps, nlr] = sc;
      k.adam(...([0, 1, 2, 3, 5, 6, 7].map((a) => 4 * base(a)) as Seven), n, sc);
      for (let i = 0; i < n; i++) {
        const [w, g, m, v] = [0, 1, 2, 3].map((a) => heap[base(a) + i]);
        const m1 = fr(fr(m * b1) + fr(g * ob1)), v1 = fr(fr(v * b2) + fr(fr(g * g) * ob2));
        const w1 = fr(fr(fr(fr(m1 / c1) / fr(fr(Math.sqrt(fr(v1 / c2))) + eps)) * nlr) + w);
        assert.deepEqual([5, 6, 7].map((a) => heap[base(a) + i]), [w1, m1, v1], `adam ${n}/${i}`);
      }
      for (let a = 0; a < 8; a++) {
        const from = a === 0 ? 0 : base(a - 1) + 80, gapEnd = base(a);
        for (let i = from; i < gapEnd; i++) assert.equal(heap[i], -3.25, `guard at ${i}`);
        for (let i = base(a) + n; i < base(a) + 80; i++) assert.equal(heap[i], -3.25, `tail ${i}`);
      }
    }
  },
});

Deno.test({
  name: "SIMD relu_grad_sum: relu_grad then sum_rows, bit for bit; every tail; guards",
  ignore: !available,
  fn() {
    const { k, heap } = kernelsOnFreshMemory(16);
    const rng = makeRng(8);
    for (const [M, C] of [[300, 20], [257, 64], [5, 4], [600, 36]]) {
      const n = M * C, dy = 64, y = dy + n + 64, dz = y + n + 64, dz2 = dz + n + 64;
      const acc = dz2 + n + 64, acc2 = acc + 2 * C + 64, part = acc2 + 2 * C + 64;
      const end = part + Math.ceil(M / 256) * C + 64;
      heap.fill(-1.5, 0, end);
      for (let i = 0; i < n; i++) {
        heap[dy + i] = rng() - 0.5;
        heap[y + i] = i % 7 === 0 ? 0 : rng() - 0.3; // y == 0 gives 0, like relu'(0)
      }
      heap.fill(0, acc, acc + 2 * C), heap.fill(0, acc2, acc2 + 2 * C);
      k.relu_grad_sum(4 * dy, 4 * y, 4 * dz, 4 * acc, 4 * part, M, C);
      k.relu_grad(4 * dy, 4 * y, 4 * dz2, n);
      k.sum_rows(4 * dz2, 4 * acc2, M, C);
      assert.deepEqual(heap.slice(dz, dz + n), heap.slice(dz2, dz2 + n), `dz ${M}x${C}`);
      assert.deepEqual(heap.slice(acc, acc + 2 * C), heap.slice(acc2, acc2 + 2 * C), "sums");
      for (const [a, b] of [[0, dy], [dy + n, y], [y + n, dz], [dz + n, dz2]]) {
        for (let i = a; i < b; i++) assert.equal(heap[i], -1.5, `guard at ${i}`);
      }
      for (let i = acc + 2 * C; i < acc2; i++) assert.equal(heap[i], -1.5, `guard at ${i}`);
      for (let i = acc2 + 2 * C; i < part; i++) assert.equal(heap[i], -1.5, `guard at ${i}`);
      const partEnd = part + Math.ceil(M / 256) * C;
      for (let i = partEnd; i < end; i++) assert.equal(heap[i], -1.5, `guard at ${i}`);
    }
  },
});

type Seven = [number, number, number, number, number, number, number];

Deno.test("the kernels module defines no data and imports only a memory", () => {
  const bin = atob(KERNELS_WASM_BASE64);
  const bytes = Uint8Array.from(bin, (ch) => ch.charCodeAt(0));
  // Section ids after the 8-byte header: 11 (data) and 12 (data count) must be absent.
  const ids: number[] = [];
  for (let p = 8; p < bytes.length;) {
    const id = bytes[p++];
    let size = 0, shift = 0, b;
    do {
      b = bytes[p++];
      size |= (b & 0x7f) << shift;
      shift += 7;
    } while (b & 0x80);
    ids.push(id);
    p += size;
  }
  assert.ok(!ids.includes(11) && !ids.includes(12), `sections ${ids}`);
});

Deno.test({
  name: "the kernels module compiles here and imports only a memory",
  ignore: !available,
  fn: () => {
    const bytes = Uint8Array.from(atob(KERNELS_WASM_BASE64), (ch) => ch.charCodeAt(0));
    const mod = new WebAssembly.Module(bytes);
    assert.deepEqual(WebAssembly.Module.imports(mod), [
      { module: "env", name: "memory", kind: "memory" },
    ]);
  },
});

/** Whether clang 16 runs here (spawning a missing program throws). */
async function clangRuns(): Promise<boolean> {
  try {
    return (await new Deno.Command("clang-16", { args: ["--version"], stdout: "null" }).output())
      .success;
  } catch {
    return false;
  }
}
const hasClang = await clangRuns();
if (!hasClang) {
  console.log(
    "kernel rebuild test ignored: clang-16 is not installed (apt-get install -y clang-16 lld-16)",
  );
}

Deno.test({
  name: "kernels_wasm.ts is what kernels.c builds to (where clang 16 is installed)",
  ignore: !hasClang,
  async fn() {
    const dir = await Deno.makeTempDir();
    const committed = await Deno.readTextFile("lib/backend/wasm/simd/kernels_wasm.ts");
    try {
      await Deno.copyFile("lib/backend/wasm/simd/kernels.c", `${dir}/kernels.c`);
      await Deno.copyFile("lib/backend/wasm/simd/build.ts", `${dir}/build.ts`);
      const res = await new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-read", "--allow-write", "--allow-run", `${dir}/build.ts`],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.ok(res.success, new TextDecoder().decode(res.stderr));
      const rebuilt = await Deno.readTextFile(`${dir}/kernels_wasm.ts`);
      assert.equal(rebuilt, committed, "rebuild with `deno task build-kernels` and commit");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
