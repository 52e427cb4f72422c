/**
 * `deno task predict [--run DIR] FILE... [--json]`: P(pneumonia) and the label at the run's
 * stored threshold for each image (default run: the committed reference model).
 * @module
 */
import { resolve } from "node:path";
import { type BackendChoice, initBackend } from "../backend/select.ts";
import { loadRun } from "../train/run.ts";
import { predictRecords } from "../train/score.ts";
import { DEFAULT_RUN } from "./evaluate.ts";
import { type CliSpec, helpText, parseCli, runCli, UsageError } from "./_args.ts";

/** The predict command's flags. */
export const PREDICT_CLI = {
  name: "predict",
  synopsis: ["[--run DIR] FILE... [--json]"],
  about: "P(pneumonia) and the label at the run's stored threshold for each image.",
  positionals: "FILE...",
  flags: {
    run: { type: "string", arg: "DIR", help: "run folder (default outputs/reference)" },
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
  error?: string;
}

/** Predicts every file with the run in `runDir`. */
export async function predictFiles(runDir: string, files: string[]): Promise<FilePrediction[]> {
  const run = await loadRun(runDir);
  const { prob, failures } = await predictRecords(run, files.map((f) => resolve(f)));
  const why = new Map(failures.map((f) => [f.path, f.reason]));
  run.model.dispose();
  return files.map((file, i) => {
    const p = prob[i];
    if (!Number.isFinite(p)) {
      return { file, prob: null, label: null, error: why.get(resolve(file)) ?? "not readable" };
    }
    return { file, prob: p, label: p >= run.threshold ? "PNEUMONIA" : "NORMAL" };
  });
}

/** Runs the predict command with `args`. */
export async function main(args: string[]): Promise<void> {
  const { values: v, positionals, help } = parseCli(PREDICT_CLI, args);
  if (help) return console.log(helpText(PREDICT_CLI));
  if (positionals.length === 0) throw new UsageError("no image files given");
  await initBackend({ prefer: v.backend as BackendChoice | undefined });
  const rows = await predictFiles(v.run ?? DEFAULT_RUN, positionals);
  if (v.json) return console.log(JSON.stringify(rows));
  const w = Math.max(4, ...rows.map((r) => r.file.length));
  console.log(`${"file".padEnd(w)}  prob    label`);
  for (const r of rows) {
    console.log(
      r.prob === null
        ? `${r.file.padEnd(w)}  -       error: ${r.error}`
        : `${r.file.padEnd(w)}  ${r.prob.toFixed(4)}  ${r.label}`,
    );
  }
  if (rows.some((r) => r.prob === null)) Deno.exitCode = 1;
}

if (import.meta.main) await runCli("predict", () => main(Deno.args), PREDICT_CLI);
