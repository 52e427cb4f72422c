/**
 * One training epoch on H7's data-parallel workers (`DataParallelTrainer`, lib/train/parallel/trainer.ts):
 * the same shuffling, augmentation and per-sample loss weights as the in-process loop in
 * train.ts, with the forward/backward pass split over `workers` replicas.
 * @module
 */
import type * as tfl from "@tensorflow/tfjs-layers";
import type { Preprocessing } from "../../models/types.ts";
import { makeRng, shuffle } from "../../util/rng.ts";
import type { TrainConfig } from "../config.ts";
import { augmentOptionsFor } from "../augment.ts";
import { fillBatch, type TrainData } from "../data.ts";
import { DataParallelTrainer, type NamedTensor } from "./trainer.ts";
import { toBinary } from "../predict.ts";

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
  if (cfg.optimizer === "rmsprop" || cfg.lrDecay !== 1) {
    throw new Error(
      `--workers supports adam and sgd at a constant learning rate (run "${cfg.name}" has ` +
        `optimizer ${cfg.optimizer}, lrDecay ${cfg.lrDecay}); use --workers 0`,
    );
  }
  return DataParallelTrainer.create({
    model,
    optimizer: { name: cfg.optimizer, learningRate: cfg.learningRate },
    loss: cfg.classes === 2 ? "binaryCrossentropy" : "categoricalCrossentropy",
    workers,
    seed: cfg.seed,
    optimizerWeights,
  });
}

/** Trains one epoch with `trainer`; same return value as the in-process epoch. */
export async function trainEpochParallel(
  trainer: DataParallelTrainer,
  data: TrainData,
  cfg: TrainConfig,
  pre: Preprocessing,
  epoch: number,
): Promise<{ y: number[]; p: number[]; loss: number }> {
  const split = data.train;
  const n = split.records.length;
  const order = shuffle(Array.from({ length: n }, (_, i) => i), makeRng(cfg.seed * 7919 + epoch));
  const augRng = cfg.augment ? makeRng(cfg.seed * 104729 + epoch) : null;
  const ys: number[] = [], ps: number[] = [];
  let lossSum = 0;
  for (let start = 0; start < n; start += cfg.batchSize) {
    const idx = order.slice(start, start + cfg.batchSize);
    const b = idx.length;
    const x = new Float32Array(b * split.imageBytes);
    fillBatch(split, idx, pre, x, augRng, augmentOptionsFor(cfg.augmentation));
    const labels = idx.map((i) => split.labels[i]);
    const y = new Float32Array(b * (cfg.classes === 2 ? 1 : 3));
    labels.forEach((l, k) => (cfg.classes === 2 ? (y[k] = l) : (y[k * 3 + l] = 1)));
    const sampleWeights = Float32Array.from(labels, (l) => data.classWeights?.[l] ?? 1);
    const res = await trainer.trainBatch(x, y, b, { sampleWeights });
    lossSum += res.loss * b;
    const probs = toBinary(res.outputs, cfg.classes);
    for (let k = 0; k < b; k++) {
      ys.push(labels[k] > 0 ? 1 : 0);
      ps.push(probs[k]);
    }
  }
  return { y: ys, p: ps, loss: lossSum / n };
}
