/**
 * The table that compares training recipes for what generalises: per recipe, validation, the
 * patient-level test part of the training folder (validation-like) and a second site's sample,
 * each at the recipe's strict threshold (chosen on validation), with patient-bootstrap 95%
 * intervals on the site, and the training time. `bench/site_recipes.ts` trains the recipes and
 * writes it; the "second site" chapter shows it.
 *
 * @example
 * ```ts
 * import { recipeRow, recipeTableMarkdown } from "./recipe_table.ts";
 * const row = recipeRow(recipe, siteScoring, testScoring, { trainS: 544, epochs: 6 });
 * console.log(recipeTableMarkdown([row]));
 * ```
 * @module
 */
import { bootstrapMetrics, type Interval } from "../metrics/bootstrap.ts";
import { binaryMetrics, rocAuc } from "../metrics/classification.ts";
import type { SiteScoring } from "./site_eval.ts";

/** Sensitivity, specificity and ROC-AUC of one set of images at a threshold. */
export interface PointMetrics {
  n: number;
  auc: number;
  sensitivity: number;
  specificity: number;
}

/** One row of the recipe table (JSON-serialisable). */
export interface RecipeRow {
  name: string;
  /** What the recipe changes, in words. */
  what: string;
  /** Run folders scored (several: an ensemble). */
  runs: string[];
  tta: number;
  threshold: number;
  thresholdFrom: string;
  validation: PointMetrics | null;
  /** The training folder's patient-level test part (validation-like). */
  test: PointMetrics | null;
  /** The second site's sample, with intervals. */
  site: { n: number; auc: Interval; sensitivity: Interval; specificity: Interval };
  /** Training time of every run the row needs, in seconds, summed. */
  trainS: number;
  /** Epochs run, summed over the row's runs. */
  epochs: number;
  /** Training images per epoch (of the first run). */
  trainImages: number;
}

/**
 * A recipe the table lists without figures: its run is unfinished, missing, or was trained with
 * another config. It stays in the table so that what was tried and not measured is visible.
 */
export interface UnmeasuredRow {
  name: string;
  what: string;
  runs: string[];
  /** Why there are no figures, in words ("unfinished run f-long (4 of 8 epochs)"). */
  notMeasured: string;
  /** Training time spent so far, in seconds, summed over the row's runs (0: none). */
  trainS: number;
  /** Epochs run so far, summed over the row's runs. */
  epochs: number;
}

/** A row of the table: measured, or listed as not measured. */
export type RecipeTableRow = RecipeRow | UnmeasuredRow;

/** Whether a row has figures. */
export function isMeasured(r: RecipeTableRow): r is RecipeRow {
  return !("notMeasured" in r);
}

/** The table file (`outputs/recipes/table.json`). */
export interface RecipeTable {
  /** Schema name. */
  schema: "xray-recipes/1";
  created: string;
  data: string;
  site: string;
  rows: RecipeTableRow[];
}

/**
 * The rows of a run over some recipes (`--only`) merged into the previous table's: a fresh row
 * replaces the previous one of its name, previous rows of other recipes are kept, and the result
 * follows `order` (recipe names; names not in it go last, in their own order).
 */
export function mergeRows(
  previous: RecipeTableRow[],
  fresh: RecipeTableRow[],
  order: string[],
): RecipeTableRow[] {
  const byName = new Map(previous.map((r) => [r.name, r]));
  for (const r of fresh) byName.set(r.name, r);
  const rank = (n: string) => (order.includes(n) ? order.indexOf(n) : order.length);
  return [...byName.values()]
    .map((r, i) => ({ r, i }))
    .sort((a, b) => rank(a.r.name) - rank(b.r.name) || a.i - b.i)
    .map((x) => x.r);
}

function point(y: number[], p: number[], threshold: number): PointMetrics {
  const m = binaryMetrics(y, p, threshold);
  let auc = NaN;
  try {
    auc = rocAuc(y, p);
  } catch { /* one class: undefined */ }
  return { n: y.length, auc, sensitivity: m.sensitivity, specificity: m.specificity };
}

/**
 * A table row from the site's scoring (`withValidation`, so the validation scores come back) and
 * the test part's scoring with the same runs and options. `nBoot` resamples (default 1000).
 */
export function recipeRow(
  recipe: { name: string; what: string },
  site: SiteScoring,
  test: SiteScoring | null,
  cost: { trainS: number; epochs: number; trainImages: number },
  nBoot = 1000,
): RecipeRow {
  const ci = bootstrapMetrics(site.scored.y, site.scored.prob, {
    groups: site.scored.patient,
    threshold: site.threshold,
    nBoot,
    seed: 0,
  }).metrics;
  return {
    name: recipe.name,
    what: recipe.what,
    runs: site.runs,
    tta: site.tta,
    threshold: site.threshold,
    thresholdFrom: site.thresholdFrom,
    validation: site.validation
      ? point(site.validation.y, site.validation.prob, site.threshold)
      : null,
    test: test ? point(test.scored.y, test.scored.prob, site.threshold) : null,
    site: {
      n: site.scored.y.length,
      auc: ci.auc,
      sensitivity: ci.sensitivity,
      specificity: ci.specificity,
    },
    ...cost,
  };
}

const f3 = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : "-");
// A non-breaking hyphen (U+2011): a narrow table column wraps after the estimate, never inside
// the interval.
const iv = (i: Interval) => `${f3(i.estimate)} (${f3(i.lo)}\u2011${f3(i.hi)})`;

/** The table's rows as plain objects for a table display (one column per figure). */
export function recipeTableRows(rows: RecipeTableRow[]): Record<string, string | number>[] {
  return rows.map((r) => isMeasured(r) ? measuredRow(r) : unmeasuredRow(r));
}

function unmeasuredRow(r: UnmeasuredRow): Record<string, string | number> {
  return {
    recipe: r.name,
    what: r.what,
    "val AUC": "-",
    "test-part AUC": "-",
    "test-part sens / spec": "-",
    "site AUC (95% CI)": `not measured: ${r.notMeasured}`,
    "site sens (95% CI)": "-",
    "site spec (95% CI)": "-",
    threshold: "-",
    "train time (s)": r.trainS > 0 ? Math.round(r.trainS) : "-",
    epochs: r.epochs,
  };
}

function measuredRow(r: RecipeRow): Record<string, string | number> {
  return {
    recipe: r.name,
    what: r.what,
    "val AUC": f3(r.validation?.auc ?? NaN),
    "test-part AUC": f3(r.test?.auc ?? NaN),
    "test-part sens / spec": r.test ? `${f3(r.test.sensitivity)} / ${f3(r.test.specificity)}` : "-",
    "site AUC (95% CI)": iv(r.site.auc),
    "site sens (95% CI)": iv(r.site.sensitivity),
    "site spec (95% CI)": iv(r.site.specificity),
    threshold: r.threshold.toFixed(4),
    "train time (s)": Math.round(r.trainS),
    epochs: r.epochs,
  };
}

/** The table as Markdown (README, bench output). */
export function recipeTableMarkdown(rows: RecipeTableRow[]): string {
  const objs = recipeTableRows(rows);
  if (objs.length === 0) return "(no recipes)";
  const cols = Object.keys(objs[0]);
  return [
    `| ${cols.join(" | ")} |`,
    `|${cols.map(() => "---").join("|")}|`,
    ...objs.map((o) => `| ${cols.map((c) => String(o[c])).join(" | ")} |`),
  ].join("\n");
}
