/**
 * The training step, written once for every path that trains: the optimizer a config asks for,
 * the loss, the gradient and the update, and the epoch's batch loop. The in-process loop of
 * `train.ts` calls {@link localStep}; the data-parallel workers (`parallel/_worker.ts`) call
 * {@link shardGradients} and {@link applyFlatGradients}, the same loss and optimizer split in two
 * halves around the gradient exchange; {@link trainEpoch} feeds either one the same batches.
 *
 * The loss is the one `tfl.LayersModel.fit` minimises:
 * `mean(loss_i * sampleWeight_i) + sum(regularisation losses)`. Because it is an average, the
 * full-batch loss and gradient are the shard ones averaged with weights `n_k / N`; the
 * regularisation term is in every shard's loss and so comes out once.
 *
 * @example
 * ```ts
 * import { localStep, makeOptimizer, optimizerSpecOf } from "./step.ts";
 * // const step = localStep(model, makeOptimizer(optimizerSpecOf(cfg)), lossNameFor(cfg.classes));
 * // const { loss, outputs } = step(x, y, n, sampleWeights);
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { makeAdam } from "../backend/fused_adam.ts";
import type { Preprocessing } from "../models/types.ts";
import { makeRng, shuffle } from "../util/rng.ts";
import type { TrainConfig } from "./config.ts";
import { fillBatch, type SplitData, toBinary, type TrainData } from "./batch.ts";
import { augmentOptionsFor } from "./augment.ts";
import { mixBatch } from "./mixup.ts";

/** Loss functions supported (the Keras names). */
export type LossName = "binaryCrossentropy" | "categoricalCrossentropy";

/**
 * An optimizer with tfjs' defaults for everything but the learning rate: `adam` (`tf.train.adam`'s
 * maths, fused), `sgd` (`tf.train.sgd`, or `tf.train.momentum` when `momentum` > 0), `rmsprop`
 * (`tf.train.rmsprop`).
 */
export interface OptimizerSpec {
  name: "adam" | "sgd" | "rmsprop";
  learningRate: number;
  /** Only for sgd: momentum (default 0 = plain SGD). */
  momentum?: number;
}

/** The momentum a config's `optimizer: "sgd"` trains with (Keras' usual SGD for CNNs). */
export const SGD_MOMENTUM = 0.9;

/** The optimizer a training config asks for: `sgd` means SGD with {@link SGD_MOMENTUM}. */
export function optimizerSpecOf(
  cfg: Pick<TrainConfig, "optimizer" | "learningRate">,
): OptimizerSpec {
  return cfg.optimizer === "sgd"
    ? { name: "sgd", learningRate: cfg.learningRate, momentum: SGD_MOMENTUM }
    : { name: cfg.optimizer, learningRate: cfg.learningRate };
}

/** The loss of a binary (sigmoid) or three-class (softmax) head. */
export function lossNameFor(classes: 2 | 3): LossName {
  return classes === 2 ? "binaryCrossentropy" : "categoricalCrossentropy";
}

/** Builds a fresh optimizer from its spec; a bad spec is an error that names the bad value. */
export function makeOptimizer(spec: OptimizerSpec): tf.Optimizer {
  if (!(spec.learningRate > 0)) {
    throw new Error(`train step: learningRate must be > 0, got ${spec.learningRate}`);
  }
  if (spec.name === "adam") return makeAdam(spec.learningRate); // = tf.train.adam, fused
  if (spec.name === "sgd") {
    return spec.momentum
      ? tf.train.momentum(spec.learningRate, spec.momentum)
      : tf.train.sgd(spec.learningRate);
  }
  if (spec.name === "rmsprop") return tf.train.rmsprop(spec.learningRate);
  throw new Error(
    `train step: unknown optimizer ${
      JSON.stringify((spec as OptimizerSpec).name)
    } (adam, sgd, rmsprop)`,
  );
}

/**
 * Sets the learning rate of an optimizer made by {@link makeOptimizer}. tfjs' SGD and momentum
 * optimizers keep the rate in a cached scalar that only `setLearningRate` renews; Adam and
 * RMSProp read the `learningRate` field at every step.
 */
export function setLearningRate(optimizer: tf.Optimizer, lr: number): void {
  const o = optimizer as unknown as { learningRate: number; setLearningRate?(lr: number): void };
  if (typeof o.setLearningRate === "function") o.setLearningRate(lr);
  else o.learningRate = lr;
}

/** The trainable variables of a model, in `model.trainableWeights` order. */
export function trainableVariables(model: tfl.LayersModel): tf.Variable[] {
  return model.trainableWeights.map((w) => w.read() as tf.Variable);
}

/** Total number of scalars in the given variables (the length of a flat gradient). */
export function flatSize(vars: tf.Variable[]): number {
  return vars.reduce((s, v) => s + v.size, 0);
}

function perSampleLoss(name: LossName, yTrue: tf.Tensor, yPred: tf.Tensor): tf.Tensor {
  if (name === "binaryCrossentropy") return tfl.metrics.binaryCrossentropy(yTrue, yPred);
  if (name === "categoricalCrossentropy") return tfl.metrics.categoricalCrossentropy(yTrue, yPred);
  throw new Error(`train step: unknown loss ${JSON.stringify(name)}`);
}

