/**
 * Every report and training run made so far under a folder (default `outputs/`), with its
 * settings and key metrics, as one polars table: a report is a folder with the runner's
 * `settings.json` (its final model's validation and test numbers from `results/`), a run is a
 * folder with `config.json` and `summary.json` (the training engine's run format). Reports made
 * with `--set` show their overrides, so "rerun with downsampling" is one row beside the default.
 *
 * @example
 * ```ts
 * import { experimentsTable } from "./experiments.ts";
 * const df = await experimentsTable("outputs");
 * console.log(df.toString());
 * ```
 * @module
 */
import { join, relative } from "node:path";
import pl from "nodejs-polars";
import type { TrainConfig } from "../train/config.ts";
import type { RunSummary } from "../train/train.ts";
import { readJson } from "../util/atomic.ts";

/** One row of the table; metrics are null when the folder does not record them. */
export interface ExperimentRow {
  kind: "report" | "run";
  /** The folder, relative to the scanned root. */
  path: string;
  /** ISO time: the report's creation, or the run's summary.json modification. */
  created: string;
  profile: string | null;
  /** The report's `--set` overrides (for a run: those of the report it belongs to). */
  sets: string;
  model: string;
  size: number | null;
  fraction: number | null;
  epochs: number | null;
  balance: string | null;
  seed: number | null;
  "train images": number | null;
  "val AUC": number | null;
  "val F1": number | null;
  "test AUC": number | null;
  "test sensitivity": number | null;
  "test specificity": number | null;
  "time (s)": number | null;
}

/** Folders under outputs/ that hold caches and inputs, never reports or runs. */
const SKIP = new Set([
  "cache",
  "manifests",
  "bases",
  "synthetic",
  "node_modules",
  "audit",
  "bench",
]);

interface ReportSettingsFile {
  schema: string;
  profile: string;
  seed: number;
  sets: string[];
  created: string;
  totalSeconds: number;
}

interface TestFile {
  run: string;
  auc: number;
  atThreshold: { sensitivity: number; specificity: number };
}

const exists = (p: string) => Deno.stat(p).then(() => true, () => false);
const orNull = <T>(p: Promise<T>) => p.catch(() => null);

async function runRow(
  root: string,
  dir: string,
  report: ReportSettingsFile | null,
): Promise<ExperimentRow | null> {
  const [config, summary] = await Promise.all([
    orNull(readJson<TrainConfig>(join(dir, "config.json"))),
    orNull(readJson<RunSummary>(join(dir, "summary.json"))),
  ]);
  if (!config || !summary) return null;
  const st = await Deno.stat(join(dir, "summary.json"));
  return {
    kind: "run",
    path: relative(root, dir),
    created: (st.mtime ?? new Date(0)).toISOString(),
    profile: report?.profile ?? null,
    sets: report?.sets.join(" ") ?? "",
    model: config.model,
    size: config.size,
    fraction: config.fraction,
    epochs: config.epochs,
    balance: config.balance,
    seed: config.seed,
    "train images": summary.trainImages,
    "val AUC": summary.val?.auc ?? null,
    "val F1": summary.val?.f1 ?? null,
    "test AUC": null,
    "test sensitivity": null,
    "test specificity": null,
    "time (s)": summary.totalTimeS,
  };
}

async function reportRow(root: string, dir: string, s: ReportSettingsFile): Promise<ExperimentRow> {
  const test = await orNull(readJson<TestFile>(join(dir, "results", "test.json")));
  const chosen = test ? await runRow(root, join(dir, "runs", test.run), s) : null;
  return {
    kind: "report",
    path: relative(root, dir),
    created: s.created,
    profile: s.profile,
    sets: s.sets.join(" "),
    model: test?.run ?? "(no final model)",
    size: chosen?.size ?? null,
    fraction: chosen?.fraction ?? null,
    epochs: chosen?.epochs ?? null,
    balance: chosen?.balance ?? null,
    seed: s.seed,
    "train images": chosen?.["train images"] ?? null,
    "val AUC": chosen?.["val AUC"] ?? null,
    "val F1": chosen?.["val F1"] ?? null,
    "test AUC": test?.auc ?? null,
    "test sensitivity": test?.atThreshold.sensitivity ?? null,
    "test specificity": test?.atThreshold.specificity ?? null,
    "time (s)": s.totalSeconds,
  };
}

/**
 * Finds every report and run under `root` (depth-first, at most `maxDepth` folders down,
 * skipping caches); rows sorted by kind (reports first), then by path.
 */
export async function findExperiments(root: string, maxDepth = 5): Promise<ExperimentRow[]> {
  const rows: ExperimentRow[] = [];
  const walk = async (dir: string, depth: number, report: ReportSettingsFile | null) => {
    const settings = await orNull(readJson<ReportSettingsFile>(join(dir, "settings.json")));
    if (settings?.schema?.startsWith("xray-report-settings/")) {
      rows.push(await reportRow(root, dir, settings));
      report = settings;
    }
    if (await exists(join(dir, "summary.json"))) {
      const row = await runRow(root, dir, report);
      if (row) rows.push(row);
      return;
    }
    if (depth >= maxDepth) return;
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(dir));
    } catch {
      return;
    }
    for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      if (e.isDirectory && !SKIP.has(e.name) && !e.name.startsWith(".")) {
        await walk(join(dir, e.name), depth + 1, report);
      }
    }
  };
  await walk(root, 0, null);
  // "report" sorts before "run".
  return rows.sort((a, b) => a.kind.localeCompare(b.kind) || a.path.localeCompare(b.path));
}

/** The experiments under `root` as one polars DataFrame (columns of {@link ExperimentRow}). */
export async function experimentsTable(root: string): Promise<pl.DataFrame> {
  const rows = await findExperiments(root);
  if (rows.length === 0) {
    throw new Error(
      `No reports (settings.json) or runs (summary.json) under ${root}: make one with ` +
        "deno task report or deno task train",
    );
  }
  const cols = Object.keys(rows[0]) as (keyof ExperimentRow)[];
  const df = pl.DataFrame(
    Object.fromEntries(cols.map((c) => [c, rows.map((r) => r[c])])),
  );
  const ints = ["size", "epochs", "seed", "train images"];
  const metrics = [
    "fraction",
    "val AUC",
    "val F1",
    "test AUC",
    "test sensitivity",
    "test specificity",
  ];
  return df.withColumns(
    ...ints.map((c) => pl.col(c).cast(pl.Int64)),
    ...metrics.map((c) => pl.col(c).cast(pl.Float64).round(3)),
    pl.col("time (s)").cast(pl.Float64).round(1),
    pl.col("created").str.slice(0, 16),
  );
}
