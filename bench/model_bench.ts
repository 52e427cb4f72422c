/**
 * Times training and prediction of one registered model on synthetic input, in this process.
 * `bench/main.ts` runs it in a fresh subprocess per model and kernel set (see
 * `run_model.ts`), so that each peak RSS belongs to one workload.
 * @module
 */
import os from "node:os";
import process from "node:process";
import * as tf from "@tensorflow/tfjs-core";
import { type BackendChoice, type BackendInfo, initBackend } from "../lib/backend/select.ts";
import type { AdapterSummary } from "../lib/backend/webgpu.ts";
import type { WasmKernelMode } from "../lib/backend/wasm/mod.ts";
import { makeOptimizer, optimizerSpecOf } from "../lib/train/step.ts";
import { createModel, getModelSpec } from "../lib/models/registry.ts";
import { DataParallelTrainer } from "../lib/train/parallel/trainer.ts";

/** What to time. */
export interface ModelBenchOptions {
  model: string;
  /** Wasm gradient kernels: "fast" (ours) or "reference" (stock wasm + plain missing kernels). */
  kernels: WasmKernelMode;
  /** Images per training step / prediction batch (default: the model's training batch size). */
  batchSize?: number;
  /** Timed training steps (after `warmup` untimed ones). */
  steps: number;
  /** Untimed steps first (kernel set-up, XNNPACK operator creation). Default 1. */
  warmup?: number;
  /** Input size (default: the model's). */
  size?: number;
  /** Backend to force (default: `initBackend()`'s choice, which honours `XRAY_BACKEND`). */
  backend?: BackendChoice;
  /**
   * Train through that many data-parallel worker replicas (`DataParallelTrainer`, one thread
   * each), as `deno task train` does on 2+ cores; default 0: `trainOnBatch` in this process.
   */
  workers?: number;
}

/** Timing of one phase. */
export interface PhaseTiming {
  /** Milliseconds per image (median step time / batch size). */
  msPerImage: number;
  /** Images per second (batch size / median step seconds). */
  imagesPerSecond: number;
  /**
   * CPU milliseconds of this process per image (median over steps; user + system time of all its
   * threads). Other work on the machine inflates wall time much more than this; with one compute
   * thread it is what the wall time would be on an idle machine.
   */
  cpuMsPerImage: number;
  /** Each timed step, in ms (wall), rounded to 0.1. */
  stepMs: number[];
  /**
   * For each timed step, CPU ms that other processes used on the machine meanwhile (all CPUs'
   * busy time from `os.cpus()` minus this process's): a step is "quiet" when that is at most
   * {@link QUIET_SHARE} of its wall time. Rounded to 0.1.
   */
  othersCpuMs: number[];
  /** Median wall ms per image over the quiet steps (null with fewer than 3 quiet steps). */
  quietMsPerImage: number | null;
}

/** A step is quiet when other processes used at most this share of one CPU during it. */
export const QUIET_SHARE = 0.1;

/** Busy CPU ms of the whole machine so far (all CPUs; from os.cpus(), needs --allow-sys). */
export function machineBusyMs(): number {
  let t = 0;
  for (const c of os.cpus()) t += c.times.user + c.times.nice + c.times.sys + c.times.irq;
  return t;
}

/** Result of {@link benchModel}. */
export interface ModelBenchResult {
  model: string;
  kernels: WasmKernelMode;
  backend: string;
  /** On webgpu: the adapter it ran on; else null. */
  adapter: AdapterSummary | null;
  threads: number;
  /** Data-parallel worker replicas the training steps ran on (0: this process). */
  workers: number;
  inputSize: number;
  channels: number;
  batchSize: number;
  params: number;
  train: PhaseTiming;
  predict: PhaseTiming;
  /** Peak resident set size of this process (VmHWM), MiB. */
  peakRssMiB: number;
}

