/**
 * A layers model run as a chain of layers, with a TF.js namespace passed in (`tf`), so that the
 * command line (tfjs from npm) and the browser page (the dist bundles' global `tf`) share it: the
 * layers in execution order, running a slice of them, and the penultimate features (the input of
 * the last layer), which the out-of-distribution score reads and Grad-CAM splits the model at.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { penultimateWith } from "./features.ts";
 * const f = penultimateWith(tf, model, x); // [N, d]
 * ```
 * @module
 */
import type * as TfCore from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";

/** The TF.js core namespace (npm module or the browser's global `tf`). */
export type Tf = typeof TfCore;
type Tensor = TfCore.Tensor;
type Tensor2D = TfCore.Tensor2D;
type Tensor4D = TfCore.Tensor4D;

/** One layer of a TF.js layers model. */
export type Layer = tfl.layers.Layer;

/** The layers of a model in execution order, nested models (e.g. a transfer base) flattened. */
export function flattenLayers(model: tfl.LayersModel): Layer[] {
  const out: Layer[] = [];
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    if (cls === "InputLayer") continue;
    if ("layers" in layer && Array.isArray((layer as unknown as tfl.LayersModel).layers)) {
      out.push(...flattenLayers(layer as unknown as tfl.LayersModel));
    } else out.push(layer);
  }
  return out;
}

/** Runs `layers` one after another on `x` (inference mode). */
export function runChain(layers: readonly Layer[], x: Tensor): Tensor {
  let y = x;
  for (const l of layers) y = l.apply(y, { training: false }) as Tensor;
  return y;
}

/**
 * The model's penultimate features for a batch `x`: the input of its last layer (for the zoo's
 * models, the pooled features the output Dense layer reads), as [N, d]. Used for the
 * out-of-distribution score.
 */
export function penultimateWith(tf: Tf, model: tfl.LayersModel, x: Tensor4D): Tensor2D {
  const layers = flattenLayers(model);
  return tf.tidy(() => {
    const f = runChain(layers.slice(0, -1), x);
    return tf.reshape(f, [x.shape[0], -1]) as Tensor2D;
  });
}
