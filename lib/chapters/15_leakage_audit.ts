/**
 * Chapter 15, the leakage audit: patients and near-duplicate images shared between the splits
 * of the manifest the models were trained and tested on.
 * @module
 */

import { join } from "node:path";
import { imageGrid } from "../charts/images.ts";
import { lineChart } from "../charts/lines.ts";
import { rowsToHtml } from "../charts/table.ts";
import { toPngDataUrl } from "../images/png.ts";
import { loadImage } from "../images/load.ts";
import { type ReportSettings, reportSource } from "../report/settings.ts";
import { recordResult } from "./_context.ts";
import { type DatasetLeakage, datasetLeakage, type NearDuplicatePair } from "../eval/leakage.ts";

/**
 * Runs the audit on the report's dataset with the report's manifest folder and image cache, and
 * records its headline counts (results/leakage_audit.json) for the conclusions.
 */
export async function runLeakage(s: ReportSettings, maxDistance = 4): Promise<DatasetLeakage> {
  const r = await datasetLeakage(reportSource(s), {
    maxDistance,
    seed: s.seed,
    manifestDir: join(s.outputsDir, "manifests"),
    cacheDir: join(s.outputsDir, "cache", "images"),
  });
  const nd = r.audit.nearDuplicates;
  recordResult(s, "leakage_audit", "summary", {
    images: r.audit.images - r.audit.unhashed,
    sharedPatients: r.audit.sharedPatients.count,
    maxDistance: r.audit.maxDistance,
    crossSplitPairs: nd.pairs,
    confirmed: nd.confirmed ?? null,
    evalImagesWithConfirmedTrainTwin: nd.evalImagesWithConfirmedTrainTwin ?? null,
  });
  return r;
}

/** The headline counts as a table. */
export function summaryTable(r: DatasetLeakage): string {
  const a = r.audit, nd = a.nearDuplicates;
  return rowsToHtml([
    { check: "images audited", count: a.images - a.unhashed },
    { check: "patients with images in more than one split", count: a.sharedPatients.count },
    { check: `cross-split pairs with pHash distance <= ${a.maxDistance}`, count: nd.pairs },
    { check: "... of which confirmed (thumbnail correlation >= 0.99)", count: nd.confirmed ?? "" },
    {
      check: "val/test images with a confirmed duplicate in train",
      count: nd.evalImagesWithConfirmedTrainTwin ?? "",
    },
    {
      check: `pairs inside one split with distance <= ${a.maxDistance}`,
      count: nd.withinSplit.pairs,
    },
    {
      check: "... of which confirmed duplicates (same patient)",
      count: `${nd.withinSplit.confirmed ?? ""} (${nd.withinSplit.samePatient})`,
    },
  ], {
    caption: `Manifest ${r.manifestPath}; audit took ${
      r.seconds < 10 ? r.seconds.toFixed(1) : Math.round(r.seconds)
    } s`,
  });
}

/** Pair counts at several distances: how the choice of k matters. */
export function distanceTable(r: DatasetLeakage): string {
  return rowsToHtml(
    r.pairsByDistance.map((p) => ({
      "max pHash distance k": p.maxDistance,
      "cross-split pairs": p.pairs,
      "of different patients": p.differentPatients,
      "confirmed duplicates": p.confirmed,
    })),
    { caption: "64-bit pHash; distances are even because every hash has 32 bits set" },
  );
}

/** Cumulative share of pairs within distance d, for different-patient and same-patient pairs. */
export function profileFigure(r: DatasetLeakage): string {
  const cum = (h: number[]) => {
    const total = h.reduce((a, b) => a + b, 0) || 1;
    let run = 0;
    return h.slice(0, 33).map((c, d) => ({ x: d, y: (run += c) / total }));
  };
  return lineChart([
    { name: "different patients", points: cum(r.profile.differentPatients) },
    { name: "same patient", points: cum(r.profile.samePatient) },
  ], {
    title: "How far apart are pHashes of chest X-rays?",
    xLabel: "pHash Hamming distance",
    yLabel: "share of pairs within this distance",
    yDomain: [0, 1],
    dots: false,
    caption: "20,000 random pairs of different patients and up to 20,000 pairs of images of one " +
      "patient. Chest films share one layout, so unrelated X-rays can have close hashes.",
  });
}

/** Side-by-side images of example pairs, with distance and confirmation. */
export async function pairGrid(
  s: ReportSettings,
  pairs: NearDuplicatePair[],
  title: string,
  n = 3,
): Promise<string | null> {
  const tiles = [];
  for (const p of pairs.slice(0, n)) {
    for (
      const [rel, split, patient] of [[p.a, p.splitA, p.patientA], [p.b, p.splitB, p.patientB]]
    ) {
      const px = await loadImage(join(s.data, rel), { size: 160, channels: 1 });
      tiles.push({
        src: await toPngDataUrl(px, 160, 160, 1),
        caption: `${split} ${patient}: d = ${p.distance}` +
          (p.confirmed === null ? "" : p.confirmed ? ", confirmed" : ", not confirmed"),
      });
    }
  }
  if (tiles.length === 0) return null;
  return imageGrid(tiles, { columns: 2, tileWidth: 160, title });
}

/** A paragraph with the audit's conclusion. */
export function leakageSummary(r: DatasetLeakage): string {
  const a = r.audit, nd = a.nearDuplicates;
  return [
    a.sharedPatients.count === 0
      ? "No patient has images in more than one split: the split is by patient."
      : `${a.sharedPatients.count} patients have images in more than one split (for example ` +
        `${a.sharedPatients.examples[0].patientId}): their images leak between splits.`,
    `${nd.pairs} cross-split pairs of images are within pHash distance ${a.maxDistance}; ` +
    `${nd.confirmed} of them are confirmed as the same picture by the thumbnail correlation. ` +
    `${
      nd.confirmed === 0
        ? "The close hashes are look-alike X-rays of different children, not copies."
        : ""
    }`,
    `Inside the splits, ${nd.withinSplit.confirmed} of ${nd.withinSplit.pairs} close pairs are ` +
    `confirmed duplicates (${nd.withinSplit.samePatient} close pairs are two images of one ` +
    `patient); a patient's duplicates cannot cross splits because the split is by patient.`,
  ].join(" ");
}
