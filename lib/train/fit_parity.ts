/**
 * Seeded fits of a registered model on two TF.js backends, compared: losses, trained weights and
 * predictions. Used by the backend tests and the GPU check (`deno task gpu-check`); the layer by
 * layer comparison is `lib/backend/parity.ts`.
 *
 * @example
 * ```ts
 * import { initBackend } from "../backend/select.ts";
 * import { fitParity } from "./fit_parity.ts";
 * await initBackend({ prefer: "cpu" });
 * await initBackend({ prefer: "webgpu" });
 * console.log((await fitParity("compact", "webgpu", "cpu", { size: 16 })).lossError);
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { makeAdam } from "../backend/fused_adam.ts";
import { relativeError, useBackend, withSeededRandom } from "../backend/parity.ts";
import { createModel, getModelSpec } from "../models/registry.ts";

/**
 * What {@link fitPasses} accepts: losses within `loss` (absolute) at every step, predictions and
 * trained weights within `prediction` and `weights` ({@link relativeError}). `weights` is loose
 * because of Adam's noise amplification (see {@link FitParity.weightError}).
 */
export const FIT_TOLERANCE = { loss: 2e-5, prediction: 1e-3, weights: 5e-3 } as const;

/** Whether a {@link FitParity} is within {@link FIT_TOLERANCE}. */
export function fitPasses(r: FitParity): boolean {
  return r.lossError < FIT_TOLERANCE.loss && r.predictionError < FIT_TOLERANCE.prediction &&
    r.weightError < FIT_TOLERANCE.weights;
}

/** Options of {@link fitParity}. */
export interface FitParityOptions {
  /** Input size (default: the model's minimum size, to keep the cpu reference fast). */
  size?: number;
  /** Images per step (default 4). */
  batch?: number;
  /** Training steps (default 6). */
  steps?: number;
  seed?: number;
  /** The transfer model's base (folder of a TF.js layers model). */
  basePath?: string;
}

/** Result of {@link fitParity}. */
export interface FitParity {
  model: string;
  size: number;
  steps: number;
  /** Loss after each step on `test` and on `ref`. */
  losses: { test: number[]; ref: number[] };
  /** Largest |loss difference| over the steps. */
  lossError: number;
  /**
   * Error of all trained weights together ({@link relativeError} of the concatenated weights).
   * Adam divides each gradient by its running RMS, so a weight whose gradient is only rounding
   * noise (a batch-norm offset before a ReLU that is off for the whole batch, say) moves by up to
   * the learning rate per step in a direction that noise decides: one such weight can differ by
   * ~lr x steps. {@link FitParity.weightsOff} counts them.
   */
  weightError: number;
  /** Trained weights that differ by more than 1e-4 (absolute), and how many there are. */
  weightsOff: number;
  weightCount: number;
  /** Error of the trained model's predictions on the batch. */
  predictionError: number;
}

async function fitOn(
  model: string,
  o: Required<Omit<FitParityOptions, "basePath">> & { basePath?: string },
  backend: string,
) {
  await useBackend(backend);
  const spec = getModelSpec(model);
  const m = await createModel(model, { size: o.size, seed: o.seed, basePath: o.basePath });
  const opt = makeAdam(spec.train.learningRate);
  m.compile({ optimizer: opt, loss: "binaryCrossentropy" });
  const x = tf.randomUniform([o.batch, o.size, o.size, spec.channels], 0, 1, "float32", o.seed);
  const y = tf.tensor2d(Array.from({ length: o.batch }, (_, i) => i % 2), [o.batch, 1]);
  const losses: number[] = [];
  for (let s = 0; s < o.steps; s++) {
    const loss = await withSeededRandom(o.seed * 1000 + s, () => m.trainOnBatch(x, y));
    losses.push(loss as number);
  }
  const p = m.predict(x) as tf.Tensor;
  const prediction = await p.data() as Float32Array;
  const weights: Float32Array[] = [];
  for (const w of m.trainableWeights) weights.push(await w.read().data() as Float32Array);
  tf.dispose([x, y, p]);
  m.dispose();
  opt.dispose();
  return { losses, prediction, weights };
}

/**
 * Trains `model` (a registry name) for `steps` seeded steps of its optimizer (the project's Adam,
 * `makeAdam`, at the model's learning rate) on one seeded batch, on `test` and on `ref`, and
 * compares losses, trained weights and predictions.
 */
export async function fitParity(
  model: string,
  test: string,
  ref = "cpu",
  opts: FitParityOptions = {},
): Promise<FitParity> {
  const spec = getModelSpec(model);
  const o = {
    size: opts.size ?? Math.max(spec.minSize, 8),
    batch: opts.batch ?? 4,
    steps: opts.steps ?? 6,
    seed: opts.seed ?? 1,
    basePath: opts.basePath,
  };
  const want = await fitOn(model, o, ref);
  const got = await fitOn(model, o, test);
  const lossError = Math.max(...got.losses.map((l, i) => Math.abs(l - want.losses[i])));
  const concat = (ws: Float32Array[]) => {
    const all = new Float32Array(ws.reduce((n, w) => n + w.length, 0));
    ws.reduce((at, w) => (all.set(w, at), at + w.length), 0);
    return all;
  };
  const a = concat(got.weights), b = concat(want.weights);
  let weightsOff = 0;
  for (let i = 0; i < a.length; i++) if (!(Math.abs(a[i] - b[i]) <= 1e-4)) weightsOff++;
  return {
    model,
    size: o.size,
    steps: o.steps,
    losses: { test: got.losses, ref: want.losses },
    lossError,
    weightError: relativeError(a, b),
    weightsOff,
    weightCount: a.length,
    predictionError: relativeError(got.prediction, want.prediction),
  };
}
