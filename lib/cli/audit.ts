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
import { parseArgs } from "node:util";
import pl from "nodejs-polars";
import { auditDataset, DEFAULT_CONCURRENCY, DEFAULT_PROBE_CACHE } from "../data/audit.ts";
import { auditToJson, DEFAULT_AUDIT_DIR, formatAudit, writeAudit } from "../data/audit_output.ts";
import { DEFAULT_SEED } from "../data/split.ts";
import { shortPath } from "../util/project.ts";

/** Folders tried, in order, when no `--data` is given. */
export const DEFAULT_DATA_DIRS = ["data/chest_xray", "../shared/data/chest_xray"];

const USAGE =
  `usage: deno task audit [--data DIR] [--json] [--out DIR] [--seed N] [--concurrency N] [--no-cache]
  --data DIR         dataset root: DIR/{train,val,test}/{NORMAL,PNEUMONIA}/ or DIR/{NORMAL,PNEUMONIA}/
                     (default: the first of ${DEFAULT_DATA_DIRS.join(", ")} that exists)
  --json             print one JSON object on stdout instead of tables
  --out DIR          where audit.json and the CSVs go (default ${shortPath(DEFAULT_AUDIT_DIR)})
  --seed N           seed of the planned train/val/test split (default ${DEFAULT_SEED})
  --concurrency N    files read at once (default ${DEFAULT_CONCURRENCY})
  --no-cache         probe every file, neither reading nor writing ${
    shortPath(DEFAULT_PROBE_CACHE)
  }`;

/** A positive integer option, or an error naming the option. */
function intOption(name: string, value: string | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) {
    throw new UsageError(`--${name} must be an integer >= ${min}, got "${value}"`);
  }
  return n;
}

class UsageError extends Error {}

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

/** Runs the audit CLI with `args`; returns the exit status. */
export async function main(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        data: { type: "string" },
        json: { type: "boolean", default: false },
        out: { type: "string", default: DEFAULT_AUDIT_DIR },
        seed: { type: "string" },
        concurrency: { type: "string" },
        "no-cache": { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  try {
    const seed = intOption("seed", values.seed, DEFAULT_SEED, 0);
    const concurrency = intOption("concurrency", values.concurrency, DEFAULT_CONCURRENCY, 1);
    const out = values.out!;
    if (Deno.permissions.querySync({ name: "write", path: out }).state !== "granted") {
      throw new UsageError(
        `cannot write to ${out}: the audit task may only write under outputs/ (pick --out there)`,
      );
    }
    const data = pickData(values.data);
    const showProgress = !values.json && Deno.stderr.isTerminal();
    const report = await auditDataset(data, {
      seed,
      concurrency,
      probeCache: values["no-cache"] ? null : DEFAULT_PROBE_CACHE,
      onProgress: showProgress
        ? (done, total) => {
          if (done % 250 === 0 || done === total) {
            Deno.stderr.writeSync(new TextEncoder().encode(`\rread ${done}/${total} files`));
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
  } catch (err) {
    console.error(`audit: ${(err as Error).message}`);
    if (err instanceof UsageError) console.error(USAGE);
    return err instanceof UsageError ? 2 : 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
