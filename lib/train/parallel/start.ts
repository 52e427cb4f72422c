/**
 * The data-parallel workers of a training run: {@link startWorkers} starts a
 * `DataParallelTrainer` (`trainer.ts`) with the run's optimizer and loss (`../step.ts`), and
 * {@link workerStep} makes it the {@link BatchStep} that `trainEpoch` feeds, so the in-process
 * and the worker paths run the same epoch loop, loss and optimizer.
 * @module
 */
import type * as tfl from "@tensorflow/tfjs-layers";
import type { TrainConfig } from "../config.ts";
import { type BatchStep, lossNameFor, optimizerSpecOf } from "../step.ts";
import { DataParallelTrainer, type NamedTensor } from "./trainer.ts";

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
