/**
 * A report's progress on disk (`<out>/progress.json`), so that a report killed anywhere (even
 * `kill -9`) and started again with the same command continues: the notebooks it finished are
 * kept (not executed again), `--fresh` does not wipe the runs it already trained, and its wall
 * time adds up over the calls. Within a notebook, training resumes by itself
 * (lib/chapters/_training.ts `trainOrReuse`).
 *
 * A call continues the last one when that one did not finish and was made with the same
 * options (profile, data, seed, folders, base, site, `--set`, `--only`); a notebook counts as done
 * when its executed copy is in `<out>` and its content (with the injected parameters) is
 * unchanged. Library code changed in between is not detected: use `--fresh` after such a change.
 * @module
 */
import { basename, join } from "node:path";
import { readJson, writeJsonAtomic, writeJsonAtomicSync } from "../util/atomic.ts";
import { sha256Hex } from "../util/hash.ts";
import { cellSource, type Notebook } from "./runner.ts";
import type { ReportSettings } from "./settings.ts";

/** The progress file's name in the report folder. */
export const PROGRESS_FILE = "progress.json";

/** What progress.json holds. */
export interface ProgressState {
  schema: "xray-report-progress/1";
  /** {@link progressKey} of the options. */
  key: string;
  /** When the first call of this report started (ISO). */
  startedAt: string;
  /** The first call started from empty runs (`--fresh`). */
  fresh: boolean;
  /** Every notebook ran to its end. */
  finished: boolean;
  /** Wall seconds of all calls so far (updated every few seconds while one runs). */
  elapsedS: number;
  /** Seconds spent on each notebook over all calls, interrupted attempts included. */
  spent: Record<string, number>;
  /** Notebooks executed to their end: content hash, seconds, when. */
  done: Record<string, { hash: string; seconds: number; at: string }>;
}

/** What identifies "the same command": options that change what the notebooks compute. */
export function progressKey(
  o: { only?: string[]; sets?: string[]; synthetic?: boolean },
  s: ReportSettings,
  notebooks: readonly string[],
): string {
  return sha256Hex(JSON.stringify({
    profile: s.profile.name,
    data: s.data,
    seed: s.seed,
    out: s.out,
    base: s.transferBase,
    site: s.site ?? null,
    synthetic: !!o.synthetic,
    sets: o.sets ?? [],
    only: o.only ?? [],
    notebooks: notebooks.map((n) => basename(n)),
  })).slice(0, 16);
}

/** A notebook's content (cell types and sources, parameters included) as a short hash. */
export function notebookHash(nb: Notebook): string {
  return sha256Hex(JSON.stringify(nb.cells.map((c) => [c.cell_type, cellSource(c)]))).slice(0, 16);
}

/** Whether a path exists. */
export async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

/** A running report's progress; see {@link startProgress}. */
export interface Progress {
  state: ProgressState & { priorS: number };
  /** True when this call continues an interrupted one. */
  continued: boolean;
  /** A notebook starts. */
  enter(file: string): void;
  /** The notebook ends (done or failed); returns its seconds over all calls. */
  leave(): number;
  /** Records a notebook as done. */
  done(file: string, hash: string, seconds: number): Promise<void>;
  /** Stops the heartbeat and writes the final state (`finished` when every notebook ran). */
  stop(finished: boolean): Promise<void>;
}

/** How often the running report writes its elapsed time (what a `kill -9` can lose at most). */
export const HEARTBEAT_MS = 10_000;

/**
 * Reads `<out>/progress.json` and continues it when it is unfinished and has `key`; else starts
 * a new one (`fresh`: this call starts from empty runs). Writes it at once, then every
 * {@link HEARTBEAT_MS} while the report runs.
 */
export async function startProgress(out: string, key: string, fresh: boolean): Promise<Progress> {
  const path = join(out, PROGRESS_FILE);
  const old = await readJson<ProgressState>(path).catch(() => null);
  const continued = old !== null && !old.finished && old.key === key &&
    old.schema === "xray-report-progress/1";
  const base: ProgressState = continued ? old! : {
    schema: "xray-report-progress/1",
    key,
    startedAt: new Date().toISOString(),
    fresh,
    finished: false,
    elapsedS: 0,
    spent: {},
    done: {},
  };
  const state = { ...base, priorS: base.elapsedS };
  const t0 = performance.now();
  let current: { file: string; t: number; before: number } | null = null;
  const snapshot = (): ProgressState => {
    const { priorS, ...rest } = state;
    const now = performance.now();
    const spent = { ...rest.spent };
    if (current) spent[current.file] = current.before + (now - current.t) / 1000;
    return { ...rest, spent, elapsedS: priorS + (now - t0) / 1000 };
  };
  await Deno.mkdir(out, { recursive: true });
  await writeJsonAtomic(path, snapshot());
  const timer = setInterval(() => {
    try {
      writeJsonAtomicSync(path, snapshot());
    } catch { /* the next beat or the final write records it */ }
  }, HEARTBEAT_MS);
  Deno.unrefTimer(timer);
  return {
    state,
    continued,
    enter(file) {
      current = { file, t: performance.now(), before: state.spent[file] ?? 0 };
    },
    leave() {
      if (!current) return 0;
      const total = current.before + (performance.now() - current.t) / 1000;
      state.spent[current.file] = total;
      current = null;
      return total;
    },
    async done(file, hash, seconds) {
      state.done[file] = { hash, seconds, at: new Date().toISOString() };
      await writeJsonAtomic(path, snapshot());
    },
    async stop(finished) {
      clearInterval(timer);
      state.finished = finished;
      await writeJsonAtomic(path, snapshot());
    },
  };
}
