/**
 * `deno task report [--profile ci|quick|full] [--data DIR | --synthetic] [--seed N] [--out DIR]
 * [--only 01,02] [--base DIR] [--site DIR|none] [--fresh] [--set name=value ...]`: executes every
 * notebook in notebooks/ headless (Jupyter nbconvert with the Deno kernel) and writes the executed notebooks to `outputs/report/` and the
 * self-contained `outputs/report.html`. Exits 1 naming the notebook, cell and error when a
 * notebook fails (what ran before it is kept, and the HTML is marked incomplete).
 *
 * `--set name=value` (repeatable; `NN.name=value` for notebook NN only) overrides a value of the
 * notebooks' parameters cells, after the profile's: `--set balance=down --set fraction=0.5
 * --out outputs/exp-down` reruns the whole analysis with those values into its own folder.
 *
 * Profiles: `ci` (tiny; meant for a synthetic dataset), `quick` (64 px, few epochs, subsets;
 * within 15 minutes on 2 cores), `full` (the seed's 150 px, up to 40 epochs, patience 8).
 *
 * A report that was killed (even `kill -9`) or failed continues when the same command is run
 * again: the notebooks it finished are kept, finished runs are reused, a run killed mid-training
 * resumes after its last finished epoch, and `--fresh` does not wipe what the report it continues
 * trained (lib/report/progress.ts, `<out>/progress.json`; delete that file to start over). At
 * the full profile with every notebook, the end writes `outputs/reproduction/` (summary.json, the
 * seed-versus-ours table, the quoted run folders: lib/report/reproduction.ts).
 * @module
 */
import { PROFILE_NAMES } from "../report/settings.ts";
import { runReport } from "../report/report.ts";
import { type CliSpec, helpText, parseCli, runCli, UsageError } from "./_args.ts";

/** The report command's flags. */
export const REPORT_CLI = {
  name: "report",
  synopsis: [
    "[--profile ci|quick|full] [--data DIR | --synthetic] [--seed N] [--out DIR] " +
    "[--only 01,02] [--base DIR] [--site DIR|none] [--fresh] [--set NAME=VALUE ...]",
    "--data DIR --labels FILE [--site DIR --site-labels FILE] [...]",
  ],
  about: "Executes every notebook headless and writes the executed notebooks and one HTML page.",
  flags: {
    profile: { type: "string", choices: PROFILE_NAMES, default: "quick", help: "settings profile" },
    data: { type: "string", arg: "DIR", help: "a chest_xray dataset folder" },
    synthetic: { type: "boolean", help: "a synthetic dataset instead of --data" },
    seed: { type: "number", arg: "N", integer: true, help: "seed of every chapter" },
    out: { type: "string", arg: "DIR", help: "report folder" },
    only: { type: "string", arg: "01,02", help: "run only these notebooks (by number)" },
    base: {
      type: "string",
      arg: "DIR",
      help: "frozen base of the transfer chapter (default on real data: " +
        "outputs/bases/mobilenet_v2_128 when the set-up built it)",
    },
    site: {
      type: "string",
      arg: "DIR|none",
      help: "labelled second-site sample of chapter 16 (default: chest_xray_site beside the data)",
    },
    labels: {
      type: "string",
      arg: "FILE",
      help: "label table of the images under --data (RSNA, NIH, CheXpert or path,label,patient " +
        "csv; format from its header)",
    },
    "site-labels": { type: "string", arg: "FILE", help: "label table of the --site images" },
    fresh: {
      type: "boolean",
      help: "retrain runs instead of reusing finished ones (an unfinished report of the same " +
        "command is continued, not wiped)",
    },
    set: {
      type: "string",
      arg: "NAME=VALUE",
      multiple: true,
      help: "override a value of the notebooks' parameters cells (NN.NAME=VALUE: notebook NN only)",
    },
  },
} as const satisfies CliSpec;

/** Runs the report command with `args` (without the program name); returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { values: v, help } = parseCli(REPORT_CLI, args);
  if (help) {
    console.log(helpText(REPORT_CLI));
    return 0;
  }
  if (!v.data && !v.synthetic) {
    throw new UsageError("give --data DIR (a chest_xray folder) or --synthetic");
  }
  const r = await runReport({
    profile: v.profile,
    data: v.data,
    synthetic: v.synthetic,
    seed: v.seed,
    out: v.out,
    only: v.only?.split(",").map((x) => x.trim()).filter(Boolean),
    transferBase: v.base,
    site: v.site,
    labels: v.labels,
    siteLabels: v["site-labels"],
    fresh: v.fresh,
    sets: v.set,
    command: ["deno task report", ...args.map(shellQuote)].join(" "),
  });
  if (r.failure) {
    console.error(`report: FAILED: ${r.failure.message}`);
    console.error(`report: partial report (chapters before the failure) in ${r.html}`);
    return 1;
  }
  console.log(`report: ${r.html} (${r.executed.length} notebooks, ${r.totalSeconds.toFixed(0)} s)`);
  return 0;
}

/** An argument as a POSIX shell would need it typed. */
function shellQuote(a: string): string {
  return /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

if (import.meta.main) await runCli("report", () => main(Deno.args), REPORT_CLI);
