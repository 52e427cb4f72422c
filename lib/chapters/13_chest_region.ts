/**
 * Chapter 13, the chest-region experiment: the `compact` model trained on images cropped to the
 * central chest box against the same model on whole images, same data, split, settings and seed.
 * @module
 */

import { imageGrid } from "../charts/images.ts";
import { rowsToHtml } from "../charts/table.ts";
import { toPngDataUrl } from "../images/png.ts";
import { bootstrapMetrics, bootstrapStats, formatInterval } from "../metrics/bootstrap.ts";
import { rocAuc } from "../metrics/classification.ts";
import { recordResult, type RunRecord } from "./_context.ts";
import type { ReportSettings } from "../report/settings.ts";
import { applyChestRegion, type ChestRegionMode } from "../images/chest_region.ts";
import { EVAL_RUN, type EvalContext } from "./_eval_context.ts";
import { trainOrReuse } from "./_training.ts";
import { N_BOOT } from "./10_honest_evaluation.ts";

/** Run name of the cropped variant. */
export const CHEST_RUN = "compact_chest_crop";

/**
 * Trains (or reuses) the compact model with the training engine's chest-region option (`mode`,
 * default "crop"): the engine crops the images after loading and stores the mode in the run's
 * preprocessing.json, so evaluation applies it too.
 */
export function trainChestVariant(
  s: ReportSettings,
  mode: ChestRegionMode = "crop",
): Promise<RunRecord> {
  return trainOrReuse(s, { ...EVAL_RUN, name: CHEST_RUN, chestRegion: mode });
}

/** Metrics of both models on the same test images, with patient-level 95% intervals. */
export function comparisonTable(base: EvalContext, crop: EvalContext, seed: number): string {
  const row = (name: string, c: EvalContext) => {
    const iv = bootstrapMetrics(c.test.y, c.test.prob, {
      groups: c.test.patient,
      threshold: c.run.threshold,
      nBoot: N_BOOT,
      seed,
    }).metrics;
    return {
      model: name,
      "val AUC": rocAuc(c.val.y, c.val.prob),
      "test AUC (95% CI)": formatInterval(iv.auc),
      threshold: c.run.threshold,
      "test sensitivity": formatInterval(iv.sensitivity),
      "test specificity": formatInterval(iv.specificity),
      "test F1": formatInterval(iv.f1),
      "train time (s)": Math.round(c.record.summary.totalTimeS),
    };
  };
  return rowsToHtml([row("whole image", base), row("chest crop", crop)], {
    caption: `Test part (${base.test.y.length} images); each model at its own stored threshold ` +
      `(validation sensitivity >= ${base.record.config.threshold.targetSensitivity})`,
  });
}

/**
 * Paired bootstrap of the AUC difference (crop - whole) over the same test patients. Records it
 * (results/chest_region.json) for the conclusions.
 */
export function aucDifference(base: EvalContext, crop: EvalContext, seed: number) {
  const iv = pairedAucDifference(base, crop, seed);
  recordResult(base.settings, "chest_region", "aucDifference", iv);
  return iv;
}

function pairedAucDifference(base: EvalContext, crop: EvalContext, seed: number) {
  const a = base.test, b = crop.test;
  if (a.y.length !== b.y.length || a.records.some((r, i) => r.path !== b.records[i].path)) {
    throw new Error("aucDifference: the two runs were scored on different test images");
  }
  return bootstrapStats(a.y.length, (idx) => {
    const y = idx.map((i) => a.y[i]);
    return {
      diff: rocAuc(y, idx.map((i) => b.prob[i])) - rocAuc(y, idx.map((i) => a.prob[i])),
    };
  }, { groups: a.patient, nBoot: N_BOOT, seed }).intervals.diff;
}

/** A few test images as the whole-image model sees them and as the cropped model sees them. */
export async function cropExamples(base: EvalContext, n = 3): Promise<string> {
  const pre = base.run.preprocessing, d = base.test;
  const bytes = pre.size * pre.size * pre.channels;
  const tiles = [];
  const pick = [d.y.indexOf(0), d.y.indexOf(1), d.y.lastIndexOf(1)].filter((i) => i >= 0)
    .slice(0, n);
  for (const i of pick) {
    const img = d.pixels.slice(i * bytes, (i + 1) * bytes);
    const crop = await applyChestRegion(img, pre.size, pre.channels, "crop");
    for (const [what, px] of [["whole", img], ["chest crop", crop]] as const) {
      const src = await toPngDataUrl(px, pre.size, pre.size, pre.channels);
      tiles.push({ src, caption: `${d.records[i].label} (${what})` });
    }
  }
  return imageGrid(tiles, {
    columns: 2 * pick.length,
    tileWidth: 130,
    title: "What each model sees",
    caption:
      "The crop keeps x 15-85% and y 10-90% of the image and resizes it back to the input size.",
  });
}
