/**
 * The maths of Grad-CAM (Selvaraju et al. 2017) and of the model's penultimate features, written
 * against a TF.js namespace passed in (`tf`), so that the command line (`gradcam.ts`, tfjs from
 * npm) and the browser page (tfjs from its dist bundles, the global `tf`) run the same code. No
 * sharp, no Deno APIs here.
 *
 * The target layer defaults to the last convolution, extended through the batch-norm and
 * activation layers that directly follow it (so the map is the post-ReLU feature map the head
 * reads). The model is split there: the features come from running the layers up to the target,
 * and `tf.grad` differentiates the class score through the remaining head. The class score is the
 * logit (pre-sigmoid or pre-softmax value of the final Dense layer), so saturated probabilities
 * do not flatten the gradients. For the NORMAL class of a sigmoid model the score is -logit.
 *
 * Written by hand because TF.js has no Grad-CAM; the split model is checked against
 * `model.predict` so that a model with branches is refused rather than explained wrongly.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import { gradCamWith, penultimateWith } from "./gradcam_core.ts";
 * const [cam] = await gradCamWith(tf, model, x); // x: [1, H, W, C] preprocessed input
 * const feats = penultimateWith(tf, model, x); // [N, d]: the input of the last layer
 * ```
 * @module
 */

import type * as TfCore from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";
import { interpolateTurbo } from "d3-scale-chromatic";
import { rgb } from "d3-color";
import { CHEST_BOX, type ChestBox } from "../images/chest_region.ts";
import {
  flattenLayers,
  isWholeConvBase,
  type Layer,
  penultimateWith,
  runChain,
  type Tf,
} from "../models/features.ts";

export { flattenLayers, type Layer, penultimateWith, type Tf };
type Tensor = TfCore.Tensor;
type Tensor2D = TfCore.Tensor2D;
type Tensor4D = TfCore.Tensor4D;

const FOLLOWERS = new Set(["BatchNormalization", "Activation", "ReLU", "LeakyReLU", "ELU"]);

/**
 * Index (in `flattenLayers` order) of the default Grad-CAM layer: the last Conv2D/Conv2DTranspose/
 * DepthwiseConv2D/SeparableConv2D (or a nested convolutional base kept whole, e.g. MobileNetV2: its
 * output feature map), moved forward through batch-norm and activation layers.
 */
export function defaultCamLayerIndex(layers: readonly Layer[]): number {
  let idx = -1;
  layers.forEach((l, i) => {
    if (/Conv2D/.test(l.getClassName()) || isWholeConvBase(l)) idx = i;
  });
  if (idx < 0) {
    throw new Error(
      `Grad-CAM needs a convolutional model; layers are: ${layers.map((l) => l.name).join(", ")}`,
    );
  }
  while (idx + 1 < layers.length && FOLLOWERS.has(layers[idx + 1].getClassName())) idx++;
  return idx;
}

/** One Grad-CAM result. */
export interface CamResult {
  /** Heatmap at input resolution, row-major H x W, scaled to [0, 1] (all zeros if flat). */
  heatmap: Float32Array;
  width: number;
  height: number;
  /** The explained class (0 = NORMAL / first class, 1 = PNEUMONIA, ...). */
  classIndex: number;
  /** Model output for that class (probability). */
  probability: number;
  /** Name of the layer whose feature map was used. */
  layer: string;
}

/** Options of `gradCam`. */
export interface GradCamOptions {
  /** Layer name to explain (default: see `defaultCamLayerIndex`). */
  layerName?: string;
  /**
   * Class to explain per image, or one for all. Default: the predicted class (sigmoid:
   * p >= `threshold` -> 1).
   */
  classIndex?: number | number[];
  /** Decision threshold for the default class of a sigmoid model (default 0.5). */
  threshold?: number;
}

