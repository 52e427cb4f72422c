/**
 * Grad-CAM (Selvaraju et al. 2017) for TF.js layers models whose layers form a chain (every model
 * of the zoo, nested bases such as the transfer model's included), the overlay onto the X-ray as
 * a PNG, and the share of heatmap mass outside the central chest region.
 *
 * The target layer defaults to the last convolution, extended through the batch-norm and
 * activation layers that directly follow it (so the map is the post-ReLU feature map the head
 * reads). The model is split there: the features come from running the layers up to the target,
 * and `tf.grad` differentiates the class score through the remaining head. The class score is the
 * logit (pre-sigmoid or pre-softmax value of the final Dense layer), so saturated probabilities
 * do not flatten the gradients. For the NORMAL class of a sigmoid model the score is -logit.
 *
 * Written by hand because TF.js has no Grad-CAM; the split model is checked against
 * `model.predict` so that a model with branches is refused rather than explained wrongly. The
 * maths lives in `gradcam_core.ts`, shared with the browser page; this module binds it to the
 * npm TF.js and adds the PNG overlay (sharp).
 *
 * @example
 * ```ts
 * import { gradCam, overlayHeatmapPng, heatmapMassOutside } from "./gradcam.ts";
 * const [cam] = await gradCam(model, x); // x: [1, H, W, C] preprocessed input
 * const png = await overlayHeatmapPng(grayPixels, H, W, cam.heatmap, H, W);
 * heatmapMassOutside(cam.heatmap, W, H); // 0..1
 * ```
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";
import sharp from "sharp";
import {
  blendHeatmap,
  type CamResult,
  type GradCamOptions,
  gradCamWith,
  turboLut,
} from "./gradcam_core.ts";

export {
  boxAreaOutside,
  type CamResult,
  defaultCamLayerIndex,
  flattenLayers,
  type GradCamOptions,
  heatmapMassOutside,
} from "./gradcam_core.ts";

/**
 * Grad-CAM heatmaps for a batch `x` ([N, H, W, C], already preprocessed as the model expects).
 * Rejects when the model is not a chain of layers (checked against `model.predict`).
 */
export function gradCam(
  model: tfl.LayersModel,
  x: tf.Tensor4D,
  opts: GradCamOptions = {},
): Promise<CamResult[]> {
  return gradCamWith(tf, model, x, opts);
}

let LUT: Uint8Array | null = null;

/**
 * The X-ray (uint8 HWC, 1 or 3 channels) with the heatmap (values in [0, 1], any resolution,
 * resized to the image) blended on top in the Turbo colormap; the heatmap's opacity grows with its
 * value up to `alpha` (default 0.5). Returns PNG bytes. sharp resizes the heatmap and encodes the
 * PNG; the blend itself is a per-pixel loop, because sharp's composite would need the colored
 * heatmap built as an RGBA image first, which is the same loop.
 */
export async function overlayHeatmapPng(
  image: Uint8Array,
  width: number,
  height: number,
  heatmap: ArrayLike<number>,
  heatmapWidth: number,
  heatmapHeight: number,
  opts: { alpha?: number; outSize?: number } = {},
): Promise<Uint8Array> {
  const channels = image.length / (width * height);
  if (channels !== 1 && channels !== 3) {
    throw new RangeError(
      `overlayHeatmapPng: image has ${image.length} bytes, expected ${width}x${height}x(1 or 3)`,
    );
  }
  if (heatmap.length !== heatmapWidth * heatmapHeight) {
    throw new RangeError(
      `overlayHeatmapPng: heatmap has ${heatmap.length} values, expected ${heatmapWidth}x${heatmapHeight}`,
    );
  }
  LUT ??= turboLut();
  const alpha = opts.alpha ?? 0.5;
  const hm8 = Uint8Array.from(heatmap, (v) => Math.round(255 * Math.min(1, Math.max(0, v))));
  const hmResized = await sharp(hm8, {
    raw: { width: heatmapWidth, height: heatmapHeight, channels: 1 },
  })
    .resize(width, height, { kernel: "linear", fit: "fill" }).toColourspace("b-w").raw().toBuffer();
  if (hmResized.length !== width * height) {
    throw new Error(
      `overlayHeatmapPng: resized heatmap has ${hmResized.length} bytes, expected ${
        width * height
      }`,
    );
  }
  const out = blendHeatmap(image, width, height, hmResized, LUT, alpha);
  let img = sharp(out, { raw: { width, height, channels: 3 } });
  if (opts.outSize) img = img.resize(opts.outSize, opts.outSize, { kernel: "lanczos3" });
  return new Uint8Array(await img.png().toBuffer());
}
