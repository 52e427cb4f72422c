/**
 * Chapter 16, a second site: the report's model on the training folder's own test part (or
 * validation) beside a labelled sample of another site, with patient-bootstrap intervals; the
 * score distributions per class; what differs in the images (intensity, contrast, border, class
 * prior); adaptation without labels (AdaBN, prior correction) and with labels (threshold
 * calibration, and how many labelled images it needs); and the table of training recipes
 * compared for what holds up there (bench/site_recipes.ts).
 *
 * The site sample is the report's `site` setting (XRAY_REPORT_SITE, `--site`, or the
 * chest_xray_site folder beside the data); without one, a data folder in the Kaggle layout
 * brings its official test split, which was acquired differently from the training folder. With
 * neither the chapter says why it is skipped.
 * @module
 */
import { join } from "node:path";
import { histogram } from "../charts/histogram.ts";
import { imageGrid } from "../charts/images.ts";
import { rowsToHtml } from "../charts/table.ts";
import { type DataSource, loadDataset } from "../data/dataset.ts";
import type { SplitRecord } from "../data/types.ts";
import { calibrationCurve } from "../eval/calibration_curve.ts";
import { imageStats, pixelSample, STAT_NAMES, summariseImageStats } from "../eval/image_stats.ts";
import { type RecipeTable, recipeTableRows } from "../eval/recipe_table.ts";
import type { SiteEvaluation } from "../eval/site_eval.ts";
import { loadImages } from "../images/cache.ts";
import { toPngDataUrl } from "../images/png.ts";
import { bootstrapMetrics, formatInterval, type MetricIntervals } from "../metrics/bootstrap.ts";
import { formatMetric } from "../metrics/format.ts";
import { type ReportSettings, siteSource as siteData } from "../report/settings.ts";
import { meetsTargets, SITE_TARGETS } from "../eval/site_targets.ts";
import { readJson, writeJsonAtomic } from "../util/atomic.ts";
import { projectPath } from "../util/project.ts";
import { resultPath, splits } from "./_context.ts";
import type { SecondSiteResult } from "./_conclusion_inputs.ts";
import { type EvalContext, evalContext, type ScoredSplit, scoreSplit } from "./_eval_context.ts";
import { N_BOOT } from "./_site_adaptation.ts";
import { readSelection } from "./_site_selection.ts";
export {
  readSelection,
  SELECTION_PATH,
  selectionSummary,
  selectionTableHtml,
} from "./_site_selection.ts";

export {
  type AdaptationRow,
  adaptationRows,
  adaptationTable,
  N_BOOT,
  referenceLabel,
  referenceRun,
} from "./_site_adaptation.ts";

/** Where the site sample comes from, or why there is none. */
export function siteSource(
  s: ReportSettings,
  officialTest: boolean,
): { dir: string; official: boolean; text: string } | { skip: string } {
  if (s.site) {
    return {
      dir: s.site,
      official: false,
      text: `the labelled sample of a second site in \`${s.site}\` (every image in it)`,
    };
  }
  if (officialTest) {
    return {
      dir: join(s.data, "test"),
      official: true,
      text: `the data folder's official test split (\`${s.data}/test\`), which was acquired ` +
        "differently from the training folder",
    };
  }
  return {
    skip: "No second site: the report has no site sample (set `--site DIR` or " +
      "XRAY_REPORT_SITE, or put a `chest_xray_site` folder beside the data) and the data folder " +
      `\`${s.data}\` has no official test split. This chapter is skipped.`,
  };
}

/** The chapter's data: the run, the training-distribution side and the site side, scored. */
export interface SiteChapter {
  ctx: EvalContext;
  /** The training-distribution side: the test part of the manifest, or validation. */
  home: ScoredSplit;
  homeName: string;
  site: ScoredSplit;
  /** The site's folder (for calibration on its labels). */
  siteDir: string;
  /** The site as the data layer reads it (its folder, or its folder with a label table). */
  siteSource: DataSource | string;
  siteText: string;
  /** Patient-bootstrap intervals at the stored threshold: home and site. */
  intervals: { home: MetricIntervals; site: MetricIntervals };
}

