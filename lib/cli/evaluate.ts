/**
 * `deno task evaluate [--run DIR[,DIR...]] --data DIR [--labels FILE [--format rsna|nih|chexpert|csv]]
 * [--split test|val|all] [--adapt none|bn|prior|bn+prior]
 * [--tta N] [--calibrate SITE_DIR] [--ci] [--json]`: scores a run (default: the committed
 * reference model, outputs/reference) on a split, at the run's stored threshold (chosen on
 * validation: the strict protocol). With --json, one object on stdout:
 * `{"auc","accuracy","sensitivity","specificity","precision","f1","threshold","confusion":[[tn,fp],[fn,tp]],"n"}`.
 * `--labels FILE` reads the images under DIR through a label table (lib/data/dataset.ts: RSNA with
 * its DICOM tree, NIH, CheXpert, or path,label,patient); `--split all` scores every labelled
 * frontal image, `--split test` the manifest's patient-level test split.
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
import { projectPath } from "../util/project.ts";
import { type BackendChoice, initBackend } from "../backend/select.ts";
import { binaryMetrics, rocAuc } from "../metrics/classification.ts";
import { disposeRun, loadRun } from "../train/run.ts";
import { predictRecords } from "../train/score.ts";
import { type EvalSplit, splitRecords } from "./_eval_data.ts";
import { DATA_FLAGS, dataSource } from "./_data_flags.ts";
import { type DataSource, describeSource } from "../data/dataset.ts";
import type { AdaptMode } from "../eval/adapt.ts";
import { formatCalibrationCurve, siteCalibrationCurve } from "../eval/calibration_curve.ts";
import { evaluateSite, type Evaluation, type SiteEvaluation } from "../eval/site_eval.ts";
import { formatInterval } from "../metrics/bootstrap.ts";
import { formatMetric, formatPercent } from "../metrics/format.ts";
import {
  type CliSpec,
  helpText,
  parseCli,
  refuseFlagsOutside,
  runCli,
  UsageError,
  type Values,
} from "./_args.ts";

/** The committed reference run, in the project root (works from any working directory). */
export const DEFAULT_RUN = projectPath("outputs/reference");

export type { Evaluation };

