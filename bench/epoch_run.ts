/**
 * Subprocess entry of the GPU check (`bench/gpu_check.ts`): trains one registered model on one
 * backend for `--epochs` epochs of in-memory synthetic images through the training engine
 * (`lib/train/train.ts`, one process, no data-parallel workers) and prints one line of JSON on
 * stdout: the time of each epoch (training, batch-norm re-estimation and validation scoring, as
 * the engine records it in metrics.csv). The first epoch includes one-time set-up (shader
 * compilation on webgpu); the last is the warm figure.
 *
 * ```sh
 * deno run --allow-read --allow-write=outputs --allow-env --allow-ffi --allow-sys bench/epoch_run.ts \
 *   --backend webgpu --model compact --size 150 --train-per-class 256 --val-per-class 64
 * ```
 * @module
 */
import { type CliSpec, helpText, parseCli, runCli, UsageError } from "../lib/cli/_args.ts";
import { BACKEND_ORDER, type BackendChoice, initBackend } from "../lib/backend/select.ts";
import type { AdapterSummary } from "../lib/backend/webgpu.ts";
import { getModelSpec } from "../lib/models/registry.ts";
import { resolveConfig } from "../lib/train/config.ts";
import { syntheticTrainData } from "../lib/train/synthetic_data.ts";
import { train } from "../lib/train/train.ts";
import { benchTempDir } from "./permissions.ts";

/** What one epoch run reports. */
export interface EpochRunResult {
  backend: string;
  adapter: AdapterSummary | null;
  model: string;
  size: number;
  channels: number;
  batchSize: number;
  trainImages: number;
  valImages: number;
  /** Seconds per epoch, as the training engine measured them. */
  epochSeconds: number[];
  /** Training images per second in the last epoch (validation scoring included in the time). */
  imagesPerSecond: number;
  /** Validation loss after the last epoch (a sanity check: finite, and the same kind of value on every backend). */
  valLoss: number;
}

/** Runs the epochs in this process; the backend is forced (a software adapter is accepted). */
export async function runEpochs(opts: {
  backend: BackendChoice;
  model: string;
  size: number;
  trainPerClass: number;
  valPerClass: number;
  epochs: number;
  batchSize?: number;
}): Promise<EpochRunResult> {
  const info = await initBackend({ prefer: opts.backend });
  const spec = getModelSpec(opts.model);
  const data = syntheticTrainData({
    trainPerClass: opts.trainPerClass,
    valPerClass: opts.valPerClass,
    size: opts.size,
    channels: spec.channels,
  });
  const out = await benchTempDir("xray-epoch-run-");
  try {
    const cfg = resolveConfig({
      model: opts.model,
      data: "(synthetic, in memory)",
      size: opts.size,
      epochs: opts.epochs,
      batchSize: opts.batchSize,
      out,
      earlyStopping: { metric: "val_loss", patience: opts.epochs + 1 },
    });
    const run = await train(cfg, { data, workers: 0, log: (l) => console.error(l) });
    const last = run.history[run.history.length - 1];
    return {
      backend: info.name,
      adapter: info.adapter,
      model: opts.model,
      size: opts.size,
      channels: spec.channels,
      batchSize: cfg.batchSize,
      trainImages: data.train.records.length,
      valImages: data.val.records.length,
      epochSeconds: run.history.map((h) => Math.round(h.timeS * 100) / 100),
      imagesPerSecond: Math.round((data.train.records.length / last.timeS) * 10) / 10,
      valLoss: last.val.loss,
    };
  } finally {
    await Deno.remove(out, { recursive: true }).catch(() => {});
  }
}

/** The flags of this subprocess entry. */
const EPOCH_RUN_CLI = {
  name: "epoch_run",
  command: "deno run --allow-read --allow-write=outputs --allow-env --allow-ffi --allow-sys " +
    "bench/epoch_run.ts",
  synopsis: [
    "--backend NAME --model NAME [--size N] [--train-per-class N] [--val-per-class N] " +
    "[--epochs N] [--batch N]",
  ],
  about: "Times training epochs of one model on one backend; prints one line of JSON.",
  flags: {
    backend: { type: "string", arg: "NAME", choices: BACKEND_ORDER, help: "backend to force" },
    model: { type: "string", arg: "NAME", help: "registered model" },
    size: { type: "number", arg: "N", integer: true, min: 8, default: 150, help: "input side" },
    "train-per-class": {
      type: "number",
      arg: "N",
      integer: true,
      min: 1,
      default: 256,
      help: "synthetic training images per class",
    },
    "val-per-class": {
      type: "number",
      arg: "N",
      integer: true,
      min: 1,
      default: 64,
      help: "synthetic validation images per class",
    },
    epochs: {
      type: "number",
      arg: "N",
      integer: true,
      min: 1,
      default: 2,
      help: "epochs (the first includes set-up)",
    },
    batch: {
      type: "number",
      arg: "N",
      integer: true,
      min: 1,
      help: "batch (default: the model's)",
    },
  },
} as const satisfies CliSpec;

async function main(args: string[]): Promise<void> {
  const { values: v, help } = parseCli(EPOCH_RUN_CLI, args);
  if (help) return console.log(helpText(EPOCH_RUN_CLI));
  if (!v.backend || !v.model) throw new UsageError("--backend and --model are required");
  // Keep stdout for the JSON line: tfjs prints its banners with console.log.
  const log = console.log;
  console.log = console.error;
  const result = await runEpochs({
    backend: v.backend as BackendChoice,
    model: v.model,
    size: v.size,
    trainPerClass: v["train-per-class"],
    valPerClass: v["val-per-class"],
    epochs: v.epochs,
    batchSize: v.batch,
  });
  log(JSON.stringify(result));
}

if (import.meta.main) await runCli("epoch_run", () => main(Deno.args), EPOCH_RUN_CLI);
