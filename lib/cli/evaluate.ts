/**
 * `deno task evaluate [--run DIR[,DIR...]] --data DIR [--split test|val] [--adapt none|bn|prior|bn+prior]
 * [--tta N] [--calibrate SITE_DIR] [--ci] [--json]`: scores a run (default: the committed
 * reference model, outputs/reference) on a split, at the run's stored threshold (chosen on
 * validation: the strict protocol). With --json, one object on stdout:
 * `{"auc","accuracy","sensitivity","specificity","precision","f1","threshold","confusion":[[tn,fp],[fn,tp]],"n"}`.
 *
 * Options for a new site (lib/eval/site_eval.ts): several runs are an ensemble; `--tta N`
 * averages each image with N augmented copies; `--adapt` adapts to DIR's images without their
 * labels (AdaBN, EM prior correction); `--calibrate SITE_DIR` with `--data` takes the threshold
 * from SITE_DIR's labels (never DIR's); `--ci` adds patient-bootstrap 95% intervals. With any of
 * them the JSON object also says how it was made (`runs`, `adapt`, `tta`, `thresholdFrom`, ...).
 * `--calibrate SITE_DIR` without `--data`: site calibration on a labelled sample of SITE_DIR,
 * reported on the rest of it (lib/eval/site_folder.ts); with `--curve 25,50,100,all`: how often
 * a threshold picked on that many labelled site images keeps sensitivity >= 0.95 on the others,
 * and the spread of specificity, over `--draws` seeded draws (lib/eval/calibration_curve.ts;
 * `--pick-target 0.98` picks the threshold for that sensitivity on the sample, a margin).
 * @module
 */
import { parseArgs } from "node:util";
import { projectPath } from "../util/project.ts";
import { type BackendChoice, initBackend } from "../backend/select.ts";
import type { SplitName } from "../data/types.ts";
import { binaryMetrics, rocAuc } from "../metrics/classification.ts";
import { loadRun, predictRecords } from "../train/run.ts";
import { splitRecords } from "./_eval_data.ts";
import type { AdaptMode } from "../eval/adapt.ts";
import { evaluateSite, type Evaluation, type SiteEvaluation } from "../eval/site_eval.ts";
import { formatInterval } from "../metrics/bootstrap.ts";
import { formatCalibrationCurve, siteCalibrationCurve } from "../eval/calibration_curve.ts";

/** The committed reference run, in the project root (works from any working directory). */
export const DEFAULT_RUN = projectPath("outputs/reference");

const USAGE =
  "usage: deno task evaluate [--run DIR[,DIR...]] --data DIR [--split test|val] [--json] [--perturb SEED]\n" +
  "         [--adapt none|bn|prior|bn+prior] [--tta N] [--calibrate SITE_DIR] [--ci] [--n-boot N] [--val-data DIR]\n" +
  "       deno task evaluate [--run DIR] --calibrate SITE_DIR [--sample-size N] [--seed S] [--json]\n" +
  "       deno task evaluate [--run DIR[,DIR...]] --calibrate SITE_DIR --curve 25,50,100,all [--draws N]\n" +
  "         [--pick-target X] [--adapt none|bn|prior|bn+prior] [--tta N] [--seed S] [--json]";

export type { Evaluation };

/** Scores `runDir` on `split` of `data`; messages about the data go to `note` (stderr). */
export async function evaluateRun(
  runDir: string,
  data: string,
  split: SplitName,
  note: (msg: string) => void = (m) => console.error(m),
  perturbSeed?: number,
): Promise<Evaluation> {
  const run = await loadRun(runDir);
  const { records, source, fromManifest } = await splitRecords(data, split);
  if (fromManifest) note(`evaluate: ${data} has no ${split}/ folder; using ${source}`);
  const { prob, failures } = await predictRecords(run, records, { perturbSeed });
  for (const f of failures) note(`evaluate: skipped ${f.path}: ${f.reason}`);
  const y: number[] = [], p: number[] = [];
  records.forEach((r, i) => Number.isFinite(prob[i]) && (y.push(r.y), p.push(prob[i])));
  const m = binaryMetrics(y, p, run.threshold);
  run.model.dispose();
  return {
    auc: rocAuc(y, p),
    accuracy: m.accuracy,
    sensitivity: m.sensitivity,
    specificity: m.specificity,
    precision: m.precision,
    f1: m.f1,
    threshold: run.threshold,
    confusion: [[m.tn, m.fp], [m.fn, m.tp]],
    n: m.n,
  };
}