/** Runs the head but returns the final Dense layer's pre-activation (logits). */
function headLogits(tf: Tf, head: readonly Layer[], a: Tensor): Tensor2D {
  const last = head[head.length - 1];
  const y = runChain(head.slice(0, -1), a);
  if (last.getClassName() !== "Dense") return last.apply(y, { training: false }) as Tensor2D;
  const [kernel, bias] = last.getWeights();
  const z = tf.matMul(y as Tensor2D, kernel as Tensor2D);
  return (bias ? tf.add(z, bias) : z) as Tensor2D;
}

/**
 * Grad-CAM heatmaps for a batch `x` ([N, H, W, C], already preprocessed as the model expects),
 * computed with the TF.js namespace `tf`. Throws (rejects) when the model is not a chain of layers
 * (checked against `model.predict`). Values are read back with `await data()`: a synchronous read
 * fails on WebGPU under Deno (tfjs-backend-webgpu reads through a 2D canvas, which Deno lacks).
 */
export async function gradCamWith(
  tf: Tf,
  model: tfl.LayersModel,
  x: Tensor4D,
  opts: GradCamOptions = {},
): Promise<CamResult[]> {
  const layers = flattenLayers(model);
  const idx = opts.layerName !== undefined
    ? layers.findIndex((l) => l.name === opts.layerName)
    : defaultCamLayerIndex(layers);
  if (idx < 0) {
    throw new Error(
      `Grad-CAM: no layer named "${opts.layerName}"; layers: ${
        layers.map((l) => l.name).join(", ")
      }`,
    );
  }
  const [n, h, w] = x.shape;
  const body = layers.slice(0, idx + 1), head = layers.slice(idx + 1);
  if (head.length === 0) throw new Error(`Grad-CAM: layer "${layers[idx].name}" is the output`);
  // 1. The feature map, the probabilities of the split model, and how far they are from predict().
  const { a, probs, diff } = tf.tidy(() => {
    let a: Tensor, probs: Tensor2D;
    try {
      a = runChain(body, x);
      probs = runChain(head, a) as Tensor2D;
    } catch (err) {
      throw new Error(
        `Grad-CAM: cannot run ${model.name}'s layers one after another (${
          (err as Error).message
        }); ` +
          `only models whose layers form a chain are supported (no branches or skips)`,
      );
    }
    const ref = model.predict(x) as Tensor;
    const diff = tf.max(tf.abs(tf.sub(probs, tf.reshape(ref, probs.shape))));
    return { a, probs, diff };
  });
  let norm: Tensor | null = null;
  try {
    if (a.rank !== 4) {
      throw new Error(`Grad-CAM: layer "${layers[idx].name}" output has rank ${a.rank}, need 4`);
    }
    const d = (await diff.data())[0];
    if (!(d < 1e-3)) {
      throw new Error(
        `Grad-CAM: running ${model.name}'s layers one after another differs from predict() by ` +
          `${d}; the model is not a chain of layers (branches or skips are not supported)`,
      );
    }
    const units = probs.shape[1];
    const pv = await probs.data();
    const p = Array.from(
      { length: n },
      (_, i) => Array.from(pv.subarray(i * units, (i + 1) * units)),
    );
    const classes = Array.from({ length: n }, (_, i) => {
      const c = Array.isArray(opts.classIndex) ? opts.classIndex[i] : opts.classIndex;
      if (c !== undefined) return c;
      if (units === 1) return p[i][0] >= (opts.threshold ?? 0.5) ? 1 : 0;
      return p[i].indexOf(Math.max(...p[i]));
    });
    // 2. Selector: score = sum_i sign_i * logits[i, col_i]; its gradient weighs the feature map.
    norm = tf.tidy(() => {
      const sel = tf.tensor2d(
        classes.flatMap((c) =>
          units === 1
            ? [c === 1 ? 1 : -1]
            : Array.from({ length: units }, (_, k) => (k === c ? 1 : 0))
        ),
        [n, units],
      );
      const grads = tf.grad((feat: Tensor) => tf.sum(tf.mul(headLogits(tf, head, feat), sel)))(a);
      const weights = tf.mean(grads, [1, 2], true); // [N, 1, 1, K]
      const cam = tf.relu(tf.sum(tf.mul(weights, a), -1, true)) as Tensor4D; // [N, h', w', 1]
      const up = tf.image.resizeBilinear(cam, [h, w]);
      const maxes = tf.max(up, [1, 2, 3], true);
      return tf.div(up, tf.maximum(maxes, 1e-12));
    });
    const data = await norm.data() as Float32Array;
    return classes.map((c, i) => ({
      heatmap: data.slice(i * h * w, (i + 1) * h * w),
      width: w,
      height: h,
      classIndex: c,
      probability: units === 1 ? (c === 1 ? p[i][0] : 1 - p[i][0]) : p[i][c],
      layer: layers[idx].name,
    }));
  } finally {
    tf.dispose([a, probs, diff, ...(norm ? [norm] : [])]);
  }
}

