/**
 * The screening page's pipeline for one file, in the browser: decode (the browser's own image
 * decoder for JPEG and PNG and for JPEG-encapsulated DICOM frames; `dicom.ts` for DICOM), the
 * model's input exactly as the command line computes it (`prepare.ts`, `chest_region.ts`,
 * `intensity_core.ts`, `normalisePixels`), P(pneumonia), penultimate features and their distance (`ood.ts`), the
 * out-of-scope checks (`scope.ts`) and Grad-CAM (`gradcam_core.ts`). TF.js is the page's global
 * `tf` (the dist bundles served next to the page), passed in.
 * @module
 */
import type * as TfCore from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";
import { decodeDicom, type DicomInfo, isDicom } from "../../images/dicom.ts";
import { type RawImage, toModelInput } from "../../images/prepare.ts";
import { applyChestRegion, type ChestRegionMode } from "../../images/chest_region.ts";
import { intensityInPlace, type IntensityMode } from "../../images/intensity_core.ts";
import { blendHeatmap, gradCamWith, penultimateWith, turboLut } from "../../eval/gradcam_core.ts";
import { mahalanobis } from "../../metrics/ood.ts";
import { imageStats, type OodFile, type ScopeWarning, scopeWarnings } from "../../images/scope.ts";
import type { Decision } from "../../eval/decision.ts";
import { normalisePixels } from "../../models/preprocessing.ts";
import type { Preprocessing } from "../../models/types.ts";

/** A model's preprocessing: with the chest-region mode and intensity ("none" when absent). */
export type PagePreprocessing = Preprocessing & {
  chestRegion: ChestRegionMode;
  intensity?: IntensityMode;
};

/** One model of the run: one for a single run, each member's for an ensemble folder. */
export interface RunMember {
  name: string;
  preprocessing: PagePreprocessing;
  /** URL of its model.json, relative to the page. */
  model: string;
}

/** `run.json`, written next to the page by `lib/serve/site.ts`. */
export interface RunInfo {
  name: string;
  /** The first model's (the out-of-scope checks and Grad-CAM use it). */
  preprocessing: PagePreprocessing;
  classes: string[];
  decision: Decision;
  ood: OodFile | null;
  /**
   * The models; P(pneumonia) is their mean, each reading the image at its own preprocessing,
   * and the first one's features and Grad-CAM are shown. Absent in run.json written before
   * ensembles: the run's own `model/model.json`.
   */
  members?: RunMember[];
}

/** The run's models (the single run's own when run.json predates `members`). */
export function runMembers(run: RunInfo): RunMember[] {
  return run.members?.length
    ? run.members
    : [{ name: run.name, preprocessing: run.preprocessing, model: "model/model.json" }];
}

/** The model's input (uint8, size x size x channels) of a decoded image at `pre`. */
async function modelInput(raw: RawImage, pre: PagePreprocessing): Promise<Uint8Array> {
  const { size, channels } = pre;
  return intensityInPlace(
    await applyChestRegion(toModelInput(raw, size, channels), size, channels, pre.chestRegion),
    size,
    channels,
    pre.intensity ?? "none",
  );
}

/** The result for one file. */
export interface FileResult {
  file: string;
  prob: number | null;
  label: string | null;
  warnings: ScopeWarning[];
  distance: number | null;
  error?: string;
  /** Decoded picture (for the preview) and the overlay (RGB, size x size). */
  preview?: RawImage;
  overlay?: Uint8Array;
  /** Grad-CAM heatmap at input resolution, 0-1. */
  heatmap?: Float32Array;
  dicom?: DicomInfo | null;
}

/** A file the browser decoder cannot read, with the reason. */
class DecodeError extends Error {}

/** The browser's decoder as a RawImage (RGBA, or RGB when fully opaque). */
export async function decodeWithBrowser(bytes: Uint8Array, type: string): Promise<RawImage> {
  let bmp: ImageBitmap;
  try {
    bmp = await createImageBitmap(new Blob([bytes as BlobPart], { type }), {
      imageOrientation: "from-image",
      colorSpaceConversion: "default",
      premultiplyAlpha: "none",
    });
  } catch (err) {
    throw new DecodeError(
      `cannot decode (${(err as Error).message}); expected a JPEG, PNG or DICOM file`,
    );
  }
  const { width, height } = bmp;
  const ctx = new OffscreenCanvas(width, height).getContext("2d", { willReadFrequently: true })!;
  ctx.drawImage(bmp, 0, 0);
  bmp.close();
  const rgba = ctx.getImageData(0, 0, width, height).data;
  let opaque = true;
  for (let i = 3; i < rgba.length && opaque; i += 4) opaque = rgba[i] === 255;
  if (!opaque) return { data: rgba, width, height, channels: 4 };
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) {
    rgb[j] = rgba[i], rgb[j + 1] = rgba[i + 1], rgb[j + 2] = rgba[i + 2];
  }
  return { data: rgb, width, height, channels: 3 };
}

