/**
 * Training throughput of {@link DataParallelTrainer} for 0 (in-process), 1, 2... workers on
 * random uint8 images: what `deno task bench` reports for "both cores".
 * @module
 */
import type * as tfl from "@tensorflow/tfjs-layers";
import { makeRng } from "../util/rng.ts";
import { DataParallelTrainer } from "./parallel.ts";
import type { LossName, OptimizerSpec } from "./parallel_step.ts";

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
      const t0 = performance.now();
      for (let s = 0; s < steps; s++) await trainer.trainBatch(x, y, batchSize);
      await trainer.syncTo(model); // waits for the last update too
      const ms = performance.now() - t0;
      const images = steps * batchSize;
      out.push({
        workers,
        batchSize,
        steps,
        backend: trainer.backend,
        imagesPerSecond: images / (ms / 1000),
        msPerImage: ms / images,
      });
    } finally {
      await trainer.dispose();
      model.dispose();
    }
  }
  return out;
}
