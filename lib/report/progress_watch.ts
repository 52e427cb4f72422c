/**
 * The report's terminal progress. The notebooks train inside a Jupyter kernel, another process:
 * the report names a progress file in the kernel's environment (`XRAY_PROGRESS_FILE`), the
 * chapters' training appends one JSON line per update to it (lib/report/live_display.ts,
 * `notebookProgress`), and {@link ReportProgress} reads it while the notebook runs: a line per
 * epoch with the run's ETA (and a bar on a TTY), and a line per chapter with the report's ETA
 * from the last report's chapter times (`chapterSeconds` in `<out>/settings.json`).
 * @module
 */
import { basename, join } from "node:path";
import {
  formatDuration,
  PROGRESS_FILE_ENV,
  progressLine,
  type ProgressSnapshot,
  terminalProgress,
} from "../train/progress.ts";

/** One line of the progress file (a snapshot without its history, the epoch's numbers in `last`). */
export type ProgressFileLine = Omit<ProgressSnapshot, "history"> & {
  last?: ProgressSnapshot["history"][number];
};

/**
 * Reads the lines appended to `path` since `offset`; returns the complete lines parsed and the
 * offset after them (a partial last line is left for the next read). A missing file is empty.
 */
export async function readProgressLines(
  path: string,
  offset: number,
): Promise<{ lines: ProgressFileLine[]; offset: number }> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return { lines: [], offset };
    throw e;
  }
  const text = new TextDecoder().decode(bytes.subarray(offset));
  const end = text.lastIndexOf("\n");
  if (end < 0) return { lines: [], offset };
  const lines: ProgressFileLine[] = [];
  for (const l of text.slice(0, end).split("\n")) {
    if (!l.trim()) continue;
    try {
      lines.push(JSON.parse(l));
    } catch {
      // A line we cannot read is skipped: progress never stops a report.
    }
  }
  return { lines, offset: offset + new TextEncoder().encode(text.slice(0, end + 1)).length };
}

/** The snapshot of a file line (its history is the epoch just finished, when there is one). */
export function snapshotOf(l: ProgressFileLine): ProgressSnapshot {
  const { last, ...rest } = l;
  return { ...rest, history: last ? [last] : [] };
}

/** The chapters left after `done` of `all`, and the report's ETA from the earlier times. */
export function reportEta(
  all: readonly string[],
  done: number,
  previous: Record<string, number>,
): { left: number; knownS: number; unknown: number } {
  const rest = all.slice(done).map((p) => basename(p));
  const known = rest.filter((f) => previous[f] !== undefined);
  return {
    left: rest.length,
    knownS: known.reduce((a, f) => a + previous[f], 0),
    unknown: rest.length - known.length,
  };
}

/** " | 3/17 chapters, report ETA ~25 min (from the last report's chapter times)". */
export function reportEtaText(
  all: readonly string[],
  done: number,
  previous: Record<string, number>,
) {
  const e = reportEta(all, done, previous);
  const head = ` | ${done}/${all.length} chapters`;
  if (e.left === 0) return head;
  if (e.unknown === e.left) return `${head}, ${e.left} left (no earlier time to estimate from)`;
  const more = e.unknown ? `, plus ${e.unknown} chapter(s) never timed` : "";
  return `${head}, report ETA ~${formatDuration(e.knownS)}${more} (from the last report's ` +
    `chapter times)`;
}

/** Options of {@link ReportProgress}. */
export interface ReportProgressOptions {
  /** The report's output folder (the progress file and the earlier settings.json are there). */
  out: string;
  /** The notebooks this report runs, in order. */
  notebooks: readonly string[];
  /** Prints a log line. */
  log: (line: string) => void;
  /** Draw a bar (default: when stderr is a terminal). */
  tty?: boolean;
  /** How often the progress file is read (ms, default 500). */
  pollMs?: number;
}

/** See the module doc. */
export class ReportProgress {
  readonly file: string;
  #o: ReportProgressOptions;
  #term: ReturnType<typeof terminalProgress>;
  #previous: Record<string, number> = {};
  #done = 0;

  private constructor(o: ReportProgressOptions) {
    this.#o = o;
    this.file = join(o.out, ".progress.jsonl");
    this.#term = terminalProgress({ tty: o.tty ?? Deno.stderr.isTerminal(), print: o.log });
  }

  /** Reads the last report's chapter times from `<out>/settings.json`, when there are any. */
  static async start(o: ReportProgressOptions): Promise<ReportProgress> {
    const p = new ReportProgress(o);
    try {
      const prev = JSON.parse(await Deno.readTextFile(join(o.out, "settings.json")));
      if (prev?.chapterSeconds && typeof prev.chapterSeconds === "object") {
        p.#previous = prev.chapterSeconds;
      }
    } catch {
      // No earlier report here: the ETA says so.
    }
    return p;
  }

  /** A log line printed above the bar. */
  log = (line: string): void => this.#term.log(line);

  /** The kernel's environment: where the chapters' training writes its progress. */
  get env(): Record<string, string> {
    return { [PROGRESS_FILE_ENV]: this.file };
  }

  /** Runs a notebook (`run`) while printing its training's progress. */
  async watch<T>(notebook: string, run: () => Promise<T>): Promise<T> {
    await Deno.mkdir(this.#o.out, { recursive: true });
    await Deno.writeTextFile(this.file, "");
    let offset = 0;
    const chapter = basename(notebook).replace(/\.ipynb$/, "");
    const drain = async () => {
      const r = await readProgressLines(this.file, offset);
      offset = r.offset;
      for (const l of r.lines) {
        const s = snapshotOf(l);
        s.run = `${chapter} ${s.run}`;
        if (s.phase === "epoch" || s.phase === "done") this.log(`report: ${progressLine(s)}`);
        else await this.#term.update(s);
      }
    };
    let busy = false;
    const timer = setInterval(() => {
      if (busy) return;
      busy = true;
      drain().catch(() => {}).finally(() => busy = false);
    }, this.#o.pollMs ?? 500);
    try {
      return await run();
    } finally {
      clearInterval(timer);
      while (busy) await new Promise((r) => setTimeout(r, 10));
      await drain().catch(() => {});
      await this.#term.update({ phase: "done" } as ProgressSnapshot);
    }
  }

  /** The chapter line's ETA part after a notebook finished. */
  chapterDone(): string {
    this.#done++;
    return reportEtaText(this.#o.notebooks, this.#done, this.#previous);
  }

  /** Removes the progress file. */
  async close(): Promise<void> {
    await Deno.remove(this.file).catch(() => {});
  }
}
