/**
 * Chapter 12, where the model looks: Grad-CAM overlays for the true/false negative/positive
 * examples, and the share of heatmap mass outside the central chest box averaged over the test
 * images (the original's worry that the model reads the borders, markers and shoulders).
 * @module
 */

import type * as tfl from "@tensorflow/tfjs-layers";
import { Buffer } from "node:buffer";
import { histogram } from "../charts/histogram.ts";
import { imageGrid } from "../charts/images.ts";
import { rowsToHtml } from "../charts/table.ts";
import type { Preprocessing } from "../models/types.ts";
import { CHEST_BOX } from "../images/chest_region.ts";
import { gradCam, heatmapMassOutside, overlayHeatmapPng } from "../eval/gradcam.ts";
import { inputTensor } from "../train/score.ts";
import type { EvalContext, ScoredSplit } from "./_eval_context.ts";
import { bootstrapStats, type Interval } from "../metrics/bootstrap.ts";
import { recordResult } from "./_context.ts";
import { N_BOOT } from "./10_honest_evaluation.ts";
import { formatMetric } from "../metrics/format.ts";

/**
 * Grad-CAM heatmaps of every image of a scored split. By default each explains the class the
 * model predicted at `threshold` (where the model looked for its decision); `classIndex` fixes
 * the explained class instead.
 */
export async function splitHeatmaps(
  model: tfl.LayersModel,
  pre: Preprocessing,
  d: ScoredSplit,
  opts: { classIndex?: number; threshold?: number; batch?: number } = {},
): Promise<Float32Array[]> {
  const bytes = pre.size * pre.size * pre.channels, batch = opts.batch ?? 32;
  const out: Float32Array[] = [];
  for (let s = 0; s < d.y.length; s += batch) {
    const n = Math.min(batch, d.y.length - s);
    const x = inputTensor(pre, d.pixels.subarray(s * bytes, (s + n) * bytes), n);
    try {
      const cams = await gradCam(model, x, {
        classIndex: opts.classIndex,
        threshold: opts.threshold,
      });
      for (const c of cams) out.push(c.heatmap);
    } finally {
      x.dispose();
    }
  }
  return out;
}

/** Share of heatmap mass outside the chest box for each heatmap (NaN for an empty map). */
export function outsideShares(heatmaps: Float32Array[], size: number): number[] {
  return heatmaps.map((h) => heatmapMassOutside(h, size, size));
}

/** What a uniform heatmap scores on this pixel grid: the baseline for the outside share. */
export function uniformOutside(size: number): number {
  return heatmapMassOutside(new Float32Array(size * size).fill(1), size, size);
}

/** Summary rows of outside shares: all images and by true class. */
export function outsideTable(d: ScoredSplit, shares: number[], size: number): string {
  const stats = (name: string, idx: number[]) => {
    const v = idx.map((i) => shares[i]).filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
    return {
      images: name,
      n: v.length,
      "empty maps": idx.length - v.length,
      "mean outside share": v.reduce((a, b) => a + b, 0) / v.length,
      median: v[Math.floor(v.length / 2)],
      "share of images > 0.5": v.filter((x) => x > 0.5).length / v.length,
    };
  };
  const all = d.y.map((_, i) => i);
  return rowsToHtml([
    stats("all test images", all),
    stats("NORMAL", all.filter((i) => d.y[i] === 0)),
    stats("PNEUMONIA", all.filter((i) => d.y[i] === 1)),
  ], {
    caption: `Grad-CAM of the predicted class; chest box x ${CHEST_BOX.x0}-${CHEST_BOX.x1}, y ` +
      `${CHEST_BOX.y0}-${CHEST_BOX.y1} of the image; a uniform heatmap would score ` +
      `${uniformOutside(size).toFixed(3)}`,
  });
}

/** Histogram of the outside shares with the uniform baseline noted. */
export function outsideHistogram(shares: number[], size: number): string {
  return histogram([{ name: "test images", values: shares.filter((x) => Number.isFinite(x)) }], {
    bins: 20,
    domain: [0, 1],
    xLabel: "share of Grad-CAM mass outside the chest box",
    title: "Where the heatmap mass lies",
    rules: [{
      x: uniformOutside(size),
      name: `a uniform heatmap: ${uniformOutside(size).toFixed(3)}`,
    }],
    caption: "Dashed: the share a heatmap spread evenly over the image would have outside the box.",
  });
}

/** Index of the most confident true negative, false positive, false negative and true positive. */
export function outcomeExamples(
  d: ScoredSplit,
  threshold: number,
): { label: "TN" | "FP" | "FN" | "TP"; index: number | null }[] {
  const pick = (y: number, positive: boolean, most: "high" | "low") => {
    let best: number | null = null;
    d.prob.forEach((p, i) => {
      if (d.y[i] !== y || (p >= threshold) !== positive) return;
      if (best === null || (most === "high" ? p > d.prob[best] : p < d.prob[best])) best = i;
    });
    return best;
  };
  return [
    { label: "TN", index: pick(0, false, "low") },
    { label: "FP", index: pick(0, true, "high") },
    { label: "FN", index: pick(1, false, "low") },
    { label: "TP", index: pick(1, true, "high") },
  ];
}