/** Scores both sides with the report's `compact` run; null (with `skip`) when there is no site. */
export async function siteChapter(
  s: ReportSettings,
): Promise<{ chapter: SiteChapter | null; note: string }> {
  const sp = await splits(s);
  const src = siteSource(s, sp.officialTest);
  if ("skip" in src) return { chapter: null, note: src.skip };
  const ctx = await evalContext(s);
  const records: SplitRecord[] = src.official
    ? sp.bySplit.test
    : (await loadDataset(siteData(s) ?? src.dir)).records.map((r) => ({
      ...r,
      split: "test" as const,
    }));
  const site = await scoreSplit(ctx.run, records, join(s.outputsDir, "cache", "images"));
  const home = src.official ? ctx.val : ctx.test;
  const homeName = src.official
    ? "validation (patient-level, from the training folder)"
    : "test part of the training folder (patient-level)";
  const t = ctx.run.threshold;
  const boot = (d: ScoredSplit) =>
    bootstrapMetrics(d.y, d.prob, { groups: d.patient, threshold: t, nBoot: N_BOOT, seed: s.seed });
  return {
    chapter: {
      ctx,
      home,
      homeName,
      site,
      siteDir: src.dir,
      siteSource: src.official ? src.dir : siteData(s) ?? src.dir,
      siteText: src.text,
      intervals: { home: boot(home), site: boot(site) },
    },
    note: `Run **${ctx.record.name}** (${ctx.record.config.model}, ${ctx.record.config.size} px) ` +
      `on the ${homeName} (${home.y.length} images) and on ${src.text} ` +
      `(${site.y.length} images), at its stored threshold ${t.toFixed(4)} (chosen on validation).`,
  };
}

/** Side by side: prevalence, AUC, sensitivity, specificity and precision with 95% intervals. */
export function sideBySideTable(c: SiteChapter): string {
  const row = (name: string, d: ScoredSplit, iv: MetricIntervals) => ({
    images: name,
    n: d.y.length,
    patients: iv.nClusters,
    "pneumonia share": `${(100 * d.prevalence).toFixed(0)}%`,
    "ROC-AUC (95% CI)": formatInterval(iv.metrics.auc),
    "sensitivity (95% CI)": formatInterval(iv.metrics.sensitivity),
    "specificity (95% CI)": formatInterval(iv.metrics.specificity),
    "precision (95% CI)": formatInterval(iv.metrics.precision),
  });
  return rowsToHtml([
    row(c.homeName, c.home, c.intervals.home),
    row("second site", c.site, c.intervals.site),
  ], {
    caption: `At the stored threshold ${c.ctx.run.threshold.toFixed(4)}; ${N_BOOT} resamples ` +
      "of patients",
    wrap: ["images"],
  });
}

/** Score distributions per class, training distribution and site. */
export function scoreHistograms(c: SiteChapter): string[] {
  const by = (d: ScoredSplit, y: number) => d.prob.filter((_, i) => d.y[i] === y);
  const fig = (name: string, d: ScoredSplit) =>
    histogram([
      { name: "normal", values: by(d, 0) },
      { name: "pneumonia", values: by(d, 1) },
    ], {
      title: `P(pneumonia) per class: ${name}`,
      domain: [0, 1],
      bins: 20,
      xLabel: `P(pneumonia); stored threshold ${c.ctx.run.threshold.toFixed(3)}`,
    });
  return [fig(c.homeName, c.home), fig("second site", c.site)];
}

/** Grey 128 px pixels of a set's images (the same for every model, for the image statistics). */
async function greyPixels(s: ReportSettings, d: ScoredSplit) {
  return await loadImages(d.records.map((r) => r.path), {
    size: 128,
    channels: 1,
    cacheDir: join(s.outputsDir, "cache", "images"),
  });
}