function cpuMsSince(c0: { user: number; system: number }): number {
  const u = process.cpuUsage(c0);
  return (u.user + u.system) / 1000;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Timing of steps: medians per image, and the median over quiet steps (see PhaseTiming). */
export function timing(
  stepMs: number[],
  cpuMs: number[],
  batch: number,
  othersCpuMs: number[] = [],
): PhaseTiming {
  const m = median(stepMs);
  const quiet = stepMs.filter((t, i) =>
    othersCpuMs[i] !== undefined && othersCpuMs[i] <= QUIET_SHARE * t
  );
  return {
    msPerImage: Math.round((m / batch) * 100) / 100,
    imagesPerSecond: Math.round((batch / (m / 1000)) * 100) / 100,
    cpuMsPerImage: Math.round((median(cpuMs) / batch) * 100) / 100,
    stepMs: stepMs.map((t) => Math.round(t * 10) / 10),
    othersCpuMs: othersCpuMs.map((t) => Math.round(t * 10) / 10),
    quietMsPerImage: quiet.length >= 3 ? Math.round((median(quiet) / batch) * 100) / 100 : null,
  };
}

/** Peak RSS of this process in MiB (Linux VmHWM; current RSS elsewhere). */
export function peakRssMiB(): number {
  try {
    const m = /VmHWM:\s+(\d+)\s+kB/.exec(Deno.readTextFileSync("/proc/self/status"));
    if (m) return Math.round(Number(m[1]) / 1024);
  } catch { /* not Linux */ }
  return Math.round(Deno.memoryUsage().rss / 2 ** 20);
}

/**
 * Builds `opts.model` from the registry, compiles it as the trainer does (the model's optimizer
 * and learning rate, binary cross-entropy), and times `steps` training steps (`trainOnBatch`, or
 * `opts.workers` data-parallel replicas) and `steps` predictions of a batch of seeded
 * uniform-random images.
 */
export async function benchModel(
  opts: ModelBenchOptions,
  backend?: BackendInfo,
): Promise<ModelBenchResult> {
  const info = backend ?? (await initBackend({ wasmKernels: opts.kernels, prefer: opts.backend }));
  const spec = getModelSpec(opts.model);
  const size = opts.size ?? spec.defaultSize;
  const batch = opts.batchSize ?? spec.train.batchSize;
  const warmup = opts.warmup ?? 1;
  const model = await createModel(opts.model, { size, seed: 1 });
  // The optimizer training uses (Adam is fused with our kernels, tf.train.adam without them).
  const optimizer = makeOptimizer(optimizerSpecOf(spec.train));
  model.compile({ optimizer, loss: "binaryCrossentropy" });
  const x = tf.randomUniform([batch, size, size, spec.channels], 0, 1, "float32", 7);
  const y = tf.tensor2d(Array.from({ length: batch }, (_, i) => i % 2), [batch, 1]);
  const train: number[] = [], trainCpu: number[] = [], trainOthers: number[] = [];
  const workers = opts.workers ?? 0;
  const trainer = workers > 0
    ? await DataParallelTrainer.create({
      model,
      optimizer: optimizerSpecOf(spec.train),
      loss: "binaryCrossentropy",
      workers,
    })
    : null;
  const xs = trainer ? x.dataSync() as Float32Array : null;
  const ys = trainer ? y.dataSync() as Float32Array : null;
  try {
    for (let i = 0; i < warmup + opts.steps; i++) {
      const t0 = performance.now(), c0 = process.cpuUsage(), m0 = machineBusyMs();
      // Both return once the step's update is applied (the loss is read back).
      if (trainer) await trainer.trainBatch(xs!, ys!, batch);
      else await model.trainOnBatch(x, y);
      if (i >= warmup) {
        const own = cpuMsSince(c0);
        train.push(performance.now() - t0), trainCpu.push(own);
        trainOthers.push(Math.max(0, machineBusyMs() - m0 - own));
      }
    }
  } finally {
    await trainer?.dispose();
  }
  const predict: number[] = [], predictCpu: number[] = [], predictOthers: number[] = [];
  for (let i = 0; i < warmup + opts.steps; i++) {
    const t0 = performance.now(), c0 = process.cpuUsage(), m0 = machineBusyMs();
    const p = model.predict(x) as tf.Tensor;
    await p.data();
    p.dispose();
    if (i >= warmup) {
      const own = cpuMsSince(c0);
      predict.push(performance.now() - t0), predictCpu.push(own);
      predictOthers.push(Math.max(0, machineBusyMs() - m0 - own));
    }
  }
  const params = model.countParams();
  tf.dispose([x, y]);
  model.dispose();
  optimizer.dispose();
  return {
    model: opts.model,
    kernels: opts.kernels,
    backend: info.name,
    adapter: info.adapter,
    threads: info.threads,
    workers,
    inputSize: size,
    channels: spec.channels,
    batchSize: batch,
    params,
    train: timing(train, trainCpu, batch, trainOthers),
    predict: timing(predict, predictCpu, batch, predictOthers),
    peakRssMiB: peakRssMiB(),
  };
}
