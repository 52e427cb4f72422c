/**
 * The shape of `outputs/bench/bench.json` (schema `xray-bench/2`). Keys are stable: add new
 * optional keys rather than renaming, and bump {@link SCHEMA} if a meaning changes or a key goes.
 * Version 2 dropped `pytorchReference`, a constant once measured on another machine that every
 * run printed as if it were its own; `deno task bench-pytorch` measures PyTorch on the machine.
 * @module
 */
import type { PhaseTiming } from "./model_bench.ts";
import type { AdapterSummary } from "../lib/backend/webgpu.ts";

/** Schema id written into every result. */
export const SCHEMA = "xray-bench/2";

/** One model's figures. Null fields: the model could not be built or run (see `error`). */
export interface ModelEntry {
  model: string;
  /** The backend it ran on (`backends[].name`). */
  backend?: string;
  /** Why the model could not be benchmarked (e.g. transfer without its base model), else null. */
  error: string | null;
  inputSize: number | null;
  channels: number | null;
  batchSize: number | null;
  params: number | null;
  /** Threads the backend computed with. */
  threads: number | null;
  /** Training with our kernels (`trainOnBatch`, median of the timed steps). */
  train: PhaseTiming | null;
  /** Prediction with our kernels (`predict` of one batch, median). */
  predict: PhaseTiming | null;
  /** Peak RSS (VmHWM) of the subprocess that ran it, MiB. */
  peakRssMiB: number | null;
  /** Same workload with the stock wasm kernels (+ plain versions of the missing ones); null when not run. */
  stock: {
    error: string | null;
    train: PhaseTiming | null;
    predict: PhaseTiming | null;
    peakRssMiB: number | null;
  } | null;
  /** Stock wall ms per image / our wall ms per image. */
  trainSpeedupVsStock: number | null;
  predictSpeedupVsStock: number | null;
  /** The same ratios of CPU ms per image (more robust when the machine is busy). */
  trainSpeedupVsStockCpu: number | null;
  predictSpeedupVsStockCpu: number | null;
}

/** The entry of a model that could not be benchmarked: every figure null, `error` says why. */
export function modelErrorEntry(
  model: string,
  error: string | null,
  backend?: string,
): ModelEntry {
  return {
    model,
    ...(backend ? { backend } : {}),
    error,
    inputSize: null,
    channels: null,
    batchSize: null,
    params: null,
    threads: null,
    train: null,
    predict: null,
    peakRssMiB: null,
    stock: null,
    trainSpeedupVsStock: null,
    predictSpeedupVsStock: null,
    trainSpeedupVsStockCpu: null,
    predictSpeedupVsStockCpu: null,
  };
}

/** One backend the run measured (`--backend a,b` measures several). */
export interface BackendEntry {
  name: string;
  threads: number | null;
  simd: boolean | null;
  /** On wasm: whether our relaxed-SIMD kernels ran the convolutions (lib/backend/wasm/simd). */
  simdKernels?: boolean | null;
  /** On webgpu: the adapter (description, vendor, whether it renders in software); else null. */
  adapter: AdapterSummary | null;
  skipped: { name: string; reason: string }[];
  /** Why the backend could not be initialised (its models were not run), else null. */
  error: string | null;
}

/** The whole result file. */
export interface BenchJson {
  schema: string;
  startedAt: string;
  finishedAt: string;
  machine: {
    cpus: number;
    cpuModel: string;
    memoryGiB: number;
    /** 1-minute load average before and after: other work on the machine skews the timings. */
    loadAverage1mAtStart: number;
    loadAverage1mAtEnd: number;
    deno: string;
  };
  /** The first backend measured (the only one without a `--backend` list). */
  backend: {
    name: string;
    threads: number;
    simd: boolean | null;
    simdKernels?: boolean | null;
    skipped: { name: string; reason: string }[];
    /** On webgpu: the adapter; else null. */
    adapter?: AdapterSummary | null;
  };
  /** Every backend measured, in the order of `--backend`. */
  backends?: BackendEntry[];
  /** One entry per model and backend. */
  models: ModelEntry[];
  /** `benchLoad` of bench/load_bench.ts, or `{error}` when it could not run, or null if skipped. */
  imageLoading: Record<string, unknown> | null;
  /** Two-core data-parallel training figure from lib/train/parallel/trainer.ts, when that module offers one. */
  parallel: Record<string, unknown> | null;
}