/** What differs in the images: statistics per set and class, the intensity histogram, examples. */
export async function imageDifferences(s: ReportSettings, c: SiteChapter): Promise<string[]> {
  const sets = [["training distribution", c.home], ["second site", c.site]] as const;
  const rows: Record<string, string | number>[] = [];
  const samples: { name: string; values: number[] }[] = [];
  const tiles: { src: string; caption: string }[] = [];
  for (const [name, d] of sets) {
    const px = await greyPixels(s, d);
    const stats = imageStats(px.data, d.y.length, 128);
    samples.push({ name, values: pixelSample(px.data, d.y.length, 128) });
    for (const y of [0, 1]) {
      const idx = d.y.map((v, i) => (v === y ? i : -1)).filter((i) => i >= 0);
      const sum = summariseImageStats(idx.map((i) => stats[i]));
      const row: Record<string, string | number> = {
        images: name,
        class: y ? "pneumonia" : "normal",
        n: idx.length,
      };
      for (const k of STAT_NAMES) row[k] = `${sum[k].mean.toFixed(1)} ± ${sum[k].sd.toFixed(1)}`;
      rows.push(row);
      for (const i of idx.slice(0, 2)) {
        tiles.push({
          src: await toPngDataUrl(px.data.subarray(i * 16384, (i + 1) * 16384), 128, 128, 1),
          caption: `${name}, ${y ? "pneumonia" : "normal"}`,
        });
      }
    }
  }
  return [
    rowsToHtml(rows, {
      caption: "Per image (128 px grey, 0-255), mean ± sd over the images: mean = brightness, " +
        "sd = contrast, border = the outer 8% frame, p5 / p95 = the dark and bright ends",
    }),
    histogram(samples, {
      title: "Pixel intensities (every 16th pixel of every image)",
      domain: [0, 255],
      bins: 32,
      xLabel: "grey value",
    }),
    imageGrid(tiles, { columns: 4, tileWidth: 140, title: "Two images of each class and set" }),
  ];
}

/** The few-label calibration curve of the run's site scores (25, 50, 100, all labels). */
export function calibrationCurveTable(c: SiteChapter, seed: number): string {
  const items = c.site.records.map((r) => ({ y: r.y, patientId: r.patientId }));
  const target = c.ctx.record.config.threshold.targetSensitivity;
  const rows = [target, 0.98].flatMap((pick) =>
    calibrationCurve(items, c.site.prob, {
      sizes: [25, 50, 100, "all"],
      draws: 200,
      target,
      pickTarget: pick,
      seed,
    }).map((r) => ({
      "labelled site images": r.size === "all" ? `all (${items.length}, bootstrap)` : r.size,
      "threshold keeps on the sample": `sensitivity >= ${pick}`,
      [`held sensitivity >= ${target} on the others`]: `${(100 * r.heldRate).toFixed(0)}%`,
      "sensitivity, median (5-95%)": spreadText(r.sensitivity),
      "specificity, median (5-95%)": spreadText(r.specificity),
      draws: r.draws,
    }))
  );
  return rowsToHtml(rows, {
    caption: "Each draw: a patient-stratified sample picks the threshold, the site's other " +
      "images judge it (for 'all': a patient bootstrap, judged out of bag); 200 draws per row",
  });
}

const spreadText = (x: { median: number; lo: number; hi: number }) =>
  `${formatMetric(x.median)} (${formatMetric(x.lo)} to ${formatMetric(x.hi)})`;

/**
 * The recipe table measured by bench/site_recipes.ts: outputs/recipes/table.json when this
 * machine ran it, else the copy kept with the reference model; null when neither exists.
 */
export async function recipeTable(): Promise<{ table: RecipeTable; path: string } | null> {
  for (const rel of ["outputs/recipes/table.json", "outputs/reference/recipes.json"]) {
    const path = projectPath(rel);
    const table = await readJson<RecipeTable>(path).catch(() => null);
    if (table?.rows?.length) return { table, path: rel };
  }
  return null;
}

/** The recipe table as HTML (or why there is none). */
export function recipeTableHtml(r: { table: RecipeTable; path: string } | null): string {
  if (!r) {
    return rowsToHtml([{
      note: "No recipe table: run bench/site_recipes.ts (see README) to make one",
    }]);
  }
  return rowsToHtml(recipeTableRows(r.table.rows), {
    wrap: [
      "what",
      "test-part sens / spec",
      "site AUC (95% CI)",
      "site sens (95% CI)",
      "site spec (95% CI)",
    ],
    caption: `${r.path}, made ${r.table.created.slice(0, 10)} by bench/site_recipes.ts on ` +
      `${r.table.data} and the site sample ${r.table.site}; strict threshold (chosen on ` +
      "validation); site intervals from 1000 patient resamples",
  });
}

const met = (ok: boolean) => (ok ? "met" : "**not met**");

/**
 * Records the chapter's numbers in `results/second_site.json` for the conclusions (chapter 17):
 * site metrics with intervals at the stored threshold, the training-distribution side, the
 * threshold calibrated on the site's labels, when given, the shipped reference model's strict
 * and calibrated results, and the pre-registered selection that kept or replaced that model
 * (outputs/reference/selection.json). Returns what it wrote.
 */
