/**
 * `deno task evaluate [--run DIR] --data DIR [--split test|val] [--json]`: scores a run (default:
 * the committed reference model, outputs/reference) on a split, at the run's stored threshold.
 * With --json, one object on stdout:
 * `{"auc","accuracy","sensitivity","specificity","precision","f1","threshold","confusion":[[tn,fp],[fn,tp]],"n"}`.
 * With `--calibrate SITE_DIR`: site calibration of the run's threshold (lib/eval/site_folder.ts).
 * @module
 */
import { projectPath } from "../util/project.ts";
import { type BackendChoice, initBackend } from "../backend/select.ts";
import type { SplitName } from "../data/types.ts";
import { binaryMetrics, rocAuc } from "../metrics/classification.ts";
import { loadRun } from "../train/run.ts";
import { predictRecords } from "../train/score.ts";
import { splitRecords } from "./_eval_data.ts";
import { type CliSpec, helpText, parseCli, runCli, UsageError } from "./_args.ts";

/** The committed reference run, in the project root (works from any working directory). */
export const DEFAULT_RUN = projectPath("outputs/reference");

/** The evaluate command's flags. */
export const EVALUATE_CLI = {
  name: "evaluate",
  synopsis: [
    "[--run DIR] --data DIR [--split test|val] [--json] [--perturb SEED]",
    "[--run DIR] --calibrate SITE_DIR [--sample-size N] [--seed S] [--json] [--save]",
  ],
  about: "Scores a run (default: the committed reference model) on a split at its stored " +
    "threshold, or re-picks the threshold on a labelled sample of a new site (--calibrate).",
  flags: {
    run: { type: "string", arg: "DIR", help: "run folder (default outputs/reference)" },
    data: { type: "string", arg: "DIR", help: "dataset root" },
    split: {
      type: "string",
      choices: ["train", "val", "test"],
      default: "test",
      help: "split scored",
    },
    json: { type: "boolean", help: "print one JSON object" },
    perturb: {
      type: "number",
      arg: "SEED",
      integer: true,
      help: "stress test: every image augmented with this seed first",
    },
    calibrate: { type: "string", arg: "SITE_DIR", help: "site folder to calibrate on" },
    "sample-size": {
      type: "number",
      arg: "N",
      integer: true,
      min: 1,
      help: "labelled images sampled from the site",
    },
    seed: { type: "number", arg: "S", integer: true, help: "seed of the site sample" },
    save: {
      type: "boolean",
      help: "with --calibrate: keep the site threshold in the run's calibration.json " +
        "(predict and serve then use it)",
    },
    backend: { type: "string", arg: "NAME", help: "TF.js backend (wasm, cpu, ...)" },
  },
} as const satisfies CliSpec;

/** The evaluation result (the --json object). */
export interface Evaluation {
  auc: number;
  accuracy: number;
  sensitivity: number;
  specificity: number;
  precision: number;
  f1: number;
  threshold: number;
  confusion: [[number, number], [number, number]];
  n: number;
}

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
  const { values: v, help } = parseCli(EVALUATE_CLI, args);
  if (help) return console.log(helpText(EVALUATE_CLI));
  if (v.calibrate) {
    // Site calibration: re-pick the threshold on a labelled sample of a new site.
    await initBackend({ prefer: v.backend as BackendChoice | undefined });
    const { calibrateSiteFolder } = await import("../eval/site_folder.ts");
    const { formatSiteCalibration } = await import("../eval/site_calibration.ts");
    const res = await calibrateSiteFolder(v.run ?? DEFAULT_RUN, v.calibrate, {
      sampleSize: v["sample-size"],
      seed: v.seed,
    });
    if (v.save) {
      const { saveSiteThreshold } = await import("../eval/decision_io.ts");
      console.error(
        `evaluate: site threshold saved in ${await saveSiteThreshold(res.runDir, res)}`,
      );
    }
    return console.log(v.json ? JSON.stringify(res) : formatSiteCalibration(res));
  }
  if (!v.data) throw new UsageError("--data DIR is required");
  const split: SplitName = v.split;
  await initBackend({ prefer: v.backend as BackendChoice | undefined });
  const runDir = v.run ?? DEFAULT_RUN;
  const perturb = v.perturb;
  if (perturb !== undefined) {
    console.error(`evaluate: stress test, every image augmented (seed ${perturb})`);
  }
  const e = await evaluateRun(runDir, v.data, split, undefined, perturb);
  if (v.json) return console.log(JSON.stringify(e));
  const pct = (x: number) => (100 * x).toFixed(1) + "%";
  console.log(
    `run ${runDir} on ${split} of ${v.data}: n = ${e.n}, threshold ${e.threshold.toFixed(4)}`,
  );
  console.log(`  ROC-AUC     ${e.auc.toFixed(4)}`);
  console.log(`  accuracy    ${pct(e.accuracy)}`);
  console.log(`  sensitivity ${pct(e.sensitivity)}   specificity ${pct(e.specificity)}`);
  console.log(`  precision   ${pct(e.precision)}   F1 ${e.f1.toFixed(4)}`);
  console.log(
    `  confusion   [[tn ${e.confusion[0][0]}, fp ${e.confusion[0][1]}], ` +
      `[fn ${e.confusion[1][0]}, tp ${e.confusion[1][1]}]]`,
  );
}

if (import.meta.main) await runCli("evaluate", () => main(Deno.args), EVALUATE_CLI);
