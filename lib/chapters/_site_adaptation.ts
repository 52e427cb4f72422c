/**
 * Chapter 16's adaptation table: one run on the second site with every `--adapt` mode at the
 * stored threshold (no site labels), then with the threshold calibrated on every site label
 * (judged on the same images, optimistic) and on half of them (judged on the other half).
 * @module
 */
import type { DataSource } from "../data/dataset.ts";
import { basename, join } from "node:path";
import { rowsToHtml } from "../charts/table.ts";
import { ADAPT_MODES } from "../eval/adapt.ts";
import { siteCalibrate } from "../eval/site_calibration.ts";
import {
  scoreForSite,
  type SiteEvaluation,
  type SiteScoring,
  summariseScoring,
} from "../eval/site_eval.ts";
import { formatInterval, type MetricIntervals } from "../metrics/bootstrap.ts";
import type { ReportSettings } from "../report/settings.ts";
import { isFinishedRun } from "../train/run.ts";
import { ensembleMembers } from "../train/run_files.ts";
import { projectPath } from "../util/project.ts";
import type { ScoredSplit } from "./_eval_context.ts";

/** Bootstrap resamples of the chapter's intervals. */
export const N_BOOT = 1000;

/** What the adaptation table reads of chapter 16's scored site (its `SiteChapter`). */
export interface ScoredSite {
  /** The site's images with their labels. */
  site: Pick<ScoredSplit, "records">;
  /** How the site is named in the tables. */
  siteText: string;
  /** The site's folder (for calibration on its labels). */
  siteDir: string;
  /** The site's data (a folder, or a folder with its label table), for calibration. */
  siteSource: DataSource | string;
}

/** One row of the adaptation table. */
export type AdaptationRow = Record<string, string> & { model: string; protocol: string };

const intervalCells = (iv: MetricIntervals["metrics"], threshold: number) => ({
  "ROC-AUC (95% CI)": formatInterval(iv.auc),
  "sensitivity (95% CI)": formatInterval(iv.sensitivity),
  "specificity (95% CI)": formatInterval(iv.specificity),
  threshold: threshold.toFixed(4),
});

/**
 * The adaptation table of one run on the site: every `--adapt` mode at the stored threshold (no
 * site labels), then the threshold calibrated on every site label (judged on the same images, so
 * optimistic) and on half of them (judged on the other half, by patient).
 */
export async function adaptationRows(
  s: ReportSettings,
  c: ScoredSite,
  name: string,
  runDir: string,
): Promise<
  { name: string; rows: AdaptationRow[]; strict: SiteEvaluation; calibrated: SiteEvaluation }
> {
  const common = {
    runs: [runDir],
    records: c.site.records,
    source: c.siteText,
    cacheDir: join(s.outputsDir, "cache", "images"),
  };
  const summary = { ci: true, nBoot: N_BOOT, seed: s.seed, details: true };
  const rows: AdaptationRow[] = [];
  let strict: SiteEvaluation | null = null, plain: SiteScoring | null = null;
  for (const adapt of ADAPT_MODES) {
    const sc = await scoreForSite({ ...common, adapt });
    const e = summariseScoring(sc, summary);
    if (adapt === "none") strict = e, plain = sc;
    const prior = e.prior
      ? ` (EM: ${(100 * e.prior.site.prior).toFixed(0)}% pneumonia at the site, ` +
        `${(100 * e.prior.validation.prior).toFixed(0)}% on validation)`
      : "";
    rows.push({
      model: name,
      protocol: `no site labels, --adapt ${adapt}${prior}`,
      ...intervalCells(e.intervals!, e.threshold),
    });
  }
  const calibrated = summariseScoring(
    await scoreForSite({ ...common, calibrate: c.siteSource }),
    summary,
  );
  rows.push({
    model: name,
    protocol: "threshold from every site label, judged on the same images (optimistic)",
    ...intervalCells(calibrated.intervals!, calibrated.threshold),
  });
  const items = plain!.scored.records.map((r) => ({ y: r.y, patientId: r.patientId }));
  const half = Math.floor(items.length / 2);
  if (half >= 2 && half < items.length) {
    try {
      const r = siteCalibrate(items, plain!.scored.prob, {
        threshold: strict!.threshold,
        sampleSize: half,
        seed: s.seed,
        nBoot: N_BOOT,
        policy: { kind: "sensitivity", target: plain!.targetSensitivity },
      });
      rows.push({
        model: name,
        protocol: `threshold from the labels of half the site (${r.sample.n} images), judged on ` +
          `the other half (${r.rest.n})`,
        ...intervalCells(r.after.metrics, r.newThreshold),
      });
    } catch (err) {
      rows.push({ model: name, protocol: `split-half calibration: ${(err as Error).message}` });
    }
  }
  return { name, rows, strict: strict!, calibrated };
}

/**
 * How the report names the shipped reference: its folder and, for an ensemble folder, what it
 * averages (the members' folder names).
 */
export async function referenceLabel(dir: string): Promise<string> {
  const members = await ensembleMembers(dir);
  return members
    ? `shipped reference (outputs/reference, the mean of ${
      members.map((m) => basename(m)).join(", ")
    })`
    : "shipped reference (outputs/reference)";
}

/** The shipped reference model (outputs/reference, an ensemble folder), when it is there. */
export async function referenceRun(): Promise<string | null> {
  const dir = projectPath("outputs/reference");
  return (await isFinishedRun(dir)) ? dir : null;
}

/**
 * The adaptation table as HTML; `seed`: the bootstrap and half-split seed the rows were made with
 * (said in the caption, since `deno task evaluate` defaults to others and its intervals and
 * half-split figures differ a little).
 */
export function adaptationTable(rows: AdaptationRow[], seed?: number): string {
  const seedText = seed === undefined
    ? ""
    : ` (seed ${seed}; \`deno task evaluate\` uses seed 0 unless --seed is given, so its ` +
      "intervals and half-split figures differ a little)";
  return rowsToHtml(rows, {
    wrap: ["model", "protocol"],
    caption: `Second site, ${N_BOOT} patient resamples${seedText}. Adaptation uses the site's ` +
      "images, never its labels; the stored threshold was chosen on validation",
  });
}