/** Runs the evaluate command with `args`. */
export async function main(args: string[]): Promise<void> {
  const { values: v } = parseArgs({
    args,
    options: {
      run: { type: "string" },
      data: { type: "string" },
      split: { type: "string" },
      json: { type: "boolean" },
      backend: { type: "string" },
      help: { type: "boolean" },
      calibrate: { type: "string" },
      perturb: { type: "string" },
      "sample-size": { type: "string" },
      seed: { type: "string" },
      adapt: { type: "string" },
      tta: { type: "string" },
      ci: { type: "boolean" },
      "n-boot": { type: "string" },
      "val-data": { type: "string" },
      curve: { type: "string" },
      draws: { type: "string" },
      "pick-target": { type: "string" },
    },
  });
  if (v.help) return console.log(USAGE);
  if (v.calibrate && !v.data && v.curve) {
    await initBackend({ prefer: v.backend as BackendChoice | undefined });
    const rows = await siteCalibrationCurve(v.calibrate, {
      runs: (v.run ?? DEFAULT_RUN).split(","),
      adapt: (v.adapt ?? "none") as AdaptMode,
      tta: v.tta === undefined ? 0 : Number(v.tta),
      sizes: v.curve.split(",").map((x) => (x === "all" ? "all" : Number(x))),
      draws: v.draws === undefined ? undefined : Number(v.draws),
      pickTarget: v["pick-target"] === undefined ? undefined : Number(v["pick-target"]),
      seed: v.seed === undefined ? undefined : Number(v.seed),
    });
    return console.log(v.json ? JSON.stringify(rows) : formatCalibrationCurve(rows));
  }
  if (v.calibrate && !v.data) {
    // Site calibration: re-pick the threshold on a labelled sample of SITE_DIR, report on the rest.
    await initBackend({ prefer: v.backend as BackendChoice | undefined });
    const { calibrateSiteFolder } = await import("../eval/site_folder.ts");
    const { formatSiteCalibration } = await import("../eval/site_calibration.ts");
    const res = await calibrateSiteFolder(v.run ?? DEFAULT_RUN, v.calibrate, {
      sampleSize: v["sample-size"] ? Number(v["sample-size"]) : undefined,
      seed: v.seed ? Number(v.seed) : undefined,
    });
    return console.log(v.json ? JSON.stringify(res) : formatSiteCalibration(res));
  }
  if (!v.data) throw new Error(`--data DIR is required\n${USAGE}`);
  const split = (v.split ?? "test") as SplitName;
  if (!["train", "val", "test"].includes(split)) throw new Error(`--split ${split}? ${USAGE}`);
  await initBackend({ prefer: v.backend as BackendChoice | undefined });
  const runs = (v.run ?? DEFAULT_RUN).split(",").map((r) => r.trim()).filter(Boolean);
  const siteOptions = runs.length > 1 || v.adapt !== undefined || v.tta !== undefined ||
    v.calibrate !== undefined || v.ci === true;
  if (siteOptions) {
    if (v.perturb !== undefined) throw new Error(`--perturb goes alone\n${USAGE}`);
    const num = (x: string | undefined, what: string) => {
      const n = Number(x);
      if (x !== undefined && !Number.isFinite(n)) throw new Error(`--${what} expects a number`);
      return x === undefined ? undefined : n;
    };
    const { records, source, fromManifest } = await splitRecords(v.data, split);
    if (fromManifest) console.error(`evaluate: ${v.data} has no ${split}/ folder; using ${source}`);
    const e = await evaluateSite({
      runs,
      records,
      source,
      adapt: (v.adapt ?? "none") as AdaptMode,
      tta: num(v.tta, "tta"),
      calibrate: v.calibrate ?? null,
      valData: v["val-data"],
      ci: v.ci,
      nBoot: num(v["n-boot"], "n-boot"),
      seed: num(v.seed, "seed"),
      details: true,
    });
    return console.log(
      v.json ? JSON.stringify(e) : formatEvaluation(e, runs.join(","), split, v.data),
    );
  }
  const runDir = runs[0];
  const perturb = v.perturb === undefined ? undefined : Number(v.perturb);
  if (perturb !== undefined) {
    console.error(`evaluate: stress test, every image augmented (seed ${perturb})`);
  }
  const e = await evaluateRun(runDir, v.data, split, undefined, perturb);
  if (v.json) return console.log(JSON.stringify(e));
  console.log(formatEvaluation(e, runDir, split, v.data));
}

/** The human-readable form of an evaluation (intervals and how it was made, when present). */
export function formatEvaluation(
  e: SiteEvaluation,
  run: string,
  split: string,
  data: string,
): string {
  const pct = (x: number) => (100 * x).toFixed(1) + "%";
  const ci = (k: keyof NonNullable<SiteEvaluation["intervals"]>) =>
    e.intervals ? `  95% CI ${formatInterval(e.intervals[k])}` : "";
  const lines = [
    `run ${run} on ${split} of ${data}: n = ${e.n}, threshold ${e.threshold.toFixed(4)}`,
    `  ROC-AUC     ${e.auc.toFixed(4)}${ci("auc")}`,
    `  accuracy    ${pct(e.accuracy)}`,
    `  sensitivity ${pct(e.sensitivity)}${ci("sensitivity")}`,
    `  specificity ${pct(e.specificity)}${ci("specificity")}`,
    `  precision   ${pct(e.precision)}   F1 ${e.f1.toFixed(4)}`,
    `  confusion   [[tn ${e.confusion[0][0]}, fp ${e.confusion[0][1]}], ` +
    `[fn ${e.confusion[1][0]}, tp ${e.confusion[1][1]}]]`,
  ];
  if (e.thresholdFrom) lines.push(`  threshold   ${e.thresholdFrom}`);
  if (e.adapt && e.adapt !== "none") lines.push(`  adaptation  ${e.adapt}`);
  if (e.prior) {
    lines.push(
      `  prior       EM estimate ${e.prior.site.prior.toFixed(3)} at the site vs ` +
        `${e.prior.validation.prior.toFixed(3)} on validation (base ${e.prior.base.toFixed(3)})`,
    );
  }
  if (e.tta) lines.push(`  TTA         ${e.tta} augmented copies per image`);
  return lines.join("\n");
}

if (import.meta.main) {
  try {
    await main(Deno.args);
  } catch (err) {
    console.error(`evaluate: ${(err as Error).message}`);
    Deno.exit(1);
  }
}
