/**
 * Per-kernel profile of training steps: every kernel registered for the active backend is wrapped
 * with a timer measuring this process's CPU time (user + system, `process.cpuUsage`), which other
 * work on the machine disturbs much less than wall time, the main thread's own CPU time (on
 * Linux: with kernel threads, what still runs on one thread) and wall time. Time spent outside kernels (tfjs-layers
 * bookkeeping, random numbers for dropout, JS garbage collection) is reported as "(outside kernels)".
 *
 * ```sh
 * deno run --allow-read --allow-env --allow-ffi --allow-sys bench/profile.ts --model cnn_reg \
 *   --steps 3 [--by-shape] [--top 20] [--kernels reference]
 * ```
 * @module
 */
import process from "node:process";
import { type CliSpec, helpText, parseCli, runCli } from "../lib/cli/_args.ts";
import * as tf from "@tensorflow/tfjs-core";
import {
  getKernelsForBackend,
  type KernelConfig,
  registerKernel,
  unregisterKernel,
} from "@tensorflow/tfjs-core";
import { describeBackend, initBackend } from "../lib/backend/select.ts";
import type { WasmKernelMode } from "../lib/backend/wasm/mod.ts";
import { makeAdam } from "../lib/backend/fused_adam.ts";
import { createModel, getModelSpec } from "../lib/models/registry.ts";
import { threadCpuMs } from "./thread_cpu.ts";

export { threadCpuMs };

/** CPU milliseconds of this process since `since` (or since start). */
export function cpuMs(since?: { user: number; system: number }): number {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1000;
}

/** One row of a profile: a kernel's total CPU ms over the profiled steps and its call count. */
export interface ProfileRow {
  kernel: string;
  cpuMs: number;
  /** CPU ms of the main thread alone (see {@link threadCpuMs}); 0 where unavailable. */
  mainCpuMs: number;
  /** Wall ms (differs from cpuMs where a kernel runs on several threads, or the CPU is busy). */
  wallMs: number;
  calls: number;
}

/**
 * Wraps all kernels of `backendName` with CPU timers while `fn` runs, then restores them. Returns
 * the rows sorted by time, plus the total CPU ms of `fn`.
 */
export async function profileKernels(
  backendName: string,
  fn: () => Promise<void>,
  byShape = false,
): Promise<
  { rows: ProfileRow[]; totalCpuMs: number; totalWallMs: number; totalMainCpuMs: number }
> {
  const tcpu = threadCpuMs ?? (() => 0);
  const originals = getKernelsForBackend(backendName);
  const acc = new Map<string, ProfileRow>();
  let depth = 0; // kernels calling kernels: count the outermost only
  for (const k of originals) {
    const wrapped: KernelConfig = {
      ...k,
      kernelFunc: (args) => {
        if (depth > 0) return k.kernelFunc(args);
        depth++;
        const t0 = process.cpuUsage(), w0 = performance.now(), m0 = tcpu();
        try {
          return k.kernelFunc(args);
        } finally {
          depth--;
          const key = byShape
            ? `${k.kernelName} ${
              Object.values(args.inputs).map((t) =>
                (t as tf.TensorInfo | undefined)?.shape?.join("x") ?? "-"
              ).join(",")
            }`
            : k.kernelName;
          const row = acc.get(key) ??
            { kernel: key, cpuMs: 0, mainCpuMs: 0, wallMs: 0, calls: 0 };
          row.cpuMs += cpuMs(t0);
          row.mainCpuMs += tcpu() - m0;
          row.wallMs += performance.now() - w0;
          row.calls++;
          acc.set(key, row);
        }
      },
    };
    unregisterKernel(k.kernelName, backendName);
    registerKernel(wrapped);
  }
  const t0 = process.cpuUsage(), w0 = performance.now(), m0 = tcpu();
  try {
    await fn();
  } finally {
    for (const k of originals) {
      unregisterKernel(k.kernelName, backendName);
      registerKernel(k);
    }
  }
  const totalCpuMs = cpuMs(t0), totalWallMs = performance.now() - w0, totalMainCpuMs = tcpu() - m0;
  const rows = [...acc.values()].sort((a, b) => b.cpuMs - a.cpuMs);
  const inKernels = rows.reduce((s, r) => s + r.cpuMs, 0);
  const inKernelsWall = rows.reduce((s, r) => s + r.wallMs, 0);
  const inKernelsMain = rows.reduce((s, r) => s + r.mainCpuMs, 0);
  rows.push({
    kernel: "(outside kernels)",
    cpuMs: totalCpuMs - inKernels,
    mainCpuMs: totalMainCpuMs - inKernelsMain,
    wallMs: totalWallMs - inKernelsWall,
    calls: 0,
  });
  return { rows, totalCpuMs, totalWallMs, totalMainCpuMs };
}

