/**
 * `deno task predict [--run DIR] FILE... [--json]`: P(pneumonia) and the label at the run's
 * decision threshold for each image (JPEG, PNG or DICOM; default run: the committed reference
 * model), with out-of-scope warnings (`lib/images/scope.ts`): a flagged image is scored, and the
 * warnings are printed with its score.
 * @module
 */
import { resolve } from "node:path";
import { type BackendChoice, initBackend } from "../backend/select.ts";
import { disposeRun, loadRun } from "../train/run.ts";
import { predictRecords } from "../train/score.ts";
import { readDecision } from "../eval/decision_io.ts";
import { readOod } from "../train/ood.ts";
import type { ScopeWarning } from "../images/scope.ts";
import { screenFiles } from "../eval/screen.ts";
import { DEFAULT_RUN } from "./evaluate.ts";
import { type CliSpec, helpText, parseCli, runCli, UsageError } from "./_args.ts";
import { DATA_FLAGS, dataSource } from "./_data_flags.ts";
import { loadDataset } from "../data/dataset.ts";

/** The predict command's flags. */
export const PREDICT_CLI = {
  name: "predict",
  synopsis: [
    "[--run DIR] FILE... [--json]",
    "[--run DIR] --data DIR [--labels FILE [--format F]] [--json]",
  ],
  about: "P(pneumonia), the label at the run's threshold (or the site threshold kept in its " +
    "calibration.json) and out-of-scope warnings for each image (JPEG, PNG or DICOM).",
  positionals: "FILE...",
  flags: {
    run: { type: "string", arg: "DIR", help: "run folder (default outputs/reference)" },
    data: {
      type: "string",
      arg: "DIR",
      help: "predict every image of a dataset (class folders, or the frontal images of --labels) " +
        "instead of FILE...",
    },
    ...DATA_FLAGS,
    json: { type: "boolean", help: "print one JSON array" },
    backend: { type: "string", arg: "NAME", help: "TF.js backend (wasm, cpu, ...)" },
  },
} as const satisfies CliSpec;

/** One row of the prediction output. */
export interface FilePrediction {
  file: string;
  /** P(pneumonia); null when the image could not be read. */
  prob: number | null;
  label: "NORMAL" | "PNEUMONIA" | null;
  /** The threshold the label used, and whether it is the run's or a site's. */
  threshold: number;
  thresholdSource: "run" | "site";
  /** Out-of-scope warnings; empty when the image looks like what the model was built for. */
  warnings: ScopeWarning[];
  /** Feature distance from the training images (null when the run has no ood.json). */
  distance?: number | null;
  error?: string;
}

/** Predicts every file with the run in `runDir`. */
export async function predictFiles(runDir: string, files: string[]): Promise<FilePrediction[]> {
  const run = await loadRun(runDir);
  const decision = await readDecision(runDir);
  const ood = await readOod(runDir);
  try {
    const { prob, failures } = await predictRecords(run, files.map((f) => resolve(f)));
    const screened = await screenFiles(run, files.map((f) => resolve(f)), ood);
    const why = new Map(failures.map((f) => [f.path, f.reason]));
    const { threshold, source: thresholdSource } = decision;
    return files.map((file, i) => {
      const p = prob[i], s = screened[i];
      if (!Number.isFinite(p)) {
        const error = why.get(resolve(file)) ?? "not readable";
        return { file, prob: null, label: null, threshold, thresholdSource, warnings: [], error };
      }
      return {
        file,
        prob: p,
        label: p >= threshold ? "PNEUMONIA" : "NORMAL",
        threshold,
        thresholdSource,
        warnings: s?.warnings ?? [],
        distance: s?.distance ?? null,
      };
    });
  } finally {
    disposeRun(run);
  }
}

/** Runs the predict command with `args`. */
export async function main(args: string[]): Promise<void> {
  const { values: v, positionals, help } = parseCli(PREDICT_CLI, args);
  if (help) return console.log(helpText(PREDICT_CLI));
  if (v.data && positionals.length) throw new UsageError("give FILE... or --data DIR, not both");
  const files = v.data
    ? (await loadDataset(dataSource(v.data, v))).records.map((r) => r.path)
    : positionals;
  if (files.length === 0) throw new UsageError("no image files given");
  await initBackend({ prefer: v.backend as BackendChoice | undefined });
  const rows = await predictFiles(v.run ?? DEFAULT_RUN, files);
  if (v.json) return console.log(JSON.stringify(rows));
  const w = Math.max(4, ...rows.map((r) => r.file.length));
  if (rows.length) {
    console.log(`threshold ${rows[0].threshold.toFixed(4)} (${rows[0].thresholdSource})`);
  }
  console.log(`${"file".padEnd(w)}  prob    label`);
  for (const r of rows) {
    console.log(
      r.prob === null
        ? `${r.file.padEnd(w)}  -       error: ${r.error}`
        : `${r.file.padEnd(w)}  ${r.prob.toFixed(4)}  ${r.label}` +
          (r.warnings.length ? "  OUT OF SCOPE, check before use:" : ""),
    );
    for (const wn of r.warnings) console.log(`${" ".repeat(w)}    - ${wn.message}`);
  }
  if (rows.some((r) => r.prob === null)) Deno.exitCode = 1;
}

if (import.meta.main) await runCli("predict", () => main(Deno.args), PREDICT_CLI);
