/**
 * One training step split in two halves, shared by the data-parallel workers and the in-process
 * path of {@link ../train/parallel.ts}: {@link shardGradients} (forward + backward on a shard,
 * returning a flat gradient vector) and {@link applyFlatGradients} (one optimizer step with a flat
 * gradient vector). The loss is the one `tfl.LayersModel.fit` minimises:
 * `mean(loss_i * sampleWeight_i) + sum(regularisation losses)`.
 *
 * Because that loss is an average, the full-batch loss and gradient are the shard ones averaged
 * with weights `n_k / N`; the regularisation term is in every shard's loss and so comes out once.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { makeAdam } from "../../backend/fused_adam.ts";

/** Loss functions supported (the Keras names). */
export type LossName = "binaryCrossentropy" | "categoricalCrossentropy";

/**
 * Optimizers supported, with tfjs' defaults for everything but the learning rate: `adam`
 * (`tf.train.adam`), `sgd` (`tf.train.sgd`, or `tf.train.momentum` when `momentum` > 0),
 * `rmsprop` (`tf.train.rmsprop`).
 */
export interface OptimizerSpec {
  name: "adam" | "sgd" | "rmsprop";
  learningRate: number;
  /** Only for sgd: momentum (default 0 = plain SGD). */
  momentum?: number;
}

/** How uint8 pixels become model input: `x = (u8 * scale - mean) / std`. */
export interface PixelScaling {
  scale: number;
  mean: number;
  std: number;
}

/** Default scaling: pixels / 255. */
export const DEFAULT_SCALING: PixelScaling = { scale: 1 / 255, mean: 0, std: 1 };

/** Builds a fresh optimizer from its spec. */
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

/** The trainable variables of a model, in `model.trainableWeights` order. */
export function trainableVariables(model: tfl.LayersModel): tf.Variable[] {
  return model.trainableWeights.map((w) => w.read() as tf.Variable);
}

/** Total number of scalars in the given variables (the length of a flat gradient). */
export function flatSize(vars: tf.Variable[]): number {
  return vars.reduce((s, v) => s + v.size, 0);
}

/**
 * Model input `[n, ...inputShape]`: uint8 pixels are scaled with `scaling`; a Float32Array is
 * taken as already preprocessed (e.g. augmented and normalised by the caller).
 */
export function pixelsToTensor(
  x: Uint8Array | Float32Array,
  n: number,
  inputShape: number[],
  scaling: PixelScaling,
): tf.Tensor {
  const per = inputShape.reduce((a, b) => a * b, 1);
  if (x.length !== n * per) {
    throw new Error(
      `train step: x has ${x.length} values, expected ${n} x ${inputShape.join("x")} = ${
        n * per
      }`,
    );
  }
  if (x instanceof Float32Array) return tf.tensor(x, [n, ...inputShape], "float32");
  const f = new Float32Array(x.length);
  const { scale, mean, std } = scaling;
  for (let i = 0; i < x.length; i++) f[i] = (x[i] * scale - mean) / std;
  return tf.tensor(f, [n, ...inputShape], "float32");
}

/**
 * Per-sample loss weights from class weights, as `fit({classWeight})` computes them: the class of
 * a sample is its label (one output) or the argmax of its one-hot row (several outputs).
 */
export function sampleWeightsFromClasses(
  y: Float32Array,
  n: number,
  outDim: number,
  classWeights: Record<number, number>,
): Float32Array {
  const w = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let cls: number;
    if (outDim === 1) cls = Math.round(y[i]);
    else {
      cls = 0;
      for (let j = 1; j < outDim; j++) if (y[i * outDim + j] > y[i * outDim + cls]) cls = j;
    }
    const cw = classWeights[cls];
    if (cw === undefined) {
      throw new Error(`train step: classWeights has no entry for class ${cls} (sample ${i})`);
    }
    w[i] = cw;
  }
  return w;
}

function perSampleLoss(name: LossName, yTrue: tf.Tensor, yPred: tf.Tensor): tf.Tensor {
  if (name === "binaryCrossentropy") return tfl.metrics.binaryCrossentropy(yTrue, yPred);
  if (name === "categoricalCrossentropy") return tfl.metrics.categoricalCrossentropy(yTrue, yPred);
  throw new Error(`train step: unknown loss ${JSON.stringify(name)}`);
}

/**
 * Loss and gradient of the shard `(x, y)` (already tensors), with `training: true` (dropout and
 * batch-norm statistics updates happen here). Returns the loss, the gradient of every
 * trainable variable concatenated in `vars` order, and the model's (training-mode) outputs.
 */
export function shardGradients(
  model: tfl.LayersModel,
  vars: tf.Variable[],
  x: tf.Tensor,
  y: tf.Tensor,
  sampleWeights: tf.Tensor | null,
  loss: LossName,
): { loss: number; grads: Float32Array; outputs: Float32Array } {
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
  const flat = new Float32Array(flatSize(vars));
  let off = 0;
  for (const v of vars) {
    const g = grads[v.name];
    if (g === undefined) {
      // A variable the loss does not depend on (e.g. a frozen branch): zero gradient.
      off += v.size;
      continue;
    }
    flat.set(g.dataSync() as Float32Array, off);
    off += v.size;
  }
  const lossValue = value.dataSync()[0];
  const out = kept as tf.Tensor | null;
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