/** JPEG and PNG signatures (what the command line accepts besides DICOM). */
function sniff(b: Uint8Array): string | null {
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return "image/jpeg";
  if (b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return "image/png";
  return null;
}

/** Decodes a dropped file as the command line would read it. */
export async function decodeFile(
  bytes: Uint8Array,
): Promise<{ raw: RawImage; dicom: DicomInfo | null }> {
  if (bytes.length === 0) throw new DecodeError("file is empty (0 bytes)");
  if (isDicom(bytes)) {
    const { image, info } = await decodeDicom(
      bytes,
      (jpeg) => decodeWithBrowser(jpeg, "image/jpeg"),
    );
    return { raw: image, dicom: info };
  }
  const type = sniff(bytes);
  if (!type) throw new DecodeError("not an image: expected a JPEG, PNG or DICOM file");
  return { raw: await decodeWithBrowser(bytes, type), dicom: null };
}

let LUT: Uint8Array | null = null;

/** P(pneumonia) of one input: the sigmoid, or 1 - P(normal) of a softmax head. */
async function probOf(model: tfl.LayersModel, x: TfCore.Tensor): Promise<number> {
  const y = model.predict(x) as TfCore.Tensor;
  const out = await y.data();
  y.dispose();
  return out.length === 1 ? out[0] : 1 - out[0];
}

/**
 * Screens one file's bytes with the run's loaded models (one per {@link runMembers} entry, in
 * that order): P(pneumonia) is their mean; the out-of-scope checks and Grad-CAM are the first
 * model's. Never throws: errors go in `error`.
 */
export async function screenBytes(
  tf: typeof TfCore,
  models: readonly tfl.LayersModel[],
  run: RunInfo,
  file: string,
  bytes: Uint8Array,
): Promise<FileResult> {
  const members = runMembers(run);
  try {
    if (models.length !== members.length) {
      throw new Error(`${models.length} model(s) loaded for ${members.length} in run.json`);
    }
    const { raw, dicom } = await decodeFile(bytes);
    const tensorOf = (pre: PagePreprocessing, px: Uint8Array) =>
      tf.tensor4d(normalisePixels(pre, px), [1, pre.size, pre.size, pre.channels]);
    let sum = 0;
    for (let m = 1; m < members.length; m++) {
      const pre = members[m].preprocessing;
      const x = tensorOf(pre, await modelInput(raw, pre));
      sum += await probOf(models[m], x);
      x.dispose();
    }
    // The first member's input stays for the out-of-scope features and Grad-CAM.
    const pre = members[0].preprocessing, model = models[0];
    const { size, channels } = pre;
    const input = await modelInput(raw, pre);
    const x = tensorOf(pre, input);
    try {
      const prob = (sum + await probOf(model, x)) / members.length;
      let distance: number | null = null;
      if (run.ood) {
        const f = penultimateWith(tf, model, x);
        distance = mahalanobis(run.ood.features, await f.data() as Float32Array);
        f.dispose();
      }
      const stats = imageStats(raw, input, size, channels);
      const warnings = scopeWarnings({ stats, distance, dicom, size }, run.ood);
      const label = prob >= run.decision.threshold ? "PNEUMONIA" : "NORMAL";
      // The heatmap explains the run's answer (an ensemble's, not only the first model's).
      const classIndex = label === "PNEUMONIA" ? 1 : 0;
      const [cam] = await gradCamWith(tf, model, x, { classIndex });
      const heat8 = Uint8Array.from(
        cam.heatmap,
        (v) => Math.round(255 * Math.min(1, Math.max(0, v))),
      );
      LUT ??= turboLut();
      const overlay = blendHeatmap(input, size, size, heat8, LUT);
      return {
        file,
        prob,
        label,
        warnings,
        distance,
        preview: raw,
        overlay,
        heatmap: cam.heatmap,
        dicom,
      };
    } finally {
      x.dispose();
    }
  } catch (err) {
    const msg = (err as Error).message ?? String(err);
    return { file, prob: null, label: null, warnings: [], distance: null, error: msg };
  }
}

/** The batch as CSV (RFC 4180 quoting). */
export function resultsCsv(rows: readonly FileResult[], decision: Decision): string {
  const q = (s: string) => (/[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s);
  const head = "file,probability,label,threshold,threshold_source,in_scope,warnings,distance,error";
  const lines = rows.map((r) =>
    [
      q(r.file),
      r.prob === null ? "" : r.prob.toFixed(6),
      r.label ?? "",
      decision.threshold.toFixed(6),
      decision.source,
      r.prob === null ? "" : r.warnings.length ? "no" : "yes",
      q(r.warnings.map((w) => w.code).join(";")),
      r.distance === null ? "" : r.distance.toFixed(3),
      q(r.error ?? ""),
    ].join(",")
  );
  return [head, ...lines].join("\n") + "\n";
}
