/**
 * Image loading for the chest X-ray project: decode one file ({@link loadImage}), many files with
 * a disk cache ({@link loadImages}), gather float batches ({@link toFloatBatch}) and encode PNGs
 * for reports ({@link toPngDataUrl}). The synthetic dataset is in lib/data/synthetic.ts.
 *
 * @example
 * ```ts
 * import { loadImages, toFloatBatch } from "./mod.ts";
 * const { data, ok, failures } = await loadImages(paths, { size: 150, channels: 3 });
 * const batch = toFloatBatch(data, [0, 1, 2], 150 * 150 * 3); // values in [0, 1]
 * ```
 * @module
 */
export { decodeImage, ImageError, loadImage, probeImage } from "./load.ts";
export type { LoadOptions, ProbeResult, ResizeKernel } from "./load.ts";
export { DEFAULT_CACHE_DIR, loadImages } from "./cache.ts";
export type { LoadImagesOptions, LoadImagesResult } from "./cache.ts";
export { gatherImages, grayToRgb, rgbToGray, toFloatBatch } from "./tensor.ts";
export { encodePng, toPngDataUrl } from "./png.ts";