/**
 * Loss and gradients of the batch `(x, y)` in training mode (dropout on, batch-norm statistics
 * updated). Every variable of `vars` gets a gradient: one the loss does not depend on gets zeros,
 * so that the in-process and the flat (worker) updates treat it alike. The caller disposes
 * `value`, `grads` and `outputs`.
 */
function lossAndGradients(
  model: tfl.LayersModel,
  vars: tf.Variable[],
  x: tf.Tensor,
  y: tf.Tensor,
  sampleWeights: tf.Tensor | null,
  loss: LossName,
): { value: tf.Scalar; grads: tf.NamedTensorMap; outputs: tf.Tensor | null } {
  let kept: tf.Tensor | null = null;
  const { value, grads } = tf.variableGrads(() => {
    const out = model.apply(x, { training: true }) as tf.Tensor;
    kept = tf.keep(out);
    let per = perSampleLoss(loss, y, out);
    if (sampleWeights) per = tf.mul(per, sampleWeights);
    let total = tf.mean(per) as tf.Scalar;
    for (const r of model.calculateLosses()) total = tf.add(total, r);
    return total;
  }, vars);
  for (const v of vars) grads[v.name] ??= tf.zerosLike(v);
  return { value, grads, outputs: kept };
}

/** What one step returns: the batch loss and the training-mode outputs, `n * outputs` values. */
export interface StepResult {
  loss: number;
  outputs: Float32Array;
}

/**
 * One training step on a batch: `x` preprocessed float pixels (`n` HWC images), `y` targets
 * (`n` labels, or `n` one-hot rows of 3), `sampleWeights` one loss weight per image.
 */
export type BatchStep = (
  x: Float32Array,
  y: Float32Array,
  n: number,
  sampleWeights: Float32Array,
) => StepResult | Promise<StepResult>;

/**
 * The in-process step: loss, gradients and the optimizer update on `model`'s own variables.
 * Gives the same update as {@link shardGradients} + {@link applyFlatGradients} on one shard.
 * Reads the loss and outputs asynchronously: a GPU backend (webgpu) cannot read synchronously
 * under Deno.
 */
export function localStep(
  model: tfl.LayersModel,
  optimizer: tf.Optimizer,
  loss: LossName,
): BatchStep {
  const vars = trainableVariables(model);
  const inShape = model.inputs[0].shape.slice(1) as number[];
  const outShape = model.outputs[0].shape;
  const outDim = (outShape[outShape.length - 1] ?? 1) as number;
  return async (x, y, n, sampleWeights) => {
    const xt = tf.tensor(x, [n, ...inShape], "float32");
    const yt = tf.tensor(y, [n, outDim], "float32");
    const wt = tf.tensor1d(sampleWeights, "float32");
    const { value, grads, outputs } = lossAndGradients(model, vars, xt, yt, wt, loss);
    try {
      optimizer.applyGradients(grads);
      return {
        loss: (await value.data())[0],
        outputs: outputs ? new Float32Array(await outputs.data()) : new Float32Array(0),
      };
    } finally {
      tf.dispose([xt, yt, wt, value, ...Object.values(grads), ...(outputs ? [outputs] : [])]);
    }
  };
}

/**
 * Loss and gradient of the shard `(x, y)` (already tensors) for a data-parallel worker: the
 * gradient of every trainable variable concatenated in `vars` order, and the model's
 * (training-mode) outputs.
 */
export function shardGradients(
  model: tfl.LayersModel,
  vars: tf.Variable[],
  x: tf.Tensor,
  y: tf.Tensor,
  sampleWeights: tf.Tensor | null,
  loss: LossName,
): { loss: number; grads: Float32Array; outputs: Float32Array } {
  const { value, grads, outputs: out } = lossAndGradients(model, vars, x, y, sampleWeights, loss);
  const flat = new Float32Array(flatSize(vars));
  let off = 0;
  for (const v of vars) {
    flat.set(grads[v.name].dataSync() as Float32Array, off);
    off += v.size;
  }
  const lossValue = value.dataSync()[0];
  const outputs = out ? new Float32Array(out.dataSync() as Float32Array) : new Float32Array(0);
  tf.dispose([value, ...Object.values(grads), ...(out ? [out] : [])]);
  return { loss: lossValue, grads: flat, outputs };
}

/** One optimizer step with a flat gradient (layout of {@link shardGradients}). */
export function applyFlatGradients(
  optimizer: tf.Optimizer,
  vars: tf.Variable[],
  flat: Float32Array,
): void {
  if (flat.length !== flatSize(vars)) {
    throw new Error(
      `train step: gradient has ${flat.length} values, the variables ${flatSize(vars)}`,
    );
  }
  const named: tf.NamedTensorMap = {};
  let off = 0;
  for (const v of vars) {
    named[v.name] = tf.tensor(flat.subarray(off, off + v.size), v.shape, "float32");
    off += v.size;
  }
  optimizer.applyGradients(named);
  tf.dispose(Object.values(named));
}

