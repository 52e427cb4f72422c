/**
 * The data-parallel workers of a training run: {@link startWorkers} starts a
 * `DataParallelTrainer` (`trainer.ts`) with the run's optimizer and loss (`../step.ts`), and
 * {@link workerStep} makes it the {@link BatchStep} that `trainEpoch` feeds, so the in-process
 * and the worker paths run the same epoch loop, loss and optimizer.
 * @module
 */
import type * as tfl from "@tensorflow/tfjs-layers";
import type { BackendInfo } from "../../backend/select.ts";
import type { TrainConfig } from "../config.ts";
import { type BatchStep, lossNameFor, optimizerSpecOf } from "../step.ts";
import { DataParallelTrainer, type NamedTensor } from "./trainer.ts";

/**
 * The data-parallel workers a run uses when none are asked for: the one place that decides it
 * (the train CLI, the benchmarks and `train()` callers use it).
 *
 * - 0 on a GPU backend (webgpu, tfjs-node-gpu): the device is the parallel part, and each worker
 *   would open its own.
 * - 0 on wasm with kernel threads (`backend.threads` > 1, from `XRAY_WASM_THREADS` or the cores):
 *   every kernel of the step is already split over the cores (lib/backend/wasm/simd/pool.ts), so
 *   replicas would only fight over them; the in-process step skips the gradient exchange and the
 *   second Adam update. Measured on the 2-core EPYC, cnn_reg batch 8, on steps when no other
 *   process ran: kernel threads ~1.65x one thread vs ~1.43x for 2 data-parallel workers (see
 *   lib/backend/README.md).
 * - 0 for `transfer` and `finetune` (their nested base does not survive the rebuild from JSON
 *   that replicas do, see {@link startWorkers}).
 * - else 2 on a machine with 2 or more cores (one-threaded wasm, cpu, tfjs-node), else 0.
 */
export function defaultTrainWorkers(
  cfg: Pick<TrainConfig, "model">,
  backend: Pick<BackendInfo, "name" | "threads">,
): number {
  if (backend.name === "webgpu" || backend.name === "tfjs-node-gpu") return 0;
  if (backend.name === "wasm" && backend.threads > 1) return 0;
  if (cfg.model === "transfer" || cfg.model === "finetune") return 0;
  return navigator.hardwareConcurrency >= 2 ? 2 : 0;
}

/** Starts the replicas for `model` (optionally resuming optimizer state). */
export function startWorkers(
  model: tfl.LayersModel,
  cfg: TrainConfig,
  workers: number,
  optimizerWeights?: NamedTensor[],
): Promise<DataParallelTrainer> {
  if (cfg.model === "transfer" || cfg.model === "finetune") {
    // Workers rebuild the model from its JSON, which does not keep the nested base frozen, so
    // their weight order differs ("Layer weight shape ... not compatible").
    throw new Error(
      `--workers does not support the ${cfg.model} model (run "${cfg.name}"); use --workers 0`,
    );
  }
  return DataParallelTrainer.create({
    model,
    optimizer: optimizerSpecOf(cfg),
    loss: lossNameFor(cfg.classes),
    workers,
    seed: cfg.seed,
    optimizerWeights,
  });
}

/** The batch step of `trainer`: the batch split over its replicas, one averaged update. */
export function workerStep(trainer: DataParallelTrainer): BatchStep {
  return (x, y, n, sampleWeights) => trainer.trainBatch(x, y, n, { sampleWeights });
}
