/**
 * What every chapter shares: the settings (from the report runner's environment), the
 * patient-level splits of the manifest, and the run folders that model chapters train and later
 * chapters reuse (`<out>/runs/<name>/`, the training engine's run format).
 *
 * Chapters of issue 6 (notebooks 11+) use the same functions: `setupChapter()`, `splits()`,
 * `runRecord(s, name)`, `chosenRun(s)` and `testPart(s)`.
 * @module
 */
import { join } from "node:path";
import { Buffer } from "node:buffer";
import pl from "nodejs-polars";
import { initBackend } from "../backend/select.ts";
import { loadOrCreateManifest } from "../data/split.ts";
import type { SplitName, SplitRecord } from "../data/types.ts";
import { type TrainConfig } from "../train/config.ts";
import type { EpochMetrics, ThresholdRecord } from "../train/epoch_metrics.ts";
import type { RunSummary } from "../train/train.ts";
import { readJson } from "../util/atomic.ts";
import { jupyterApi } from "../report/display.ts";
import { type ReportSettings, reportSettings } from "../report/settings.ts";

/**
 * The first call of every chapter: reads the settings, drops the permissions a chapter never
 * needs when it runs in the Deno kernel (network and subprocesses: the kernel starts with all
 * permissions and takes no flags to start with fewer) and selects the TF.js backend.
 */
export async function setupChapter(opts: { backend?: boolean } = {}): Promise<ReportSettings> {
  const s = reportSettings();
  if (jupyterApi()) dropPermissions();
  if (opts.backend ?? true) await initBackend();
  return s;
}

/**
 * Revokes network and subprocess permissions for the rest of the kernel's life. Deno cannot
 * narrow read/write to folders once granted globally, so those stay as the kernel started.
 * Returns the permission states after revoking.
 */
export function dropPermissions(): { net: string; run: string } {
  return {
    net: Deno.permissions.revokeSync({ name: "net" }).state,
    run: Deno.permissions.revokeSync({ name: "run" }).state,
  };
}

/** One line that says what this report runs with (profile, image size, epochs, seed, data). */
export function settingsNote(s: ReportSettings): string {
  const p = s.profile;
  return `Profile **${p.name}**: ${p.size}x${p.size} images, up to ${p.epochs} epochs, early ` +
    `stopping on validation accuracy with patience ${p.patience}, seed ${s.seed}, data \`${s.data}\`.`;
}

/** The dataset's records with their split, and how the split was made. */
export interface Splits {
  manifestPath: string;
  records: SplitRecord[];
  /** "official" (folders kept), "official+carved" or "stratified" (see lib/data/split.ts). */
  strategy: string;
  warnings: string[];
  /** True when the test records come from a `test/` folder of the dataset. */
  officialTest: boolean;
  bySplit: Record<SplitName, SplitRecord[]>;
}

const splitCache = new Map<string, Splits>();

/** The manifest's split of the dataset (the same one the training engine uses). */
export async function splits(s: ReportSettings): Promise<Splits> {
  const hit = splitCache.get(s.data);
  if (hit) return hit;
  const m = await loadOrCreateManifest(s.data, { outDir: join(s.outputsDir, "manifests") });
  const bySplit: Record<SplitName, SplitRecord[]> = { train: [], val: [], test: [] };
  for (const r of m.records) bySplit[r.split].push(r);
  const out: Splits = {
    manifestPath: m.manifestPath,
    records: m.records,
    strategy: m.strategy,
    warnings: m.warnings,
    officialTest: bySplit.test.length > 0 && bySplit.test.every((r) => r.officialSplit === "test"),
    bySplit,
  };
  splitCache.set(s.data, out);
  return out;
}

