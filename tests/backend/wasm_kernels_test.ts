/**
 * Every gradient kernel we register on wasm (fast and reference versions), and the stock wasm
 * gradient kernels our models use, against the cpu backend. Error measure: max |wasm - cpu| over
 * the tensor divided by max |cpu| (normwise relative error), must be <= 1e-4.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../../lib/backend/select.ts";
import { setWasmKernels, type WasmKernelMode } from "../../lib/backend/wasm/mod.ts";
import { makeRng } from "../../lib/util/rng.ts";
import { rand, relErr, run } from "./_kernel_check.ts";

const TOL = 1e-4;
type Inputs = Record<string, { shape: number[]; data: Float32Array }>;

/** Runs one kernel on the current backend with fresh tensors; returns its output data. */

async function compare(kernel: string, inputs: Inputs, attrs: object, modes: WasmKernelMode[]) {
  await initBackend({ prefer: "cpu" });
  const want = run(kernel, inputs, attrs);
  await initBackend({ prefer: "wasm" });
  for (const mode of modes) {
    setWasmKernels(mode);
    const got = run(kernel, inputs, attrs);
    assert.deepEqual(got.shape, want.shape, `${kernel} (${mode}) shape`);
    const e = relErr(got.data, want.data);
    assert.ok(e <= TOL, `${kernel} (${mode}) ${JSON.stringify(attrs)}: rel err ${e}`);
  }
  setWasmKernels("fast");
}

const convCases: { x: number[]; f: number[]; s: number; pad: "same" | "valid" }[] = [
  { x: [2, 9, 9, 3], f: [3, 3, 3, 4], s: 1, pad: "valid" },
  { x: [2, 9, 9, 3], f: [3, 3, 3, 4], s: 1, pad: "same" },
  { x: [1, 10, 7, 5], f: [3, 3, 5, 6], s: 2, pad: "valid" },
  { x: [3, 11, 8, 2], f: [3, 2, 2, 5], s: 2, pad: "same" },
  { x: [2, 6, 6, 4], f: [1, 1, 4, 3], s: 1, pad: "valid" },
  { x: [1, 13, 12, 3], f: [5, 5, 3, 2], s: 2, pad: "same" },
  // More than 4 input channels: the input gradient is a convolution (4 or fewer: col2im).
  { x: [2, 11, 9, 6], f: [3, 3, 6, 4], s: 2, pad: "same" },
  { x: [1, 8, 8, 8], f: [2, 2, 8, 3], s: 1, pad: "same" },
  // K = KH*KW*CI < CO: the filter gradient takes its other layout (dyT · col).
  { x: [2, 9, 9, 1], f: [3, 3, 1, 16], s: 1, pad: "valid" },
  { x: [2, 10, 9, 2], f: [3, 3, 2, 32], s: 2, pad: "same" },
  // ... over more than one chunk of 4096 rows (B·OH·OW = 4608).
  { x: [2, 50, 50, 1], f: [3, 3, 1, 16], s: 1, pad: "valid" },
  // colT · dy over several chunks of ~8000 columns.
  { x: [2, 70, 70, 2], f: [3, 3, 2, 4], s: 1, pad: "valid" },
  { x: [2, 190, 190, 1], f: [3, 3, 1, 1], s: 2, pad: "same" },
];

function outShape(c: (typeof convCases)[number]): number[] {
  const info = tf.backend_util.computeConv2DInfo(
    c.x as [number, number, number, number],
    c.f as [number, number, number, number],
    c.s,
    1,
    c.pad,
  );
  return info.outShape;
}

Deno.test("Conv2DBackpropFilter and Conv2DBackpropInput match cpu (strides 1, 2; same, valid)", async () => {
  for (const [i, c] of convCases.entries()) {
    const dy = rand(outShape(c), 100 + i);
    const base = { strides: c.s, pad: c.pad, dataFormat: "NHWC", dimRoundingMode: undefined };
    await compare("Conv2DBackpropFilter", { x: rand(c.x, i), dy }, { ...base, filterShape: c.f }, [
      "fast",
      "reference",
    ]);
    await compare("Conv2DBackpropInput", { dy, filter: rand(c.f, 50 + i) }, {
      ...base,
      inputShape: c.x,
    }, [
      "fast",
      "reference",
    ]);
  }
});

