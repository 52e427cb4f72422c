/**
 * `deno task ensemble --members DIR,DIR[,...] --out DIR [--val-data DIR]`: writes an ensemble run
 * folder (lib/train/ensemble.ts): the finished member runs copied in, scored as the mean of their
 * P(pneumonia), each at its own preprocessing, with a threshold chosen on the mean validation
 * scores by the first member's policy. Every command that takes `--run` takes the folder.
 * @module
 */
import { join } from "node:path";
import { type BackendChoice, initBackend } from "../backend/select.ts";
import { buildEnsemble } from "../train/ensemble.ts";
import { type CliSpec, helpText, parseCli, runCli, UsageError } from "./_args.ts";

/** The ensemble command's flags. */
export const ENSEMBLE_CLI = {
  name: "ensemble",
  synopsis: ["--members DIR,DIR[,...] --out DIR [--val-data DIR] [--json]"],
  about: "Writes an ensemble run folder: finished runs scored together (mean P(pneumonia)), " +
    "with a threshold chosen on their mean validation scores.",
  flags: {
    members: { type: "string", arg: "DIRS", help: "finished run folders, comma-separated (2+)" },
    out: { type: "string", arg: "DIR", help: "the ensemble folder to write (new, or an ensemble)" },
    "val-data": {
      type: "string",
      arg: "DIR",
      help: "where the members' validation images are, when their data folder has moved",
    },
    backend: { type: "string", arg: "NAME", help: "TF.js backend (wasm, cpu, ...)" },
    json: { type: "boolean", help: "print the result as JSON" },
  },
} as const satisfies CliSpec;

/** Runs the ensemble command with `args`. */
export async function main(args: string[]): Promise<void> {
  const { values: v, help } = parseCli(ENSEMBLE_CLI, args);
  if (help) return console.log(helpText(ENSEMBLE_CLI));
  const members = (v.members ?? "").split(",").map((m) => m.trim()).filter(Boolean);
  if (members.length < 2) throw new UsageError("--members needs two or more run folders");
  if (!v.out) throw new UsageError("--out DIR is required");
  await initBackend({ prefer: v.backend as BackendChoice | undefined });
  const r = await buildEnsemble({
    members,
    out: v.out,
    valData: v["val-data"],
    cacheDir: join("outputs", "cache", "images"),
    log: v.json ? () => {} : (l) => console.log(l),
  });
  if (v.json) {
    console.log(JSON.stringify({
      dir: r.dir,
      members: r.members,
      threshold: r.threshold.threshold,
      valAuc: r.summary.val.auc,
    }));
  }
}

if (import.meta.main) await runCli("ensemble", () => main(Deno.args), ENSEMBLE_CLI);
