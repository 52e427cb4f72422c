/**
 * What every chapter shares: the settings (from the notebook's parameters cell), the
 * patient-level splits of the manifest, and the run folders that model chapters train and later
 * chapters reuse (`<out>/runs/<name>/`, the training engine's run format).
 *
 * Run folders are read by `lib/train/run.ts` (`readRunRecord`, `RunRecord`, `isFinishedRun`,
 * re-exported here for the chapters); `runRecord(s, name)` finds a chapter's run by name.
 * @module
 */
import { join } from "node:path";
import { initBackend } from "../backend/select.ts";
import { loadOrCreateManifest } from "../data/split.ts";
import type { SplitName, SplitRecord } from "../data/types.ts";
import { isFinishedRun, readRunRecord, type RunRecord } from "../train/run.ts";
import { readJson, writeJsonAtomicSync } from "../util/atomic.ts";
import { jupyterApi, show, showMarkdown } from "../report/display.ts";
import { chapterSettings, settingsBlock } from "../report/params.ts";
import {
  type BudgetName,
  type Params,
  type ReportSettings,
  reportSettings,
  reportSource,
} from "../report/settings.ts";
import { budgetNote } from "./_budget.ts";

/**
 * The first call of every chapter: makes the settings from the notebook's parameters cell
 * (`params`; without it, from the report's environment variables), shows them, drops the permissions a chapter never
 * needs when it runs in the Deno kernel (network and subprocesses: the kernel starts with all
 * permissions and takes no flags to start with fewer) and selects the TF.js backend. A chapter
 * that trains names its budget (`budget`, lib/report/settings.ts): it is said in words, with the
 * reason, under the settings.
 */
export async function setupChapter(
  params?: Params,
  opts: { backend?: boolean; budget?: BudgetName } = {},
): Promise<ReportSettings> {
  const s = params ? chapterSettings(params) : reportSettings();
  if (jupyterApi()) {
    dropPermissions();
    if (params) await show(settingsBlock(s));
    if (opts.budget) await showMarkdown(budgetNote(s, opts.budget));
  }
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

export { isFinishedRun, readRunRecord, type RunRecord } from "../train/run.ts";
export { readCsv } from "../util/csv.ts";

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
  const key = `${s.data}\n${s.labels ?? ""}`;
  const hit = splitCache.get(key);
  if (hit) return hit;
  const m = await loadOrCreateManifest(reportSource(s), {
    outDir: join(s.outputsDir, "manifests"),
  });
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
  splitCache.set(key, out);
  return out;
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

/**
 * Records `value` under `key` in the result file `results/<name>.json` (other keys kept), so that
 * the conclusions read the very numbers a chapter showed. Synchronous, so that the functions that
 * write a chapter's sentences can record the numbers behind them.
 */
export function recordResult(s: ReportSettings, name: string, key: string, value: unknown): void {
  const path = resultPath(s, name);
  let current: Record<string, unknown> = {};
  try {
    current = JSON.parse(Deno.readTextFileSync(path));
  } catch { /* first key of this file */ }
  writeJsonAtomicSync(path, { ...current, [key]: value });
}