Deno.test("depthwise conv backprops match cpu", async () => {
  for (const [i, c] of convCases.slice(0, 4).entries()) {
    const f = [c.f[0], c.f[1], c.x[3], 2];
    const info = tf.backend_util.computeConv2DInfo(
      c.x as never,
      f as never,
      c.s,
      1,
      c.pad,
      undefined,
      true,
    );
    const dy = rand(info.outShape, 200 + i);
    const base = { strides: c.s, pad: c.pad, dilations: 1, dimRoundingMode: undefined };
    await compare("DepthwiseConv2dNativeBackpropFilter", { x: rand(c.x, i), dy }, {
      ...base,
      filterShape: f,
    }, [
      "fast",
    ]);
    await compare("DepthwiseConv2dNativeBackpropInput", { dy, filter: rand(f, 9 + i) }, {
      ...base,
      inputShape: c.x,
    }, [
      "fast",
    ]);
  }
});

Deno.test("MaxPoolGrad and AvgPoolGrad match cpu", async () => {
  const cases: { x: number[]; k: number; s: number; pad: "same" | "valid" }[] = [
    { x: [2, 8, 8, 3], k: 2, s: 2, pad: "valid" },
    { x: [1, 9, 7, 4], k: 2, s: 2, pad: "valid" },
    { x: [2, 9, 7, 2], k: 3, s: 2, pad: "same" },
    { x: [1, 6, 6, 5], k: 3, s: 1, pad: "same" },
  ];
  for (const [i, c] of cases.entries()) {
    for (const signed of [true, false]) await checkPool(c, i, signed);
  }
});

/**
 * Stock wasm MaxPoolGrad gives no gradient to a window whose maximum is negative (it starts its
 * running maximum at 0, it seems), so it is checked (as "reference") on non-negative inputs only,
 * which is what a max-pool after ReLU sees; our fast kernel is checked on signed inputs.
 */
async function checkPool(
  c: { x: number[]; k: number; s: number; pad: "same" | "valid" },
  i: number,
  signed: boolean,
) {
  {
    const info = tf.backend_util.computePool2DInfo(c.x as never, c.k, c.s, 1, c.pad);
    const x = rand(c.x, 300 + i);
    if (!signed) x.data = x.data.map(Math.abs);
    // The forward output is an input of MaxPoolGrad; compute it with the cpu backend.
    await initBackend({ prefer: "cpu" });
    const xt = tf.tensor4d(x.data, x.shape as [number, number, number, number]);
    const y = tf.maxPool(xt, c.k, c.s, c.pad);
    const output = { shape: y.shape as number[], data: y.dataSync() as Float32Array };
    tf.dispose([xt, y]);
    const dy = rand(info.outShape, 400 + i);
    const attrs = { filterSize: c.k, strides: c.s, pad: c.pad, dimRoundingMode: undefined };
    await compare(
      "MaxPoolGrad",
      { dy, input: x, output },
      attrs,
      signed ? ["fast"] : ["fast", "reference"],
    );
    await compare("AvgPoolGrad", { dy, input: x }, attrs, ["fast"]);
  }
}

Deno.test("stock wasm MaxPoolGrad drops gradients of negative maxima (why we replace it)", async () => {
  await initBackend({ prefer: "wasm", wasmKernels: "reference" });
  const v = [1, 5, 3, 2, 4, 0, 9, 1, 2, 2, 8, 7, 6, 1, 0, 3];
  const x = tf.tensor4d([...v, ...v].map((a, i) => (i % 2 ? a : -a)), [1, 4, 4, 2]);
  const dy = tf.tensor4d([10, 11, 20, 21, 30, 31, 40, 41], [1, 2, 2, 2]);
  const output = tf.maxPool(x, 2, 2, "valid");
  const attrs = { filterSize: 2, strides: 2, pad: "valid" };
  const grad = () =>
    Array.from(
      (tf.engine().runKernel("MaxPoolGrad", { dy, input: x, output }, attrs) as tf.Tensor)
        .dataSync(),
    );
  const stock = grad();
  setWasmKernels("fast");
  const fast = grad();
  const want = new Array(32).fill(0);
  for (
    const [i, g] of [[0, 10], [11, 11], [14, 20], [15, 21], [16, 30], [27, 31], [30, 40], [31, 41]]
  ) want[i] = g;
  assert.deepEqual(fast, want);
  // Channel 0 (all values <= 0) loses the gradients 20, 30 and 40 in the stock kernel.
  assert.deepEqual(stock.filter((g) => g !== 0).sort(), [10, 11, 21, 31, 41]);
  tf.dispose([x, dy, output]);
});

