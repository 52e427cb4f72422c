/**
 * The reproduction record of a report (`outputs/reproduction/` after a full-profile report):
 * `summary.json` (profile, whether every model was trained in this report, seconds in all and per
 * chapter, CPU, cores, commit), the seed-versus-ours table that chapter 17 recorded
 * (`results/reproduction.json`, lib/chapters/_reproduction.ts) as `table.json` and `table.md`,
 * and copies of the run folders the conclusions quote under `runs/NAME` (the chapters' run
 * names), each a whole run folder that `deno task evaluate --run` takes.
 * @module
 */
import { cpSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { readJson, writeFileAtomic, writeJsonAtomic } from "../util/atomic.ts";
import type { ProfileName, ReportSettings } from "./settings.ts";

/** Where a full-profile report writes its record, relative to the project root. */
export const REPRODUCTION_DIR = join("outputs", "reproduction");

/** The result file (under `<out>/results/`) chapter 17 writes the table into. */
export const REPRODUCTION_RESULT = "reproduction";

/** What chapter 17 records in `results/reproduction.json` (see lib/chapters/_reproduction.ts). */
export interface RecordedReproduction {
  /** The table as rows (seed and ours side by side), for table.json. */
  table: unknown;
  /** The same as Markdown, for table.md. */
  markdown: string;
  /** Run names the conclusions quote (each a folder of `<out>/runs`). */
  runs: string[];
}

/** summary.json. */
export interface ReproductionSummary {
  schema: "xray-reproduction/1";
  profile: ProfileName;
  /** True when every model in the report's runs was trained by this report (no reuse of older runs). */
  fresh: boolean;
  /** Runs reused from before this report started (empty when `fresh`). */
  reusedRuns: string[];
  /** Wall seconds of the whole report (interrupted calls it continued included). */
  seconds: number;
  /** Notebook name (without .ipynb) -> seconds. */
  chapters: Record<string, number>;
  cpu: string;
  cores: number;
  commit: string | null;
  /** Whether the checkout had uncommitted changes to tracked files. */
  dirty: boolean | null;
  command: string;
  /** When the report started and when this record was written (ISO). */
  startedAt: string;
  writtenAt: string;
  data: string;
  seed: number;
  /** Run names copied under runs/. */
  runs: string[];
}

/** What {@link writeReproduction} needs from the report. */
export interface ReproductionInput {
  settings: ReportSettings;
  profile: ProfileName;
  startedAt: string;
  /** The report started from empty runs (`--fresh`). */
  freshStart: boolean;
  seconds: number;
  chapters: Record<string, number>;
  commit: string | null;
  dirty: boolean | null;
  command: string;
}

/**
 * Run folders of `runsDir` (links followed) whose training started before `since` (their
 * config.json is written when training starts and kept on resume): runs the report reused.
 */
export async function runsOlderThan(runsDir: string, since: Date): Promise<string[]> {
  const out: string[] = [];
  let entries: Deno.DirEntry[] = [];
  try {
    entries = await Array.fromAsync(Deno.readDir(runsDir));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return out;
    throw err;
  }
  for (const e of entries) {
    const st = await Deno.stat(join(runsDir, e.name, "config.json")).catch(() => null);
    if (st?.mtime && st.mtime.getTime() < since.getTime() - 1000) out.push(e.name);
  }
  return out.sort();
}

/** Writes the record into `dir` (see the module doc); returns the summary. */
export async function writeReproduction(
  dir: string,
  r: ReproductionInput,
): Promise<ReproductionSummary> {
  const s = r.settings;
  const recorded = await readJson<RecordedReproduction>(
    join(s.out, "results", `${REPRODUCTION_RESULT}.json`),
  ).catch(() => null);
  const reused = r.freshStart ? [] : await runsOlderThan(s.runsDir, new Date(r.startedAt));
  const runs: string[] = [];
  await Deno.remove(join(dir, "runs"), { recursive: true }).catch(() => {});
  for (const name of recorded?.runs ?? []) {
    const from = join(s.runsDir, name);
    if (!(await Deno.stat(join(from, "summary.json")).then(() => true, () => false))) continue;
    // A shared run is a link to another chapter's folder: the copy holds the files themselves.
    // The checkpoint only serves resuming; the copy is a finished run.
    cpSync(from, join(dir, "runs", name), {
      recursive: true,
      dereference: true,
      filter: (src) => !/\/checkpoint(\/|$)/.test(src.slice(from.length)),
    });
    runs.push(name);
  }
  if (recorded) {
    await writeJsonAtomic(join(dir, "table.json"), recorded.table);
    await writeFileAtomic(join(dir, "table.md"), recorded.markdown);
  }
  const summary: ReproductionSummary = {
    schema: "xray-reproduction/1",
    profile: r.profile,
    fresh: reused.length === 0,
    reusedRuns: reused,
    seconds: Math.round(r.seconds),
    chapters: Object.fromEntries(
      Object.entries(r.chapters).map(([k, v]) => [k, Math.round(v)]),
    ),
    cpu: os.cpus()[0]?.model ?? "unknown",
    cores: navigator.hardwareConcurrency,
    commit: r.commit,
    dirty: r.dirty,
    command: r.command,
    startedAt: r.startedAt,
    writtenAt: new Date().toISOString(),
    data: s.data,
    seed: s.seed,
    runs,
  };
  await writeJsonAtomic(join(dir, "summary.json"), summary);
  return summary;
}
