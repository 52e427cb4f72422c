/**
 * `deno task experiments [--root DIR] [--csv FILE] [--json]`: lists every report and run made so
 * far under `outputs/` with its settings and key metrics in one polars table
 * (lib/report/experiments.ts), prints it and writes it as CSV (default
 * `outputs/experiments.csv`).
 * @module
 */
import { join } from "node:path";
import pl from "nodejs-polars";
import { experimentsTable } from "../report/experiments.ts";
import { writeFileAtomic } from "../util/atomic.ts";
import { PROJECT_ROOT } from "../util/project.ts";
import { type CliSpec, helpText, parseCli, runCli } from "./_args.ts";

/** The experiments command's flags. */
export const EXPERIMENTS_CLI = {
  name: "experiments",
  synopsis: ["[--root DIR] [--csv FILE] [--json]"],
  about: "Every report and run under outputs/ with its settings and key metrics, in one table.",
  flags: {
    root: {
      type: "string",
      arg: "DIR",
      default: join(PROJECT_ROOT, "outputs"),
      shownDefault: "outputs",
      help: "folder searched for reports (settings.json) and runs (summary.json)",
    },
    csv: { type: "string", arg: "FILE", help: "CSV written (default ROOT/experiments.csv)" },
    json: { type: "boolean", help: "print the rows as JSON instead of a table" },
  },
} as const satisfies CliSpec;

/** Runs the command with `args` (without the program name); returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { values: v, help } = parseCli(EXPERIMENTS_CLI, args);
  if (help) {
    console.log(helpText(EXPERIMENTS_CLI));
    return 0;
  }
  const df = await experimentsTable(v.root);
  const csv = v.csv ?? join(v.root, "experiments.csv");
  await writeFileAtomic(csv, df.writeCSV().toString());
  if (v.json) {
    console.log(JSON.stringify(df.toRecords(), null, 2));
  } else {
    pl.Config.setTblCols(-1);
    pl.Config.setTblRows(-1);
    pl.Config.setTblWidthChars(400);
    pl.Config.setTblHideColumnDataTypes(true);
    console.log(df.toString());
  }
  console.error(`experiments: ${df.height} rows written to ${csv}`);
  return 0;
}

if (import.meta.main) await runCli("experiments", () => main(Deno.args), EXPERIMENTS_CLI);