/** Targets of a batch: the labels (2 classes) or one-hot rows (3 classes). */
export function batchTargets(labels: ArrayLike<number>, classes: 2 | 3): Float32Array {
  if (classes === 2) return Float32Array.from(labels);
  const y = new Float32Array(labels.length * 3);
  for (let k = 0; k < labels.length; k++) y[k * 3 + labels[k]] = 1;
  return y;
}

/** Extra training images of one epoch (pseudo-labelled ones) and their loss weight. */
export interface ExtraImages {
  /** Images with their (pseudo-)labels. */
  split: SplitData;
  /** Loss weight of each (times its class weight). */
  weight: number;
}

/**
 * One epoch: the training split shuffled and augmented from seeds of `cfg.seed` and `epoch`, cut
 * into batches of `cfg.batchSize`, each given to `step` with its targets and class weights (mixed
 * by mixup when `cfg.mixup` is set). `extra` images (pseudo-labelled, lib/train/pseudo.ts) are
 * shuffled in with the training split, weighted by `extra.weight`; without them the epoch is
 * exactly what it was before they existed. Returns the labels and training-mode P(pneumonia) of
 * the labelled images only, and the mean loss over every image trained on (with mixup: of the
 * mixed images, against their own labels).
 *
 * The next batch is read (from memory or the packed cache on disk), augmented and mixed while
 * `step` works on the current one (with data-parallel workers the two truly overlap); the random
 * streams are drawn in the same order as one batch at a time, so results are unchanged.
 * `onBatch(done, total)` is called after each batch with the images done. `maxBatches` stops
 * the epoch early (a fixed number of steps, for benchmarks).
 */
export async function trainEpoch(
  step: BatchStep,
  data: TrainData,
  cfg: TrainConfig,
  pre: Preprocessing,
  epoch: number,
  extra?: ExtraImages,
  opts: { onBatch?: (done: number, total: number) => void; maxBatches?: number } = {},
): Promise<{ y: number[]; p: number[]; loss: number }> {
  const split = data.train;
  const nTrain = split.records.length;
  const nExtra = extra?.split.records.length ?? 0;
  const n = nTrain + nExtra;
  const order = shuffle(Array.from({ length: n }, (_, i) => i), makeRng(cfg.seed * 7919 + epoch));
  const augRng = cfg.augment ? makeRng(cfg.seed * 104729 + epoch) : null;
  // Its own stream, so that runs without mixup draw exactly what they drew before it existed.
  const mixRng = cfg.mixup ? makeRng(cfg.seed * 15485863 + epoch) : null;
  const ys: number[] = [], ps: number[] = [];
  let lossSum = 0;
  const end = Math.min(n, (opts.maxBatches ?? Infinity) * cfg.batchSize);
  const make = (start: number) => {
    const idx = order.slice(start, start + cfg.batchSize);
    const b = idx.length;
    const x = new Float32Array(b * split.imageBytes);
    const aug = augmentOptionsFor(cfg.augmentation);
    if (idx.every((i) => i < nTrain)) fillBatch(split, idx, pre, x, augRng, aug);
    else {
      // Image by image, in batch order: the augmentation draws stay in the same sequence.
      const bytes = split.imageBytes;
      idx.forEach((i, k) => {
        const [from, j] = i < nTrain ? [split, i] : [extra!.split, i - nTrain];
        fillBatch(from, [j], pre, x.subarray(k * bytes, (k + 1) * bytes), augRng, aug);
      });
    }
    const labels = idx.map((i) => (i < nTrain ? split.labels[i] : extra!.split.labels[i - nTrain]));
    const weights = Float32Array.from(
      labels,
      (l, k) => (data.classWeights?.[l] ?? 1) * (idx[k] < nTrain ? 1 : extra!.weight),
    );
    const targets = batchTargets(labels, cfg.classes);
    if (mixRng) {
      const outDim = targets.length / b;
      mixBatch(
        { x, y: targets, w: weights, n: b, imageSize: split.imageBytes, outDim },
        mixRng,
        cfg.mixup!,
      );
    }
    return { idx, b, x, labels, weights, targets };
  };
  let next = end > 0 ? make(0) : null;
  let seen = 0;
  for (let start = 0; start < end; start += cfg.batchSize) {
    const { idx, b, x, labels, weights, targets } = next!;
    const pending = step(x, targets, b, weights);
    // Prefetch: the next batch is made while the step runs.
    next = start + cfg.batchSize < end ? make(start + cfg.batchSize) : null;
    const res = await pending;
    seen += b;
    opts.onBatch?.(seen, end);
    lossSum += res.loss * b;
    const probs = toBinary(res.outputs, cfg.classes);
    for (let k = 0; k < b; k++) {
      if (idx[k] >= nTrain) continue;
      ys.push(labels[k] > 0 ? 1 : 0);
      ps.push(probs[k]);
    }
  }
  return { y: ys, p: ps, loss: lossSum / Math.max(1, seen) };
}