/** Everything a finished run folder records, as the later chapters read it. */
export interface RunRecord {
  /** Run name (the folder's name). */
  name: string;
  dir: string;
  config: TrainConfig;
  summary: RunSummary;
  threshold: ThresholdRecord;
  /** Per-epoch metrics from metrics.csv. */
  history: { epoch: number; train: EpochMetrics; val: EpochMetrics; lr: number; timeS: number }[];
  /** Validation labels and P(pneumonia) of the kept model (val_predictions.csv). */
  val: { y: number[]; prob: number[]; patient: string[]; relPath: string[] };
}

/**
 * Reads a CSV file with a header (as the training engine writes them) into rows of strings, with
 * polars (every column read as text; an empty field is ""). Errors name the file.
 */
export async function readCsv(path: string): Promise<Record<string, string>[]> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (err) {
    throw new Error(`Cannot read ${path}: ${(err as Error).message}`);
  }
  if (new TextDecoder().decode(bytes).trim() === "") {
    throw new Error(`${path} is empty (expected a header line)`);
  }
  const df = pl.readCSV(Buffer.from(bytes), { inferSchemaLength: 0 });
  return df.toRecords().map((r) =>
    Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v == null ? "" : String(v)]))
  );
}

const KEYS = ["loss", "accuracy", "recall", "precision", "f1", "auc"] as const;

/** True when `dir` holds a finished run (summary.json written last by the engine). */
export async function isFinishedRun(dir: string): Promise<boolean> {
  try {
    return (await Deno.stat(join(dir, "summary.json"))).isFile;
  } catch {
    return false;
  }
}

/** Reads a finished run folder; a missing file is an error naming it. */
export async function readRunRecord(dir: string): Promise<RunRecord> {
  const [config, summary, threshold] = await Promise.all([
    readJson<TrainConfig>(join(dir, "config.json")),
    readJson<RunSummary>(join(dir, "summary.json")),
    readJson<ThresholdRecord>(join(dir, "threshold.json")),
  ]);
  const num = (v: string) => (v === "" || v === "NaN" ? NaN : Number(v));
  const history = (await readCsv(join(dir, "metrics.csv"))).map((r) => ({
    epoch: num(r.epoch),
    train: Object.fromEntries(KEYS.map((k) => [k, num(r[k])])) as unknown as EpochMetrics,
    val: Object.fromEntries(KEYS.map((k) => [k, num(r[`val_${k}`])])) as unknown as EpochMetrics,
    lr: num(r.lr),
    timeS: num(r.time_s),
  }));
  const preds = await readCsv(join(dir, "val_predictions.csv"));
  return {
    name: dir.split("/").filter(Boolean).pop()!,
    dir,
    config,
    summary,
    threshold,
    history,
    val: {
      y: preds.map((p) => Number(p.y)),
      prob: preds.map((p) => Number(p.prob)),
      patient: preds.map((p) => p.patient),
      relPath: preds.map((p) => p.relPath),
    },
  };
}

/** The run folder of a chapter's run `name`. */
export function runDir(s: ReportSettings, name: string): string {
  return join(s.runsDir, name);
}

/** Reads the finished run `name` of this report; the error says which notebook makes it. */
export async function runRecord(s: ReportSettings, name: string): Promise<RunRecord> {
  const dir = runDir(s, name);
  if (!(await isFinishedRun(dir))) {
    throw new Error(
      `No finished run "${name}" in ${s.runsDir}: run the notebook that trains it first ` +
        `(see notebooks/), or the whole report with deno task report`,
    );
  }
  return await readRunRecord(dir);
}

/** Where chapters leave results for later chapters (JSON files). */
export function resultPath(s: ReportSettings, name: string): string {
  return join(s.out, "results", `${name}.json`);
}

/** Reads a result left by an earlier chapter; the error names the notebook to run first. */
export async function readResult<T>(s: ReportSettings, name: string, notebook: string): Promise<T> {
  try {
    return await readJson<T>(resultPath(s, name));
  } catch {
    throw new Error(`Missing ${resultPath(s, name)}: run notebook ${notebook} first`);
  }
}
