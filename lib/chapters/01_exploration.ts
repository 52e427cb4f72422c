/**
 * Chapter 1, exploration: the folder structure, image counts and split shares, the class
 * distribution, a grid of training images with their labels, and pixel histograms of a normal
 * and a pneumonia image.
 * @module
 */
import pl from "nodejs-polars";
import { dirname } from "node:path";
import { barChart, groupedBarChart } from "../charts/bar.ts";
import { histogram } from "../charts/histogram.ts";
import { imageGrid } from "../charts/images.ts";
import { COLORS } from "../charts/_render.ts";
import { loadDataset } from "../data/dataset.ts";
import type { SplitName, SplitRecord } from "../data/types.ts";
import { loadImage } from "../images/load.ts";
import { toPngDataUrl } from "../images/png.ts";
import { makeRng, shuffle } from "../util/rng.ts";
import { type Splits } from "./_context.ts";
import { type ReportSettings, reportSource } from "../report/settings.ts";

const SPLITS: SplitName[] = ["train", "val", "test"];

/** Images per folder of the dataset as found on disk (e.g. `train/NORMAL`). */
export async function folderTable(s: ReportSettings): Promise<pl.DataFrame> {
  const found = await loadDataset(reportSource(s));
  const counts = new Map<string, number>();
  for (const r of found.records) {
    const folder = dirname(r.relPath);
    counts.set(folder, (counts.get(folder) ?? 0) + 1);
  }
  const folders = [...counts.keys()].sort();
  return pl.DataFrame({
    folder: folders,
    images: folders.map((f) => counts.get(f)!),
  });
}

/** Images per split and class of the manifest, with each split's share of all images. */
export function splitTable(sp: Splits): pl.DataFrame {
  const total = sp.records.length;
  const rows = SPLITS.map((split) => {
    const r = sp.bySplit[split];
    const normal = r.filter((x) => x.y === 0).length;
    return {
      split,
      NORMAL: normal,
      PNEUMONIA: r.length - normal,
      images: r.length,
      "% of all": total ? (100 * r.length) / total : 0,
      "% pneumonia": r.length ? (100 * (r.length - normal)) / r.length : 0,
      patients: new Set(r.map((x) => x.patientId)).size,
    };
  });
  return pl.DataFrame(rows);
}

/** How the splits were made, in words, for the chapter's text. */
export function splitNote(sp: Splits): string {
  const how = sp.strategy === "official"
    ? "the dataset's own split folders are used as they are"
    : sp.strategy === "official+carved"
    ? "the dataset's folders are re-split by patient (no patient in two splits)"
    : "the images are split by patient, stratified by class (no patient in two splits)";
  const warn = sp.warnings.length ? `\n\n${sp.warnings.map((w) => `- ${w}`).join("\n")}` : "";
  return `Splits from the manifest \`${sp.manifestPath.split("/").pop()}\`: ${how}.${warn}`;
}

/** Bar charts of the class distribution: per split and class, and the subtypes of train. */
export function classDistributionCharts(sp: Splits): string[] {
  const bars = SPLITS.flatMap((split) =>
    (["NORMAL", "PNEUMONIA"] as const).map((label) => ({
      group: split,
      series: label,
      value: sp.bySplit[split].filter((r) => r.label === label).length,
    }))
  );
  const train = sp.bySplit.train;
  const sub = (["normal", "bacteria", "virus"] as const).map((t) => ({
    label: t,
    value: train.filter((r) => r.subtype === t).length,
  }));
  return [
    groupedBarChart(bars, {
      title: "Class distribution per split",
      valueLabel: "images",
      digits: 0,
      colors: { NORMAL: COLORS.NORMAL, PNEUMONIA: COLORS.PNEUMONIA },
    }),
    barChart(sub, {
      title: "Training images by subtype (from the file names)",
      valueLabel: "images",
      width: 420,
    }),
  ];
}

/** `n` training images (half of each class, seeded), in a fixed order. */
export function sampleRecords(sp: Splits, n: number, seed: number): SplitRecord[] {
  const rng = makeRng(seed);
  const pick = (y: 0 | 1, k: number) =>
    shuffle(sp.bySplit.train.filter((r) => r.y === y), rng).slice(0, k);
  const normal = pick(0, Math.floor(n / 2));
  const pneu = pick(1, n - normal.length);
  return [...normal, ...pneu];
}

/** A grid of sample training images with their labels and subtypes, at 150 px. */
export async function sampleGrid(records: SplitRecord[], size = 150): Promise<string> {
  const images = await Promise.all(records.map(async (r) => ({
    src: await toPngDataUrl(await loadImage(r.path, { size, channels: 1 }), size, size, 1),
    caption: `${r.label}${r.y === 1 ? ` (${r.subtype})` : ""}`,
  })));
  return imageGrid(images, {
    columns: 4,
    tileWidth: 150,
    title: "Training images and their labels",
  });
}

/** Histograms of the pixel values (0-255) of one normal and one pneumonia image. */
export async function pixelHistograms(records: SplitRecord[], size = 150): Promise<string> {
  const normal = records.find((r) => r.y === 0);
  const pneu = records.find((r) => r.y === 1);
  if (!normal || !pneu) throw new Error("pixelHistograms needs a normal and a pneumonia image");
  const [a, b] = await Promise.all(
    [normal, pneu].map((r) => loadImage(r.path, { size, channels: 1 })),
  );
  return histogram([
    { name: `NORMAL ${normal.relPath.split("/").pop()}`, values: a, color: COLORS.NORMAL },
    { name: `PNEUMONIA ${pneu.relPath.split("/").pop()}`, values: b, color: "#d6336c" },
  ], { bins: 32, domain: [0, 256], xLabel: "pixel value", title: "Pixel histograms" });
}
