/**
 * Training throughput of {@link DataParallelTrainer} for 0 (in-process), 1, 2... workers on
 * random uint8 images: what `deno task bench` reports for "both cores".
 * @module
 */
import type * as tfl from "@tensorflow/tfjs-layers";
import process from "node:process";
import { makeRng } from "../lib/util/rng.ts";
import { DataParallelTrainer } from "../lib/train/parallel/trainer.ts";
import type { LossName, OptimizerSpec } from "../lib/train/step.ts";
import { type CliSpec, helpText, parseCli, runCli } from "../lib/cli/_args.ts";

/** Options of {@link benchParallel}. */
export interface BenchParallelOptions {
  /** Worker counts to compare; 0 = training in this thread (default [0, 2]). */
  workers?: number[];
  /** Images per step (default 8). */
  batchSize?: number;
  /** Timed steps per configuration (default 5). */
  steps?: number;
  /** Untimed steps first (kernel set-up, caches; default 1). */
  warmup?: number;
  /** Default adam, learning rate 1e-3. */
  optimizer?: OptimizerSpec;
  /** Default binaryCrossentropy (targets random 0/1; categorical gets random one-hot rows). */
  loss?: LossName;
  /** Replicas' backend (default: the active one). */
  backend?: string;
  /** Seed of the random pixels and labels (default 0). */
  seed?: number;
}

/** One measured configuration. */
export interface BenchParallelResult {
  workers: number;
  batchSize: number;
  steps: number;
  backend: string;
  imagesPerSecond: number;
  msPerImage: number;
  /**
   * CPU time (user + system, all threads of this process) per image over the timed steps. With
   * free cores, `msPerImage` of n workers approaches `cpuMsPerImage / n`; on a busy machine it
   * shows the work done, independent of how much CPU the scheduler granted.
   */
  cpuMsPerImage: number;
  /**
   * Workers only: mean share of the timed wall time each worker spent computing (1 = never
   * waiting); null for 0 workers. Low values mean the step's serial part (sharding, averaging,
   * messages) or unequal shards hold the workers back.
   */
  workerBusyShare: number | null;
}

/**
 * Trains a fresh model from `modelFactory` for `warmup + steps` steps per worker count and reports
 * images per second over the timed steps (wall clock, including sharding and gradient exchange).
 */
export async function benchParallel(
  modelFactory: () => tfl.LayersModel | Promise<tfl.LayersModel>,
  opts: BenchParallelOptions = {},
): Promise<BenchParallelResult[]> {
  const batchSize = opts.batchSize ?? 8, steps = opts.steps ?? 5, warmup = opts.warmup ?? 1;
  const loss = opts.loss ?? "binaryCrossentropy";
  const out: BenchParallelResult[] = [];
  for (const workers of opts.workers ?? [0, 2]) {
    const model = await modelFactory();
    const per = (model.inputs[0].shape.slice(1) as number[]).reduce((a, b) => a * b, 1);
    const outShape = model.outputs[0].shape;
    const outDim = (outShape[outShape.length - 1] ?? 1) as number;
    const rng = makeRng(opts.seed ?? 0);
    const x = new Uint8Array(batchSize * per);
    for (let i = 0; i < x.length; i++) x[i] = Math.floor(rng() * 256);
    const y = new Float32Array(batchSize * outDim);
    for (let i = 0; i < batchSize; i++) {
      if (outDim === 1) y[i] = rng() < 0.5 ? 0 : 1;
      else y[i * outDim + Math.floor(rng() * outDim)] = 1;
    }
    const trainer = await DataParallelTrainer.create({
      model,
      optimizer: opts.optimizer ?? { name: "adam", learningRate: 1e-3 },
      loss,
      workers,
      backend: opts.backend,
    });
    try {
      for (let s = 0; s < warmup; s++) await trainer.trainBatch(x, y, batchSize);
      // A worker's busy time arrives with each gradient and covers everything before that
      // request: read after the first timed step it covers all work before the timing started.
      let busy0: number[] = [];
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      for (let s = 0; s < steps; s++) {
        await trainer.trainBatch(x, y, batchSize);
        if (s === 0) busy0 = trainer.workerBusyMs();
      }
      await trainer.syncTo(model); // waits for the last update too
      const ms = performance.now() - t0;
      const cpu = process.cpuUsage(c0);
      await trainer.trainBatch(x, y, batchSize); // reports busy time up to the end of the timed steps
      const busy1 = trainer.workerBusyMs();
      const busyShare = busy1.length
        ? busy1.reduce((s, b, i) => s + (b - busy0[i]), 0) / busy1.length / ms
        : null;
      const images = steps * batchSize;
      out.push({
        workers,
        batchSize,
        steps,
        backend: trainer.backend,
        imagesPerSecond: images / (ms / 1000),
        msPerImage: ms / images,
        cpuMsPerImage: (cpu.user + cpu.system) / 1000 / images,
        workerBusyShare: busyShare,
      });
    } finally {
      await trainer.dispose();
      model.dispose();
    }
  }
  return out;
}