Deno.test("BatchMatMul with and without transposes matches cpu", async () => {
  for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]]) {
    const [m, k, n] = [7, 33, 5];
    const a = rand(ta ? [2, k, m] : [2, m, k], 1), b = rand(tb ? [2, n, k] : [2, k, n], 2);
    await compare("BatchMatMul", { a, b }, { transposeA: ta, transposeB: tb }, [
      "fast",
      "reference",
    ]);
  }
  // Rank 2, one side transposed, shapes where transposing the other operand and the result is
  // cheaper (a Dense kernel gradient xᵀ·dy) and where it is not.
  for (
    const [ta, tb, as, bs] of [
      [true, false, [6, 300], [6, 3]],
      [true, false, [6, 3], [6, 300]],
      [false, true, [300, 6], [3, 6]],
      [false, true, [3, 6], [300, 6]],
    ] as [boolean, boolean, number[], number[]][]
  ) {
    await compare("BatchMatMul", { a: rand(as, 3), b: rand(bs, 4) }, {
      transposeA: ta,
      transposeB: tb,
    }, ["fast"]);
  }
});

Deno.test("Sum over leading axes (bias gradients) and other axes matches cpu", async () => {
  const x = rand([3, 5, 4, 6], 77);
  for (const axis of [[0, 1, 2], [0], [0, 1], [1, 2], [3], [0, 1, 2, 3]]) {
    for (const keepDims of [false, true]) await compare("Sum", { x }, { axis, keepDims }, ["fast"]);
  }
});

Deno.test("Mean over leading axes and Tile match cpu", async () => {
  const x = rand([3, 5, 4, 6], 78);
  for (const axis of [[0, 1, 2], [0], [1, 2], [3]]) {
    for (const keepDims of [false, true]) {
      await compare("Mean", { x }, { axis, keepDims }, ["fast"]);
    }
  }
  for (
    const [shape, reps] of [
      [[1, 1, 1, 5], [3, 4, 2, 1]],
      [[2, 3], [2, 3]],
      [[3, 1, 2], [1, 4, 1]],
      [[4], [3]],
    ]
  ) {
    await compare("Tile", { x: rand(shape, 79) }, { reps }, ["fast"]);
  }
});

Deno.test("Identity and same-dtype Cast share data safely: the copy outlives its source", async () => {
  await initBackend({ prefer: "wasm" });
  const x = tf.tensor([1, 2, 3]);
  const y = tf.clone(x);
  x.dispose();
  assert.deepEqual(Array.from(y.dataSync()), [1, 2, 3]);
  const v = tf.variable(y);
  y.dispose();
  v.assign(tf.tensor([4, 5, 6]));
  assert.deepEqual(Array.from(v.dataSync()), [4, 5, 6]);
  v.dispose();
  const f = tf.tensor([1.5, -2.25]);
  const same = tf.cast(f, "float32"), int = tf.cast(f, "int32");
  f.dispose();
  assert.deepEqual(Array.from(same.dataSync()), [1.5, -2.25]);
  assert.equal(int.dtype, "int32");
  assert.deepEqual(Array.from(int.dataSync()), [1, -2]);
  tf.dispose([same, int]);
});

Deno.test("conv gradients match cpu on seeded random shapes", async () => {
  const rng = makeRng(2024);
  const int = (lo: number, hi: number) => lo + Math.floor(rng() * (hi - lo + 1));
  for (let i = 0; i < 8; i++) {
    const kh = int(1, 4), kw = int(1, 4), s = int(1, 2);
    const c = {
      x: [int(1, 3), int(kh, 12), int(kw, 12), int(1, 7)],
      f: [kh, kw, 0, int(1, 9)],
      s,
      pad: rng() < 0.5 ? "same" as const : "valid" as const,
    };
    c.f[2] = c.x[3];
    const dy = rand(outShape(c), 500 + i);
    const base = { strides: c.s, pad: c.pad, dataFormat: "NHWC", dimRoundingMode: undefined };
    const what = JSON.stringify(c);
    await compare("Conv2DBackpropFilter", { x: rand(c.x, 600 + i), dy }, {
      ...base,
      filterShape: c.f,
    }, ["fast"])
      .catch((e) => assert.fail(`${what}: ${e.message}`));
    await compare("Conv2DBackpropInput", { dy, filter: rand(c.f, 700 + i) }, {
      ...base,
      inputShape: c.x,
    }, ["fast"])
      .catch((e) => assert.fail(`${what}: ${e.message}`));
  }
});
