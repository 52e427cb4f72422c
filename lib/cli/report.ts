/**
 * `deno task report [--profile ci|quick|full] [--data DIR | --synthetic] [--seed N] [--out DIR]
 * [--only 01,02] [--base DIR] [--site DIR|none] [--fresh]`: executes every notebook in
 * notebooks/ headless (Jupyter
 * nbconvert with the Deno kernel) and writes the executed notebooks to `outputs/report/` and the
 * self-contained `outputs/report.html`. Exits 1 naming the notebook, cell and error when a
 * notebook fails (what ran before it is kept, and the HTML is marked incomplete).
 *
 * Profiles: `ci` (tiny; meant for a synthetic dataset), `quick` (64 px, few epochs, subsets;
 * within 15 minutes on 2 cores), `full` (the seed's 150 px, up to 40 epochs, patience 8).
 * @module
 */
import { parseArgs } from "node:util";
import { PROFILE_NAMES, type ProfileName } from "../report/settings.ts";
import { runReport } from "../report/report.ts";

const USAGE = "usage: deno task report [--profile ci|quick|full] [--data DIR | --synthetic] " +
  "[--seed N] [--out DIR] [--only 01,02] [--base DIR] [--site DIR|none] [--fresh]";

/** Runs the report command with `args` (without the program name); returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { values: v } = parseArgs({
    args,
    options: {
      profile: { type: "string", default: "quick" },
      data: { type: "string" },
      synthetic: { type: "boolean" },
      seed: { type: "string" },
      out: { type: "string" },
      only: { type: "string" },
      base: { type: "string" },
      site: { type: "string" },
      fresh: { type: "boolean" },
      help: { type: "boolean" },
    },
  });
  if (v.help) {
    console.log(USAGE);
    return 0;
  }
  if (!(PROFILE_NAMES as readonly string[]).includes(v.profile!)) {
    throw new Error(`--profile "${v.profile}" is not one of ${PROFILE_NAMES.join(", ")}\n${USAGE}`);
  }
  const seed = v.seed === undefined ? undefined : Number(v.seed);
  if (seed !== undefined && !Number.isInteger(seed)) {
    throw new Error(`--seed expects an integer\n${USAGE}`);
  }
  if (!v.data && !v.synthetic) {
    throw new Error(`give --data DIR (a chest_xray folder) or --synthetic\n${USAGE}`);
  }
  const r = await runReport({
    profile: v.profile as ProfileName,
    data: v.data,
    synthetic: v.synthetic,
    seed,
    out: v.out,
    only: v.only?.split(",").map((x) => x.trim()).filter(Boolean),
    transferBase: v.base,
    site: v.site,
    fresh: v.fresh,
  });
  if (r.failure) {
    console.error(`report: FAILED: ${r.failure.message}`);
    console.error(`report: partial report (chapters before the failure) in ${r.html}`);
    return 1;
  }
  console.log(`report: ${r.html} (${r.executed.length} notebooks, ${r.totalSeconds.toFixed(0)} s)`);
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (err) {
    console.error(`report: ${(err as Error).message}`);
    Deno.exit(1);
  }
}
