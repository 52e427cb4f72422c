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

/** A layer that is itself a model (a nested base). */
function nestedModel(layer: Layer): tfl.LayersModel | null {
  return "layers" in layer && Array.isArray((layer as unknown as tfl.LayersModel).layers)
    ? layer as unknown as tfl.LayersModel
    : null;
}

/**
 * Whether a model's layers form a chain: each layer (after the input) reads exactly the one
 * before it, once. MobileNetV2 does not (its residual blocks add two inputs), so running its layers
 * one after another fails; a transfer model keeps such a base whole (see `flattenLayers`).
 */
export function isChain(model: tfl.LayersModel): boolean {
  let previous: Layer | null = null;
  for (const layer of model.layers) {
    // tfjs-layers keeps the graph in `inboundNodes`; it has no public accessor for it.
    const nodes = (layer as unknown as { inboundNodes: { inboundLayers: Layer[] }[] })
      .inboundNodes;
    if (layer.getClassName() === "InputLayer") {
      if (previous !== null) return false;
      previous = layer;
      continue;
    }
    if (nodes.length !== 1) return false;
    const from = nodes[0].inboundLayers;
    if (from.length !== 1 || (previous !== null && from[0] !== previous)) return false;
    previous = layer;
  }
  return true;
}

/**
 * The layers of a model in execution order, nested models that are chains flattened; a nested
 * model with branches (e.g. a MobileNetV2 transfer base) stays one layer, applied whole.
 */
export function flattenLayers(model: tfl.LayersModel): Layer[] {
  const out: Layer[] = [];
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    if (cls === "InputLayer") continue;
    const nested = nestedModel(layer);
    if (nested && isChain(nested)) out.push(...flattenLayers(nested));
    else out.push(layer);
  }
  return out;
}

/** Whether `layer` is a nested model kept whole whose output is a feature map (rank 4). */
export function isWholeConvBase(layer: Layer): boolean {
  const shape = layer.outputShape as number[] | number[][];
  return nestedModel(layer) !== null && !Array.isArray(shape[0]) && shape.length === 4;
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