/** The flags of the script below. */
const PARALLEL_BENCH_CLI = {
  name: "parallel_bench",
  command: "deno run -A bench/parallel_bench.ts",
  synopsis: [
    "[--model cnn_reg] [--size 150] [--batch 8] [--steps 5] [--warmup 1] " +
    "[--workers 0,2] [--wasm-threads N] [--backend wasm]",
  ],
  about: "Training throughput for 0 (in-process), 1, 2... data-parallel workers; one JSON line " +
    "per configuration.",
  flags: {
    model: { type: "string", arg: "NAME", default: "cnn_reg", help: "registered model" },
    size: { type: "number", arg: "N", integer: true, min: 1, help: "input side (model default)" },
    batch: { type: "number", arg: "N", integer: true, min: 1, default: 8, help: "images per step" },
    steps: { type: "number", arg: "N", integer: true, min: 1, default: 5, help: "timed steps" },
    warmup: { type: "number", arg: "N", integer: true, min: 0, default: 1, help: "untimed steps" },
    workers: { type: "string", arg: "0,2", default: "0,2", help: "worker counts to compare" },
    "wasm-threads": {
      type: "number",
      arg: "N",
      integer: true,
      min: 1,
      help: "run the in-process case on tfjs' threaded wasm build with N threads",
    },
    backend: { type: "string", choices: ["wasm", "cpu"], default: "wasm", help: "TF.js backend" },
  },
} as const satisfies CliSpec;

/**
 * `deno run -A bench/parallel_bench.ts [--model cnn_reg] [--size 150] [--batch 8] [--steps 5]
 * [--warmup 1] [--workers 0,2] [--wasm-threads N] [--backend wasm]`: prints one JSON line per
 * configuration. `--wasm-threads N` runs the in-process (0 workers) case on tfjs' threaded wasm
 * build with N threads (see lib/backend/wasm/threaded.ts); workers always use one thread each.
 */
async function main(args: string[]): Promise<void> {
  const { values: a, help } = parseCli(PARALLEL_BENCH_CLI, args);
  if (help) return console.log(helpText(PARALLEL_BENCH_CLI));
  const { initBackend, describeBackend } = await import("../lib/backend/select.ts");
  const info = await initBackend({ prefer: a.backend });
  let threads = 1;
  if (a["wasm-threads"]) {
    const { enableWasmThreads } = await import("../lib/backend/wasm/threaded.ts");
    threads = (await enableWasmThreads(a["wasm-threads"])).threads;
    await initBackend({ prefer: "wasm" }); // re-registers the gradient kernels on the new instance
  }
  const { createModel } = await import("../lib/models/registry.ts");
  const model = a.model;
  const size = a.size;
  const results = await benchParallel(
    () => createModel(model, { seed: 1, ...(size ? { size } : {}) }),
    {
      workers: a.workers.split(",").map(Number),
      batchSize: a.batch,
      steps: a.steps,
      warmup: a.warmup,
      backend: info.tfName,
    },
  );
  for (const r of results) {
    console.log(
      JSON.stringify({
        model,
        size: size ?? "default",
        mainThreads: r.workers === 0 ? threads : 1,
        ...r,
      }),
    );
  }
  console.error(describeBackend(info));
}

if (import.meta.main) {
  await runCli("parallel_bench", () => main(Deno.args), PARALLEL_BENCH_CLI);
}
