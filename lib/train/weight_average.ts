/**
 * Weight averaging over epochs (stochastic weight averaging, Izmailov et al. 2018): from a given
 * epoch on, the trainable weights at the end of every epoch join a running mean, and the model
 * that validation judges (and that is kept) is that mean, with its batch-norm statistics
 * re-estimated on clean training images. Averaging points along the late trajectory lands in a
 * flatter region of the loss, which is what SWAD (Cha et al. 2021) found to generalise better to
 * unseen domains: the reason it is here, for a second site.
 *
 * Written here because tfjs-layers has no SWA callback; it is a running mean of a few tensors.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";

/** The running mean of the trainable weights and how many epochs it holds. */
export interface WeightAverage {
  /** One tensor per trainable weight, in the order of `model.weights` filtered to trainable. */
  mean: tf.Tensor[];
  count: number;
}

/** Indices (into `model.weights`) of the trainable weights, the ones averaged. */
export function trainableIndices(model: tfl.LayersModel): number[] {
  return model.weights.flatMap((w, i) => (w.trainable ? [i] : []));
}

/**
 * Adds the model's current trainable weights to the mean (a new mean; the old one is disposed).
 * `avg` null starts one.
 */
export function addToAverage(model: tfl.LayersModel, avg: WeightAverage | null): WeightAverage {
  const idx = trainableIndices(model);
  const count = (avg?.count ?? 0) + 1;
  const mean = idx.map((wi, k) =>
    tf.tidy(() => {
      const w = model.weights[wi].read();
      if (!avg) return w.clone();
      // mean + (w - mean) / count: the running mean, without a sum that grows.
      return tf.add(avg.mean[k], tf.div(tf.sub(w, avg.mean[k]), count));
    })
  );
  avg?.mean.forEach((t) => t.dispose());
  return { mean, count };
}

/**
 * Runs `fn` with the model's trainable weights set to the mean, then puts every weight (batch-norm
 * statistics too, which `fn` may re-estimate) back as it was, so training continues unchanged.
 */
export async function withAveragedWeights<T>(
  model: tfl.LayersModel,
  avg: WeightAverage,
  fn: () => Promise<T>,
): Promise<T> {
  const saved = model.weights.map((w) => w.read().clone());
  const idx = trainableIndices(model);
  if (idx.length !== avg.mean.length) {
    throw new Error(
      `weight average holds ${avg.mean.length} tensors but the model has ${idx.length} trainable`,
    );
  }
  try {
    const now = [...saved];
    idx.forEach((wi, k) => (now[wi] = avg.mean[k]));
    model.setWeights(now);
    return await fn();
  } finally {
    model.setWeights(saved);
    saved.forEach((t) => t.dispose());
  }
}

/** Frees the mean's tensors. */
export function disposeAverage(avg: WeightAverage | null): void {
  avg?.mean.forEach((t) => t.dispose());
}
