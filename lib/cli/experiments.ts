/**
 * `deno task experiments [--root outputs] [--csv FILE] [--json]`: lists every report and run made
 * so far under `outputs/` with its settings and key metrics in one polars table
 * (lib/report/experiments.ts), prints it and writes it as CSV (default
 * `outputs/experiments.csv`).
 * @module
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import pl from "nodejs-polars";
import { experimentsTable } from "../report/experiments.ts";
import { writeFileAtomic } from "../util/atomic.ts";
import { PROJECT_ROOT } from "../util/project.ts";

const USAGE = "usage: deno task experiments [--root DIR] [--csv FILE] [--json]";

/** Runs the command with `args` (without the program name); returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { values: v } = parseArgs({
    args,
    options: {
      root: { type: "string", default: join(PROJECT_ROOT, "outputs") },
      csv: { type: "string" },
      json: { type: "boolean" },
      help: { type: "boolean" },
    },
  });
  if (v.help) {
    console.log(USAGE);
    return 0;
  }
  const df = await experimentsTable(v.root!);
  const csv = v.csv ?? join(v.root!, "experiments.csv");
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

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (err) {
    console.error(`experiments: ${(err as Error).message}`);
    Deno.exit(1);
  }
}