/** PNG data URL of image `i` of a split with its heatmap overlaid, upscaled for display. */
export async function overlayDataUrl(
  d: ScoredSplit,
  pre: Preprocessing,
  i: number,
  heatmap: Float32Array,
): Promise<string> {
  const bytes = pre.size * pre.size * pre.channels;
  const png = await overlayHeatmapPng(
    d.pixels.subarray(i * bytes, (i + 1) * bytes),
    pre.size,
    pre.size,
    heatmap,
    pre.size,
    pre.size,
    { outSize: Math.max(pre.size, 192) },
  );
  return `data:image/png;base64,${Buffer.from(png).toString("base64")}`;
}

/** The mean outside share with its patient-bootstrap interval, against the uniform map. */
export interface OutsideStats {
  /** Mean share over the test images (95% interval, resampled by patient, seed 0). */
  mean: Interval;
  normal: number;
  pneumonia: number;
  uniform: number;
  /** How the mean compares with a uniform map, decided from the interval. */
  verdict: "more" | "same" | "slightly-less" | "less" | "mostly-inside";
}

/**
 * The outside-share statistics and the verdict: "same" when the interval includes the uniform
 * share, "slightly-less" when the mean is under a quarter below it, "mostly-inside" when the mean
 * is under 15%.
 */
export function outsideStats(d: ScoredSplit, shares: number[], size: number): OutsideStats {
  const idx = d.y.map((_, i) => i).filter((i) => Number.isFinite(shares[i]));
  const mean = (ix: number[]) => ix.reduce((a, i) => a + shares[i], 0) / ix.length;
  const iv = bootstrapStats(idx.length, (sample) => ({ mean: mean(sample.map((k) => idx[k])) }), {
    groups: idx.map((i) => d.patient[i]),
    nBoot: N_BOOT,
    seed: 0,
  }).intervals.mean;
  const u = uniformOutside(size);
  const verdict = iv.lo > u
    ? "more"
    : iv.hi >= u
    ? "same"
    : iv.estimate < 0.15
    ? "mostly-inside"
    : (u - iv.estimate) / u < 0.25
    ? "slightly-less"
    : "less";
  return {
    mean: iv,
    normal: mean(idx.filter((i) => d.y[i] === 0)),
    pneumonia: mean(idx.filter((i) => d.y[i] === 1)),
    uniform: u,
    verdict,
  };
}

/**
 * The TN/FP/FN/TP grid with Grad-CAM overlays (explaining the predicted class). Also records the
 * outside-share statistics (results/where_the_model_looks.json) for the conclusions.
 */
export async function outcomeGrid(ctx: EvalContext, shares: number[]): Promise<string> {
  recordResult(
    ctx.settings,
    "where_the_model_looks",
    "outside",
    outsideStats(ctx.test, shares, ctx.run.preprocessing.size),
  );
  const pre = ctx.run.preprocessing, d = ctx.test;
  const picks = outcomeExamples(d, ctx.run.threshold).filter((p) => p.index !== null);
  const bytes = pre.size * pre.size * pre.channels;
  const tiles = [];
  for (const p of picks) {
    const i = p.index!;
    const x = inputTensor(pre, d.pixels.subarray(i * bytes, (i + 1) * bytes), 1);
    const [cam] = await gradCam(ctx.run.model, x, { threshold: ctx.run.threshold });
    x.dispose();
    tiles.push({
      src: await overlayDataUrl(d, pre, i, cam.heatmap),
      caption: `${p.label}: P(pneumonia) ${formatMetric(d.prob[i])}, explains ` +
        `${cam.classIndex === 1 ? "PNEUMONIA" : "NORMAL"}, outside ${formatMetric(shares[i], 2)}`,
    });
  }
  if (tiles.length === 0) throw new Error("outcomeGrid: the test part has no images");
  return imageGrid(tiles, {
    columns: 4,
    tileWidth: 190,
    title: "Grad-CAM on the most confident TN, FP, FN and TP of the test part",
    caption: "Each heatmap explains the class the model predicted at the stored threshold; " +
      "'outside' is the share of that heatmap's mass outside the chest box.",
  });
}

/**
 * Sentences comparing the mean outside share (with its interval) with a uniform heatmap's,
 * worded by {@link outsideStats}' verdict: a share barely under the uniform one is not evidence
 * that the model keeps to the chest.
 */
export function outsideSummary(d: ScoredSplit, shares: number[], size: number): string {
  const st = outsideStats(d, shares, size);
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const ivText = `${pct(st.mean.estimate)} (95% CI ${pct(st.mean.lo)} to ${pct(st.mean.hi)}, ` +
    "resampled by patient)";
  const verdict = {
    more: "That is more than an even spread would put there: the model leans on the borders, " +
      "markers or shoulders, as the original feared.",
    same: "The interval includes the even-spread share: the heatmaps are no more concentrated " +
      "on the chest than a map that ignores position, so they give no evidence that the model " +
      "keeps to the chest.",
    "slightly-less": "That is only slightly less than an even spread: the heatmaps are almost " +
      "as spread out as a map that ignores position, so this does not show that the model keeps " +
      "its evidence in the chest; a large share of it lies outside.",
    less: "That is clearly less than an even spread, but a sizeable share of the evidence still " +
      "lies outside the chest box.",
    "mostly-inside": "Most of the evidence lies inside the chest box.",
  }[st.verdict];
  return `On average ${ivText} of the Grad-CAM mass lies outside the chest box (pneumonia ` +
    `images ${pct(st.pneumonia)}, normal images ${pct(st.normal)}), against ${pct(st.uniform)} ` +
    `for a heatmap spread evenly over the image. ${verdict}`;
}