/**
 * Share of the heatmap's mass outside the central chest box (`CHEST_BOX` by default, see
 * `chest_region.ts`): sum outside / sum overall, 0..1. NaN for an all-zero heatmap.
 * A uniform heatmap gives `boxAreaOutside(box)`, the baseline to compare against.
 */
export function heatmapMassOutside(
  heatmap: ArrayLike<number>,
  width: number,
  height: number,
  box: ChestBox = CHEST_BOX,
): number {
  if (heatmap.length !== width * height) {
    throw new RangeError(
      `heatmapMassOutside: heatmap has ${heatmap.length} values, expected ${width}x${height}`,
    );
  }
  let total = 0, outside = 0;
  for (let yy = 0; yy < height; yy++) {
    const fy = (yy + 0.5) / height;
    for (let xx = 0; xx < width; xx++) {
      const v = heatmap[yy * width + xx], fx = (xx + 0.5) / width;
      total += v;
      if (fx < box.x0 || fx > box.x1 || fy < box.y0 || fy > box.y1) outside += v;
    }
  }
  return total > 0 ? outside / total : NaN;
}

/** Fraction of the image area outside the box: what a uniform heatmap would score. */
export function boxAreaOutside(box: ChestBox = CHEST_BOX): number {
  return 1 - (box.x1 - box.x0) * (box.y1 - box.y0);
}

/** 256-entry RGB lookup table of d3's Turbo colormap. */
export function turboLut(): Uint8Array {
  const lut = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    const c = rgb(interpolateTurbo(i / 255));
    lut[i * 3] = c.r, lut[i * 3 + 1] = c.g, lut[i * 3 + 2] = c.b;
  }
  return lut;
}

/**
 * Blends a heatmap (uint8, one value per pixel, same size as the image) onto an X-ray (uint8 HWC,
 * 1 or 3 channels) in the Turbo colormap; opacity grows with the value up to `alpha`. Returns
 * RGB bytes.
 */
export function blendHeatmap(
  image: Uint8Array | Uint8ClampedArray,
  width: number,
  height: number,
  heat: Uint8Array | Uint8ClampedArray,
  lut: Uint8Array,
  alpha = 0.5,
): Uint8Array {
  const channels = image.length / (width * height);
  if ((channels !== 1 && channels !== 3) || heat.length !== width * height) {
    throw new RangeError(
      `blendHeatmap: image ${image.length} and heatmap ${heat.length} bytes, expected ` +
        `${width}x${height}x(1 or 3) and ${width}x${height}`,
    );
  }
  const out = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    const v = heat[i], a = alpha * (v / 255);
    for (let ch = 0; ch < 3; ch++) {
      const base = image[i * channels + (channels === 3 ? ch : 0)];
      out[i * 3 + ch] = Math.round((1 - a) * base + a * lut[v * 3 + ch]);
    }
  }
  return out;
}