export async function saveSecondSite(
  s: ReportSettings,
  c: SiteChapter,
  calibrated: SiteEvaluation,
  shipped?: { strict: SiteEvaluation; calibrated: SiteEvaluation } | null,
): Promise<SecondSiteResult> {
  const four = (e: SiteEvaluation) => ({
    auc: e.auc,
    sensitivity: e.sensitivity,
    specificity: e.specificity,
    threshold: e.threshold,
  });
  const st = c.intervals.site.metrics, h = c.intervals.home.metrics;
  const sel = (await readSelection())?.selection;
  const selection = sel && {
    candidates: sel.nComparisons,
    runningTotal: sel.runningTotal,
    chosen: sel.chosen.name,
    replacedIncumbent: sel.chosen.replacesIncumbent,
    adjustedAuc: sel.selectionAdjusted.meanAuc,
    incumbentAdjustedAuc: sel.selectionAdjusted.incumbentMeanAuc,
  };
  const result: SecondSiteResult = {
    n: c.site.y.length,
    run: c.ctx.record.name,
    threshold: c.ctx.run.threshold,
    auc: st.auc,
    sensitivity: st.sensitivity,
    specificity: st.specificity,
    reference: { auc: h.auc, sensitivity: h.sensitivity, specificity: h.specificity },
    calibrated: {
      sensitivity: calibrated.sensitivity,
      specificity: calibrated.specificity,
      threshold: calibrated.threshold,
      labelled: c.site.y.length,
    },
    ...(selection ? { selection } : {}),
    ...(shipped
      ? {
        shipped: {
          run: "outputs/reference",
          strict: four(shipped.strict),
          calibrated: four(shipped.calibrated),
        },
      }
      : {}),
  };
  await writeJsonAtomic(resultPath(s, "second_site"), result);
  return result;
}

const triple = (e: SiteEvaluation) =>
  `ROC-AUC ${formatMetric(e.auc)}, sensitivity ${formatMetric(e.sensitivity)}, specificity ` +
  `${formatMetric(e.specificity)}`;

/**
 * The chapter's conclusions, from its numbers and the targets; `reference`: the shipped
 * reference model's strict and calibrated results (and how to name it), when it was evaluated too.
 */
export function siteSummary(
  c: SiteChapter,
  strict: SiteEvaluation,
  calibrated: SiteEvaluation,
  reference?: { strict: SiteEvaluation; calibrated: SiteEvaluation; name?: string } | null,
): string {
  const h = c.intervals.home.metrics, st = c.intervals.site.metrics;
  const T = SITE_TARGETS;
  const strictOk = meetsTargets(strict, "strict"), calOk = meetsTargets(calibrated, "calibrated");
  const ref = reference
    ? [
      `The ${reference.name ?? "shipped reference (outputs/reference)"}: strict ${
        met(meetsTargets(reference.strict, "strict"))
      } (${triple(reference.strict)}); calibrated ${
        met(meetsTargets(reference.calibrated, "calibrated"))
      } (${triple(reference.calibrated)}). A few hundred images leave wide intervals (above): ` +
      "a met target by the point estimates can still miss on new images.",
    ]
    : [];
  return [
    `On the ${c.homeName} the model has ROC-AUC ${formatInterval(h.auc)} and specificity ` +
    `${formatInterval(h.specificity)} at its stored threshold; at the second site ROC-AUC ` +
    `${formatInterval(st.auc)}, sensitivity ${formatInterval(st.sensitivity)} and specificity ` +
    `${formatInterval(st.specificity)}. Pneumonia makes up ` +
    `${(100 * c.home.prevalence).toFixed(0)}% of the first and ` +
    `${(100 * c.site.prevalence).toFixed(0)}% of the second.`,
    `Strict protocol (no site labels; target ROC-AUC >= ${T.strict.auc}, sensitivity >= ` +
    `${T.strict.sensitivity} with specificity >= ${T.strict.specificity}): ${met(strictOk)} ` +
    `(${formatMetric(strict.auc)}, ${formatMetric(strict.sensitivity)}, ` +
    `${formatMetric(strict.specificity)}). Calibrated on the site's labels (target ROC-AUC >= ` +
    `${T.calibrated.auc}, sensitivity >= ${T.calibrated.sensitivity}, specificity >= ` +
    `${T.calibrated.specificity}; judged on the same images, so optimistic): ${met(calOk)} ` +
    `(${formatMetric(calibrated.auc)}, ${formatMetric(calibrated.sensitivity)}, ` +
    `${formatMetric(calibrated.specificity)}). These are the report's own \`compact\` run.`,
    ...ref,
  ].join("\n\n");
}
