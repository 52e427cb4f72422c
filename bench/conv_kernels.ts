/**
 * Speed of cnn_reg's two big convolution layers on the wasm backend, each pass on its own:
 * the forward convolution, the filter gradient and the input gradient of the second layer
 * (8x74x74x64 -> 32, 3x3) and the forward and filter gradient of the first (8x150x150x3 -> 64),
 * with Winograd F(2x2, 3x3) on and off (`lib/backend/wasm/conv.ts`). Prints, per pass, the best
 * wall ms of `--reps` calls (the wasm backend computes inside the call; nothing is read back) and the GFLOP/s of the direct convolution's multiply-adds (2 per
 * multiply-add; Winograd does fewer, so its figure is the direct-equivalent rate). Threads as
 * `XRAY_WASM_THREADS` says (default: the backend's).
 *
 * ```sh
 * XRAY_WASM_THREADS=1 deno run -A bench/conv_kernels.ts [--reps 5] [--json]
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { type CliSpec, helpText, parseCli, runCli } from "../lib/cli/_args.ts";
import { describeBackend, initBackend } from "../lib/backend/select.ts";
import { setWinogradEnabled } from "../lib/backend/wasm/conv.ts";

const CONV_KERNELS_CLI = {
  name: "conv_kernels",
  command: "deno run -A bench/conv_kernels.ts",
  synopsis: ["[--reps N] [--json]"],
  about: "Times cnn_reg's big convolution passes on wasm, Winograd on and off.",
  flags: {
    reps: { type: "number", arg: "N", integer: true, min: 1, default: 5, help: "timed calls" },
    json: { type: "boolean", help: "print one JSON object instead of the table" },
  },
} as const satisfies CliSpec;

/** One timed pass: its best wall ms over the calls and the direct-equivalent GFLOP/s. */
export interface ConvPassResult {
  pass: string;
  winograd: boolean;
  ms: number;
  gflops: number;
}

/** The passes: name, a function making the output, and the direct convolution's FLOPs. */
function passes(): [string, () => tf.Tensor, number][] {
  const grad = (x: tf.Tensor, dy: tf.Tensor, filterShape: number[]) =>
    tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, {
      strides: [1, 1],
      pad: "valid",
      dataFormat: "NHWC",
      filterShape,
    } as never) as tf.Tensor;
  const x2 = tf.randomNormal([8, 74, 74, 64]) as tf.Tensor4D;
  const w2 = tf.randomNormal([3, 3, 64, 32]) as tf.Tensor4D;
  const dy2 = tf.randomNormal([8, 72, 72, 32]) as tf.Tensor4D;
  const f2 = 2 * 8 * 72 * 72 * 32 * 3 * 3 * 64;
  const x1 = tf.randomNormal([8, 150, 150, 3]) as tf.Tensor4D;
  const w1 = tf.randomNormal([3, 3, 3, 64]) as tf.Tensor4D;
  const dy1 = tf.randomNormal([8, 148, 148, 64]) as tf.Tensor4D;
  const f1 = 2 * 8 * 148 * 148 * 64 * 3 * 3 * 3;
  return [
    ["layer 2 forward", () => tf.conv2d(x2, w2, 1, "valid"), f2],
    ["layer 2 filter gradient", () => grad(x2, dy2, [3, 3, 64, 32]), f2],
    ["layer 2 input gradient", () => tf.conv2dTranspose(dy2, w2, [8, 74, 74, 64], 1, "valid"), f2],
    ["layer 1 forward", () => tf.conv2d(x1, w1, 1, "valid"), f1],
    ["layer 1 filter gradient", () => grad(x1, dy1, [3, 3, 3, 64]), f1],
  ];
}

/** Times every pass with Winograd on, then off. */
export function benchConvKernels(reps: number): ConvPassResult[] {
  const out: ConvPassResult[] = [];
  const all = passes();
  for (const winograd of [true, false]) {
    const was = setWinogradEnabled(winograd);
    try {
      for (const [pass, fn, flops] of all) {
        for (let i = 0; i < 2; i++) tf.dispose(fn());
        let best = Infinity;
        for (let i = 0; i < reps; i++) {
          // The wasm backend runs a kernel inside the call: no read-back (copying a 45 MB output
          // into a fresh JS buffer took as long as the first layer's convolution).
          const t0 = performance.now();
          const y = fn();
          best = Math.min(best, performance.now() - t0);
          y.dispose();
        }
        out.push({ pass, winograd, ms: round(best, 1), gflops: round(flops / (best * 1e6), 1) });
      }
    } finally {
      setWinogradEnabled(was);
    }
  }
  return out;
}

function round(v: number, d: number): number {
  return Math.round(v * 10 ** d) / 10 ** d;
}

async function main(args: string[]): Promise<void> {
  const { values, help } = parseCli(CONV_KERNELS_CLI, args);
  if (help) return console.log(helpText(CONV_KERNELS_CLI));
  const log = console.log;
  console.log = console.error; // tfjs prints its banners with console.log
  const info = await initBackend({ prefer: "wasm" });
  const rows = benchConvKernels(values.reps);
  if (values.json) return log(JSON.stringify({ backend: describeBackend(info), rows }));
  log(describeBackend(info));
  log("| pass | Winograd ms | GFLOP/s | direct ms | GFLOP/s |\n| --- | --- | --- | --- | --- |");
  for (const r of rows.filter((r) => r.winograd)) {
    const d = rows.find((o) => !o.winograd && o.pass === r.pass)!;
    log(`| ${r.pass} | ${r.ms} | ${r.gflops} | ${d.ms} | ${d.gflops} |`);
  }
}

if (import.meta.main) await runCli("conv_kernels", () => main(Deno.args), CONV_KERNELS_CLI);