/** Profiles `steps` training steps of a registered model (after one warm-up step). */
export async function profileTraining(
  model: string,
  opts: { steps?: number; kernels?: WasmKernelMode; batchSize?: number; byShape?: boolean } = {},
): Promise<
  {
    rows: ProfileRow[];
    totalCpuMs: number;
    totalWallMs: number;
    totalMainCpuMs: number;
    batchSize: number;
    steps: number;
  }
> {
  const info = await initBackend({ wasmKernels: opts.kernels ?? "fast" });
  const spec = getModelSpec(model);
  const batch = opts.batchSize ?? spec.train.batchSize, steps = opts.steps ?? 3;
  const m = await createModel(model, { seed: 1 });
  m.compile({ optimizer: makeAdam(spec.train.learningRate), loss: "binaryCrossentropy" });
  const x = tf.randomUniform(
    [batch, spec.defaultSize, spec.defaultSize, spec.channels],
    0,
    1,
    "float32",
    7,
  );
  const y = tf.tensor2d(Array.from({ length: batch }, (_, i) => i % 2), [batch, 1]);
  await m.trainOnBatch(x, y);
  const res = await profileKernels(info.tfName, async () => {
    for (let i = 0; i < steps; i++) await m.trainOnBatch(x, y);
  }, opts.byShape);
  tf.dispose([x, y]);
  m.dispose();
  return { ...res, batchSize: batch, steps };
}

/** The flags of the script. */
const PROFILE_CLI = {
  name: "profile",
  command: "deno run -A bench/profile.ts",
  synopsis: [
    "[--model cnn_reg] [--steps N] [--kernels fast|reference] [--batch N] [--by-shape] " +
    "[--top N]",
  ],
  about: "CPU time per training step, attributed to kernels.",
  flags: {
    model: { type: "string", arg: "NAME", default: "cnn_reg", help: "registered model" },
    steps: { type: "number", arg: "N", integer: true, min: 1, default: 3, help: "profiled steps" },
    kernels: {
      type: "string",
      choices: ["fast", "reference"],
      default: "fast",
      help: "our wasm kernels or the stock ones",
    },
    batch: { type: "number", arg: "N", integer: true, min: 1, help: "batch size" },
    "by-shape": { type: "boolean", help: "one row per kernel and shape" },
    top: { type: "number", arg: "N", integer: true, min: 1, default: 20, help: "rows shown" },
  },
} as const satisfies CliSpec;

async function main(args: string[]): Promise<void> {
  const { values, help } = parseCli(PROFILE_CLI, args);
  if (help) return console.log(helpText(PROFILE_CLI));
  const kernels = values.kernels;
  const r = await profileTraining(values.model, {
    steps: values.steps,
    kernels,
    batchSize: values.batch,
    byShape: values["by-shape"],
  });
  console.log(describeBackend(await initBackend({ wasmKernels: kernels })));
  const per = (ms: number) => (ms / r.steps).toFixed(1).padStart(9);
  const main = threadCpuMs !== null;
  console.log(
    `${values.model}, batch ${r.batchSize}: ${per(r.totalCpuMs)} CPU ms per step ` +
      `(${(r.totalCpuMs / r.steps / r.batchSize).toFixed(1)} per image), ${
        per(r.totalWallMs)
      } wall ms (CPU time counts every thread)` +
      (main ? `, ${per(r.totalMainCpuMs)} CPU ms of the main thread (the serial part)` : ""),
  );
  const top = r.rows.slice(0, -1).slice(0, values.top);
  for (const row of [...top, r.rows[r.rows.length - 1]]) {
    console.log(
      `  ${row.kernel.padEnd(32)} ${per(row.cpuMs)} CPU ${
        main ? `${per(row.mainCpuMs)} main ` : ""
      }${per(row.wallMs)} wall ms/step ${String(row.calls / r.steps).padStart(6)} calls/step`,
    );
  }
}

if (import.meta.main) await runCli("profile", () => main(Deno.args), PROFILE_CLI);
