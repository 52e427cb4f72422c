/**
 * `deno task audit [--data DIR] [--json] [--out DIR] [--seed N] [--concurrency N] [--no-cache]`
 *
 * Audits a chest X-ray dataset (see lib/data/audit.ts): prints tables (or, with `--json`, one
 * JSON object on stdout and nothing else there) and writes audit.json + CSVs to `--out`
 * (default outputs/audit). Without `--data` it uses the first of data/chest_xray and
 * ../shared/data/chest_xray that exists. Probe results are cached by file content in
 * outputs/cache/audit/probe.json, so a rerun decodes nothing (`--no-cache` probes every file). Exit status 0 when the audit ran (unreadable files are
 * reported, not fatal), 1 when it could not run, 2 for bad arguments.
 * @module
 */
import pl from "nodejs-polars";
import { auditDataset, DEFAULT_CONCURRENCY, DEFAULT_PROBE_CACHE } from "../data/audit.ts";
import { auditToJson, DEFAULT_AUDIT_DIR, formatAudit, writeAudit } from "../data/audit_output.ts";
import { DEFAULT_SEED } from "../data/split.ts";
import { shortPath } from "../util/project.ts";
import { type CliSpec, helpText, parseCli, runCli, UsageError } from "./_args.ts";
import { DATA_FLAGS, dataSource } from "./_data_flags.ts";
import { progressText } from "../util/progress.ts";

/** Folders tried, in order, when no `--data` is given. */
export const DEFAULT_DATA_DIRS = ["data/chest_xray", "../shared/data/chest_xray"];

/** The audit command's flags. */
export const AUDIT_CLI = {
  name: "audit",
  synopsis: [
    "[--data DIR] [--json] [--out DIR] [--seed N] [--concurrency N] [--no-cache]",
    "--data DIR --labels FILE [--format rsna|nih|chexpert|csv] [--uncertain POLICY] [--json]",
  ],
  about: "Audits a chest X-ray dataset: counts, image sizes, unreadable files, the planned split.",
  flags: {
    data: {
      type: "string",
      arg: "DIR",
      help: "dataset root: DIR/{train,val,test}/{NORMAL,PNEUMONIA}/ or DIR/{NORMAL,PNEUMONIA}/ " +
        `(default: the first of ${DEFAULT_DATA_DIRS.join(", ")} that exists), or the images ` +
        "of --labels",
    },
    ...DATA_FLAGS,
    json: { type: "boolean", help: "print one JSON object on stdout instead of tables" },
    out: {
      type: "string",
      arg: "DIR",
      default: DEFAULT_AUDIT_DIR,
      shownDefault: shortPath(DEFAULT_AUDIT_DIR),
      help: "where audit.json and the CSVs go",
    },
    seed: {
      type: "number",
      arg: "N",
      integer: true,
      min: 0,
      default: DEFAULT_SEED,
      help: "seed of the planned train/val/test split",
    },
    concurrency: {
      type: "number",
      arg: "N",
      integer: true,
      min: 1,
      default: DEFAULT_CONCURRENCY,
      help: "files read at once",
    },
    "no-cache": {
      type: "boolean",
      help: `probe every file, neither reading nor writing ${shortPath(DEFAULT_PROBE_CACHE)}`,
    },
  },
} as const satisfies CliSpec;

/** Picks the dataset folder: `--data`, else the first default that exists. */
function pickData(data: string | undefined): string {
  if (data !== undefined) return data;
  for (const dir of DEFAULT_DATA_DIRS) {
    try {
      if (Deno.statSync(dir).isDirectory) return dir;
    } catch {
      // Not there: try the next one.
    }
  }
  throw new Error(
    `No dataset found at ${DEFAULT_DATA_DIRS.join(" or ")}; pass --data DIR. The data is the ` +
      `Kaggle dataset paultimothymooney/chest-xray-pneumonia (Kermany et al. 2018, CC BY 4.0).`,
  );
}

/** Runs the audit CLI with `args`; returns the exit status (throws a UsageError for bad ones). */
export async function main(args: string[]): Promise<number> {
  const { values, help } = parseCli(AUDIT_CLI, args);
  if (help) {
    console.log(helpText(AUDIT_CLI));
    return 0;
  }
  const { seed, concurrency, out } = values;
  if (Deno.permissions.querySync({ name: "write", path: out }).state !== "granted") {
    throw new UsageError(
      `cannot write to ${out}: the audit task may only write under outputs/ (pick --out there)`,
    );
  }
  const data = pickData(values.data);
  const showProgress = !values.json && Deno.stderr.isTerminal();
  const t0 = performance.now();
  const report = await auditDataset(dataSource(data, values), {
    seed,
    concurrency,
    probeCache: values["no-cache"] ? null : DEFAULT_PROBE_CACHE,
    onProgress: showProgress
      ? (done, total) => {
        if (done % 250 === 0 || done === total) {
          const line = progressText("read", done, total, (performance.now() - t0) / 1000);
          Deno.stderr.writeSync(new TextEncoder().encode(`\r${line} files   `));
          if (done === total) Deno.stderr.writeSync(new TextEncoder().encode("\n"));
        }
      }
      : undefined,
  });
  const written = await writeAudit(report, out);
  if (values.json) {
    console.log(JSON.stringify(auditToJson(report)));
  } else {
    pl.Config.setTblRows(25).setTblWidthChars(160);
    console.log(formatAudit(report));
    console.log(`\nWrote ${written.map(shortPath).join(", ")}`);
  }
  return 0;
}

if (import.meta.main) await runCli("audit", () => main(Deno.args), AUDIT_CLI);