/** The evaluate command's flags. */
export const EVALUATE_CLI = {
  name: "evaluate",
  synopsis: [
    "[--run DIR] --data DIR [--split test|val|all] [--json] [--perturb SEED]",
    "[--run DIR] --data DIR --labels FILE [--format rsna|nih|chexpert|csv] " +
    "[--split test|all] [--json]",
    "[--run DIR[,DIR...]] --data DIR [--adapt none|bn|prior|bn+prior] [--tta N] " +
    "[--calibrate SITE_DIR] [--ci] [--n-boot N] [--val-data DIR] [--json]",
    "[--run DIR] --calibrate SITE_DIR [--sample-size N] [--seed S] [--json] [--save]",
    "[--run DIR[,DIR...]] --calibrate SITE_DIR --curve 25,50,100,all [--draws N] " +
    "[--pick-target X] [--adapt MODE] [--tta N] [--seed S] [--json]",
  ],
  about: "Scores a run (default: the committed reference model) on a split at its stored " +
    "threshold, or re-picks the threshold on a labelled sample of a new site (--calibrate).",
  flags: {
    run: {
      type: "string",
      arg: "DIR[,DIR...]",
      help: "run folder (default outputs/reference); several, comma-separated: an ensemble " +
        "(an ensemble folder from deno task ensemble counts as one run)",
    },
    data: { type: "string", arg: "DIR", help: "dataset root, or the images of --labels" },
    ...DATA_FLAGS,
    split: {
      type: "string",
      choices: ["train", "val", "test", "all"],
      default: "test",
      help: "split scored (all: every labelled frontal image)",
    },
    json: { type: "boolean", help: "print one JSON object" },
    perturb: {
      type: "number",
      arg: "SEED",
      integer: true,
      help: "stress test: every image augmented with this seed first",
    },
    calibrate: {
      type: "string",
      arg: "SITE_DIR",
      help: "labelled site folder: with --data, the threshold comes from its labels; without, " +
        "calibration on a sample of it, reported on the rest",
    },
    adapt: {
      type: "string",
      choices: ["none", "bn", "prior", "bn+prior"],
      help: "adaptation to --data's images without their labels: AdaBN (bn), EM prior " +
        "correction (prior), or both",
    },
    tta: {
      type: "number",
      arg: "N",
      integer: true,
      min: 0,
      help: "test-time augmentation: each image averaged with N seeded augmented copies",
    },
    ci: { type: "boolean", help: "patient-bootstrap 95% intervals in the output" },
    "n-boot": { type: "number", arg: "N", integer: true, min: 1, help: "bootstrap resamples" },
    "val-data": {
      type: "string",
      arg: "DIR",
      help: "where the runs' validation images are, when their config's data folder moved",
    },
    curve: {
      type: "string",
      arg: "25,50,100,all",
      help: "with --calibrate alone: the few-label calibration curve at these sample sizes",
    },
    draws: { type: "number", arg: "N", integer: true, min: 1, help: "draws per curve size" },
    "pick-target": {
      type: "number",
      arg: "X",
      help: "curve: sensitivity the threshold keeps on the sample (default the run's target)",
    },
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

const COMMON = ["run", "json", "backend"];
/** The dataset flags (--labels, --format and the label policy) of every form that reads --data. */
const DATA_FLAG_NAMES = Object.keys(DATA_FLAGS) as (keyof typeof DATA_FLAGS)[];

/**
 * The forms of the command and the flags each one uses: a flag given to a form that would ignore
 * it is a usage error that names it (e.g. `--adapt` with `--calibrate` and no `--data`).
 */
export const EVALUATE_FORMS = {
  curve: {
    form: "the few-label calibration curve (--calibrate with --curve, without --data)",
    flags: [
      ...COMMON,
      "calibrate",
      "curve",
      "draws",
      "pick-target",
      "adapt",
      "tta",
      "seed",
      "val-data",
    ],
  },
  sample: {
    form: "site calibration on a sample (--calibrate without --data or --curve)",
    flags: [...COMMON, "calibrate", "sample-size", "seed", "save"],
  },
  site: {
    form: "scoring with --adapt, --tta, --calibrate, --ci or several runs",
    flags: [
      ...COMMON,
      "data",
      ...DATA_FLAG_NAMES,
      "split",
      "adapt",
      "tta",
      "calibrate",
      "ci",
      "n-boot",
      "seed",
      "val-data",
    ],
  },
  plain: {
    form: "scoring one run at its stored threshold (--data alone)",
    flags: [...COMMON, "data", ...DATA_FLAG_NAMES, "split", "perturb"],
  },
} as const;

/** Options of {@link evaluateRun}. */
export interface EvaluateRunOptions {
  /** Stress test: every image augmented with this seed first. */
  perturbSeed?: number;
  /** Image cache folder (default outputs/cache/images). */
  cacheDir?: string;
  /** Called as each chunk of images is read, and at the end: images scored so far, the total. */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Scores `runDir` on `split` of `data`; messages about the data go to `note` (stderr). Images
 * are read and scored a chunk at a time (`predictRecords`), so memory does not grow with the
 * split.
 */
export async function evaluateRun(
  runDir: string,
  data: DataSource | string,
  split: EvalSplit,
  note: (msg: string) => void = (m) => console.error(m),
  opts: EvaluateRunOptions = {},
): Promise<Evaluation> {
  const run = await loadRun(runDir);
  const { records, source, fromManifest } = await splitRecords(data, split);
  if (fromManifest) {
    note(`evaluate: ${describeSource(data)} has no ${split}/ folder; using ${source}`);
  }
  const { prob, failures } = await predictRecords(run, records, {
    perturbSeed: opts.perturbSeed,
    cacheDir: opts.cacheDir,
    onChunk: (start) => opts.onProgress?.(start, records.length),
  });
  opts.onProgress?.(records.length, records.length);
  for (const f of failures) note(`evaluate: skipped ${f.path}: ${f.reason}`);
  const y: number[] = [], p: number[] = [];
  records.forEach((r, i) => Number.isFinite(prob[i]) && (y.push(r.y), p.push(prob[i])));
  const m = binaryMetrics(y, p, run.threshold);
  disposeRun(run);
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

/**
 * Which form of the command `args` ask for, after refusing (with a {@link UsageError} that names
 * it) every flag that form would ignore, and the forms' other constraints.
 */
export function evaluateForm(
  v: Pick<Values<typeof EVALUATE_CLI>, "calibrate" | "data" | "curve" | "adapt" | "tta" | "ci">,
  given: ReadonlySet<string>,
  runs: readonly string[],
): keyof typeof EVALUATE_FORMS {
  const form: keyof typeof EVALUATE_FORMS = v.calibrate && !v.data
    ? (v.curve ? "curve" : "sample")
    : runs.length > 1 || v.adapt !== undefined || v.tta !== undefined ||
        v.calibrate !== undefined || v.ci === true
    ? "site"
    : "plain";
  if (!v.data && !v.calibrate) throw new UsageError("--data DIR is required");
  refuseFlagsOutside(given, EVALUATE_FORMS[form].flags, EVALUATE_FORMS[form].form);
  if (form === "sample" && runs.length > 1) {
    throw new UsageError(
      "--calibrate without --data takes one run (an ensemble folder from deno task ensemble " +
        "counts as one)",
    );
  }
  if (form === "site") {
    for (const f of ["n-boot", "seed"]) {
      if (given.has(f) && !v.ci) throw new UsageError(`--${f} goes with --ci (the bootstrap)`);
    }
  }
  return form;
}

/** Runs the evaluate command with `args`. */
export async function main(args: string[]): Promise<void> {
  const { values: v, help, given } = parseCli(EVALUATE_CLI, args);
  if (help) return console.log(helpText(EVALUATE_CLI));
  const runs = (v.run ?? DEFAULT_RUN).split(",").map((r) => r.trim()).filter(Boolean);
  const form = evaluateForm(v, given, runs);
  await initBackend({ prefer: v.backend as BackendChoice | undefined });
  if (form === "curve") {
    const rows = await siteCalibrationCurve(v.calibrate!, {
      runs,
      adapt: (v.adapt ?? "none") as AdaptMode,
      tta: v.tta ?? 0,
      sizes: v.curve!.split(",").map((x) => (x === "all" ? "all" : Number(x))),
      draws: v.draws,
      pickTarget: v["pick-target"],
      seed: v.seed,
      valData: v["val-data"],
    });
    return console.log(v.json ? JSON.stringify(rows) : formatCalibrationCurve(rows));
  }
  if (form === "sample") {
    // Site calibration: re-pick the threshold on a labelled sample of a new site.
    const { calibrateSiteFolder } = await import("../eval/site_folder.ts");
    const { formatSiteCalibration } = await import("../eval/site_calibration.ts");
    const res = await calibrateSiteFolder(runs[0], v.calibrate!, {
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
  const data = v.data!;
  const split: EvalSplit = v.split;
  const src = dataSource(data, v);
  if (form === "site") {
    const { records, source, fromManifest } = await splitRecords(src, split);
    if (fromManifest) {
      console.error(`evaluate: ${describeSource(src)} has no ${split}/ folder; using ${source}`);
    }
    const e = await evaluateSite({
      runs,
      records,
      source,
      adapt: (v.adapt ?? "none") as AdaptMode,
      tta: v.tta,
      calibrate: v.calibrate ?? null,
      valData: v["val-data"],
      ci: v.ci,
      nBoot: v["n-boot"],
      seed: v.seed,
      details: true,
    });
    return console.log(
      v.json ? JSON.stringify(e) : formatEvaluation(e, runs.join(","), split, data),
    );
  }
  const runDir = runs[0];
  const perturb = v.perturb;
  if (perturb !== undefined) {
    console.error(`evaluate: stress test, every image augmented (seed ${perturb})`);
  }
  const e = await evaluateRun(runDir, src, split, undefined, { perturbSeed: perturb });
  if (v.json) return console.log(JSON.stringify(e));
  console.log(formatEvaluation(e, runDir, split, data));
}

/** The human-readable form of an evaluation (intervals and how it was made, when present). */
export function formatEvaluation(
  e: SiteEvaluation,
  run: string,
  split: string,
  data: string,
): string {
  const pct = (x: number) => formatPercent(x, 1);
  const ci = (k: keyof NonNullable<SiteEvaluation["intervals"]>) =>
    e.intervals ? `  95% CI ${formatInterval(e.intervals[k])}` : "";
  const lines = [
    `run ${run} on ${split} of ${data}: n = ${e.n}, threshold ${e.threshold.toFixed(4)}`,
    `  ROC-AUC     ${formatMetric(e.auc, 4)}${ci("auc")}`,
    `  accuracy    ${pct(e.accuracy)}`,
    `  sensitivity ${pct(e.sensitivity)}${ci("sensitivity")}`,
    `  specificity ${pct(e.specificity)}${ci("specificity")}`,
    `  precision   ${pct(e.precision)}   F1 ${formatMetric(e.f1, 4)}`,
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

if (import.meta.main) await runCli("evaluate", () => main(Deno.args), EVALUATE_CLI);
