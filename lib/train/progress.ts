/**
 * Training progress: what a run has done, how fast, and how long it has left. `train()` feeds a
 * {@link ProgressTracker} per batch and per epoch; the tracker computes a
 * {@link ProgressSnapshot} (epoch, batches done, images per second, the ETA of the epoch and of
 * the run) and hands it, throttled, to a {@link ProgressSink}: a bar on a terminal
 * ({@link terminalProgress}), a display in a Jupyter cell (lib/report/live_display.ts) or a file
 * that the report reads ({@link progressFileSink}).
 *
 * The ETA of the run counts the epochs left to the epoch limit at the current epoch time, so it
 * is an upper bound when early stopping is on: {@link formatRunEta} says "up to" and how soon
 * patience could end the run.
 *
 * @example
 * ```ts
 * import { formatDuration, runEta } from "./progress.ts";
 * const eta = runEta({ epoch: 3, maxEpochs: 10, patience: 8, wait: 0, epochEtaS: 20, epochS: 60 });
 * console.log(formatDuration(eta.maxS)); // "7 min 20 s"
 * ```
 * @module
 */

/** One finished epoch's numbers for the curves. */
export interface ProgressEpoch {
  epoch: number;
  loss: number;
  valLoss: number;
  accuracy: number;
  valAccuracy: number;
  timeS: number;
}

/** Where a run stands; every sink gets these. */
export interface ProgressSnapshot {
  /** Run name. */
  run: string;
  /**
   * "start" (before the first batch), "batch" (inside an epoch), "epoch" (an epoch finished:
   * `epoch` is that epoch), "done" (the loop ended).
   */
  phase: "start" | "batch" | "epoch" | "done";
  /** The epoch in progress, or the one just finished ("epoch", "done"). */
  epoch: number;
  maxEpochs: number;
  /** Early-stopping patience and the epochs since the best (as after `epoch`'s result when finished). */
  patience: number;
  wait: number;
  batch: number;
  batches: number;
  /** Images trained on in this epoch so far, and per epoch. */
  images: number;
  imagesPerEpoch: number;
  /** Training images per second in this epoch (the last finished epoch's between epochs). */
  imagesPerSecond: number | null;
  /** Seconds left in the epoch in progress (0 once it finished); null before any estimate. */
  epochEtaS: number | null;
  /** The run's ETA (see {@link runEta}); null before any estimate. */
  runEta: RunEta | null;
  /** Seconds spent training in this process (resumed epochs not counted). */
  elapsedS: number;
  /** Finished epochs (the run's whole history, resumed ones included). */
  history: ProgressEpoch[];
  bestEpoch: number;
  /** Why the loop ended ("done" only): the epoch limit, early stopping, or an interruption. */
  stopped?: "limit" | "patience" | "interrupted";
}

/** The ETA of a run: at most (to the epoch limit) and at least (if patience ends it). */
export interface RunEta {
  /** Seconds to the epoch limit. */
  maxS: number;
  /** Seconds until early stopping at the earliest (no epoch improves any more). */
  minS: number;
  /** Epochs after the current one, to the limit and at the earliest stop. */
  epochsLeftMax: number;
  epochsLeftMin: number;
}

/**
 * Seconds left in an epoch of `batches` batches after `batch` of them took `trainS` seconds,
 * plus the validation pass that follows, estimated as the last epoch's (`valS`, default 0).
 * Null before the first batch when no earlier epoch's time (`lastEpochS`) is known.
 */
export function epochEta(
  o: { batch: number; batches: number; trainS: number; valS?: number; lastEpochS?: number },
): number | null {
  if (o.batch <= 0) return o.lastEpochS ?? null;
  const perBatch = o.trainS / o.batch;
  return Math.max(0, (o.batches - o.batch) * perBatch) + (o.valS ?? 0);
}

/**
 * The run's ETA while epoch `epoch` runs (or right after it finished, with `epochEtaS` 0):
 * the rest of this epoch plus every later epoch at `epochS` seconds. With early stopping, the
 * loop stops once `wait` reaches `patience`; the earliest stop assumes no epoch improves from now.
 * `wait` is the count before this epoch's result (or after it, when `epochEtaS` is 0 and
 * `finished` is set).
 */
export function runEta(o: {
  epoch: number;
  maxEpochs: number;
  patience: number;
  wait: number;
  epochEtaS: number;
  epochS: number;
  finished?: boolean;
}): RunEta {
  // Epochs after this one before wait reaches patience, if none improves.
  const afterThis = o.finished ? o.patience - o.wait : o.patience - o.wait - 1;
  // A finished epoch that used up the patience ends the run.
  const toLimit = o.finished && afterThis <= 0 ? 0 : Math.max(0, o.maxEpochs - o.epoch);
  const toPatience = Math.max(0, Math.min(toLimit, afterThis));
  return {
    maxS: o.epochEtaS + toLimit * o.epochS,
    minS: o.epochEtaS + toPatience * o.epochS,
    epochsLeftMax: toLimit,
    epochsLeftMin: toPatience,
  };
}

/** "45 s", "3 min 20 s", "1 h 05 min". */
export function formatDuration(s: number): string {
  if (!Number.isFinite(s)) return "?";
  const t = Math.max(0, Math.round(s));
  if (t < 60) return `${t} s`;
  if (t < 3600) return `${Math.floor(t / 60)} min ${String(t % 60).padStart(2, "0")} s`;
  const m = Math.round(t / 60);
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min`;
}

/**
 * The run's ETA in words: "1 h 05 min" when it is exact (no early stopping can cut it), else
 * "up to 1 h 05 min (early stopping could end it in 12 min)".
 */
export function formatRunEta(eta: RunEta): string {
  if (eta.epochsLeftMax === 0 || eta.minS >= eta.maxS) return formatDuration(eta.maxS);
  return `up to ${formatDuration(eta.maxS)} (early stopping could end it in ` +
    `${formatDuration(eta.minS)})`;
}

/** One line about a snapshot, for logs and the report's terminal. */
export function progressLine(s: ProgressSnapshot): string {
  const rate = s.imagesPerSecond === null ? "" : ` | ${s.imagesPerSecond.toFixed(1)} img/s`;
  // After the last epoch there is nothing left to estimate.
  const run = s.runEta && (s.phase !== "epoch" || s.runEta.epochsLeftMax > 0)
    ? ` | run ETA ${formatRunEta(s.runEta)}`
    : "";
  if (s.phase === "done") {
    const why = s.stopped === "patience"
      ? `stopped by early stopping (patience ${s.patience})`
      : s.stopped === "interrupted"
      ? "interrupted"
      : "reached the epoch limit";
    return `${s.run}: stopped after epoch ${s.epoch}/${s.maxEpochs}, ${why}, best epoch ` +
      `${s.bestEpoch}, ${formatDuration(s.elapsedS)} of training here`;
  }
  if (s.phase === "epoch") {
    const last = s.history.at(-1);
    const val = last
      ? ` val acc ${last.valAccuracy.toFixed(4)} loss ${last.valLoss.toFixed(4)}`
      : "";
    return `${s.run}: epoch ${s.epoch}/${s.maxEpochs} done${val}${rate}${run}`;
  }
  const ep = s.epochEtaS === null ? "" : ` | epoch ETA ${formatDuration(s.epochEtaS)}`;
  return `${s.run}: epoch ${s.epoch}/${s.maxEpochs} batch ${s.batch}/${s.batches}${rate}${ep}${run}`;
}

/** A text bar `[#####.....]` of `width` cells filled to `fraction`. */
export function bar(fraction: number, width = 20): string {
  const f = Math.max(0, Math.min(1, Number.isFinite(fraction) ? fraction : 0));
  const n = Math.round(f * width);
  return `[${"#".repeat(n)}${".".repeat(width - n)}]`;
}

/** Where snapshots go. `minIntervalMs`: the least time between two "batch" updates. */
export interface ProgressSink {
  minIntervalMs: number;
  update(s: ProgressSnapshot): void | Promise<void>;
}

/** Sends every snapshot to each sink; "batch" snapshots at each sink's own pace. */
export function combineSinks(...sinks: (ProgressSink | null | undefined)[]): ProgressSink | null {
  const all = sinks.filter((s): s is ProgressSink => !!s);
  if (all.length === 0) return null;
  if (all.length === 1) return all[0];
  const last = all.map(() => -Infinity);
  return {
    minIntervalMs: Math.min(...all.map((s) => s.minIntervalMs)),
    async update(s) {
      const t = performance.now();
      await Promise.all(all.map((k, i) => {
        if (s.phase === "batch" && t - last[i] < k.minIntervalMs) return;
        last[i] = t;
        return k.update(s);
      }));
    },
  };
}

/** What the tracker is told when a run starts. */
export interface TrackerStart {
  run: string;
  maxEpochs: number;
  patience: number;
  batchSize: number;
  imagesPerEpoch: number;
  /** Epochs already done (a resumed run), with their history, best epoch and wait. */
  history?: ProgressEpoch[];
  bestEpoch?: number;
  wait?: number;
}

/**
 * Turns the training loop's events into snapshots: `startEpoch`, `batch` after each batch,
 * `endEpoch` with the epoch's numbers, `done` at the end. "batch" snapshots reach the sink at
 * most every `sink.minIntervalMs`; the others always, and are awaited.
 */
export class ProgressTracker {
  #sink: ProgressSink;
  #now: () => number;
  #s: ProgressSnapshot;
  #epochStart = 0;
  #trainS = 0;
  #lastSent = -Infinity;
  /** Validation (and other per-epoch overhead) seconds of the last finished epoch. */
  #lastValS = 0;
  #lastEpochS: number | undefined;
  /** Finished epoch times in this process (resumed ones from the history as a fallback). */
  #times: number[] = [];
  #t0: number;
  #pending: Promise<void> = Promise.resolve();

  constructor(
    sink: ProgressSink,
    start: TrackerStart,
    now: () => number = () => performance.now(),
  ) {
    this.#sink = sink;
    this.#now = now;
    this.#t0 = now();
    const history = [...(start.history ?? [])];
    this.#s = {
      run: start.run,
      phase: "start",
      epoch: history.length,
      maxEpochs: start.maxEpochs,
      patience: start.patience,
      wait: start.wait ?? 0,
      batch: 0,
      batches: Math.ceil(start.imagesPerEpoch / start.batchSize),
      images: 0,
      imagesPerEpoch: start.imagesPerEpoch,
      imagesPerSecond: null,
      epochEtaS: null,
      runEta: null,
      elapsedS: 0,
      history,
      bestEpoch: start.bestEpoch ?? 0,
    };
    const prev = history[history.length - 1];
    if (prev) this.#lastEpochS = prev.timeS;
  }

  /** The latest snapshot (a copy). */
  get snapshot(): ProgressSnapshot {
    return { ...this.#s, history: [...this.#s.history] };
  }

  /** Mean time of the finished epochs of this process, else the last known epoch time. */
  #epochS(current?: number): number {
    const times = this.#times.length ? this.#times : this.#lastEpochS ? [this.#lastEpochS] : [];
    if (times.length) return times.reduce((a, b) => a + b, 0) / times.length;
    return current ?? NaN;
  }

  /** Epoch `epoch` begins. */
  async startEpoch(epoch: number): Promise<void> {
    this.#epochStart = this.#now();
    this.#trainS = 0;
    Object.assign(this.#s, { phase: "start", epoch, batch: 0, images: 0 });
    this.#estimate();
    await this.#send(true);
  }

  /** A batch of `images` finished. Not awaited by the loop: the sink's work runs behind it. */
  batch(images: number): void {
    this.#s.batch++;
    this.#s.images += images;
    this.#trainS = (this.#now() - this.#epochStart) / 1000;
    this.#s.phase = "batch";
    this.#s.imagesPerSecond = this.#trainS > 0 ? this.#s.images / this.#trainS : null;
    this.#estimate();
    void this.#send(false);
  }

  /** Epoch finished with these numbers; `wait` and `bestEpoch` as after its result. */
  async endEpoch(e: ProgressEpoch, wait: number, bestEpoch: number): Promise<void> {
    const total = (this.#now() - this.#epochStart) / 1000;
    const trainS = this.#trainS > 0 ? this.#trainS : total;
    this.#lastValS = Math.max(0, total - trainS);
    this.#lastEpochS = e.timeS;
    this.#times.push(e.timeS);
    Object.assign(this.#s, {
      phase: "epoch",
      epoch: e.epoch,
      wait,
      bestEpoch,
      imagesPerSecond: trainS > 0 && this.#s.images > 0 ? this.#s.images / trainS : null,
      epochEtaS: 0,
    });
    this.#s.history.push(e);
    this.#s.runEta = runEta({
      epoch: e.epoch,
      maxEpochs: this.#s.maxEpochs,
      patience: this.#s.patience,
      wait,
      epochEtaS: 0,
      epochS: this.#epochS(),
      finished: true,
    });
    this.#s.elapsedS = (this.#now() - this.#t0) / 1000;
    await this.#send(true);
  }

  /** The loop ended. */
  async done(stopped: ProgressSnapshot["stopped"]): Promise<void> {
    Object.assign(this.#s, { phase: "done", stopped, epochEtaS: 0, runEta: null });
    this.#s.elapsedS = (this.#now() - this.#t0) / 1000;
    await this.#send(true);
  }

  #estimate() {
    const s = this.#s;
    s.elapsedS = (this.#now() - this.#t0) / 1000;
    s.epochEtaS = epochEta({
      batch: s.batch,
      batches: s.batches,
      trainS: this.#trainS,
      valS: this.#lastValS,
      lastEpochS: this.#lastEpochS,
    });
    if (s.epochEtaS === null) {
      s.runEta = null;
      return;
    }
    // Before any epoch finished, the epoch in progress projects its own length.
    const projected = this.#trainS + s.epochEtaS;
    s.runEta = runEta({
      epoch: s.epoch,
      maxEpochs: s.maxEpochs,
      patience: s.patience,
      wait: s.wait,
      epochEtaS: s.epochEtaS,
      epochS: this.#epochS(projected),
    });
  }

  #send(force: boolean): Promise<void> {
    const t = this.#now();
    if (!force && t - this.#lastSent < this.#sink.minIntervalMs) return this.#pending;
    this.#lastSent = t;
    const snap = this.snapshot;
    // In order, one at a time; a failing sink never stops training.
    this.#pending = this.#pending.then(() => this.#sink.update(snap)).catch(() => {});
    return this.#pending;
  }
}

/** Options of {@link terminalProgress}. */
export interface TerminalOptions {
  /** Whether the output is a terminal (default `Deno.stderr.isTerminal()`). */
  tty?: boolean;
  /** Writes text as is (default: to stderr). */
  write?: (text: string) => void;
  /** Terminal width (default: the console's, else 100). */
  columns?: number;
  /** Prints a log line (default console.log). */
  print?: (line: string) => void;
  /**
   * Off a TTY: also print the batch line at most every this many seconds (default: never), for
   * epochs long enough that a line per epoch leaves a log silent for minutes.
   */
  logEveryS?: number;
  /** Clock in milliseconds (default `performance.now`), for tests. */
  now?: () => number;
}

/**
 * The terminal's progress for `deno task train`: on a TTY a bar redrawn in place (4 times a
 * second at most) under the log lines; elsewhere (logs, CI) nothing, as the epoch log lines
 * already carry the ETA, or with `logEveryS` a batch line that often. Its `log` prints a line
 * above the bar: pass it as `train`'s `log`.
 */
export function terminalProgress(
  o: TerminalOptions = {},
): ProgressSink & { log: (line: string) => void } {
  const enc = new TextEncoder();
  const write = o.write ?? ((t: string) => Deno.stderr.writeSync(enc.encode(t)));
  const tty = o.tty ?? Deno.stderr.isTerminal();
  let columns = o.columns;
  if (columns === undefined) {
    try {
      columns = Deno.consoleSize().columns;
    } catch {
      columns = 100;
    }
  }
  let drawn = false;
  const now = o.now ?? (() => performance.now());
  let lastLogged = now();
  const clear = () => {
    if (drawn) write("\r\x1b[2K");
    drawn = false;
  };
  return {
    minIntervalMs: 250,
    update(s) {
      if (!tty) {
        if (o.logEveryS === undefined || s.phase !== "batch") return;
        const t = now();
        if (t - lastLogged < o.logEveryS * 1000) return;
        lastLogged = t;
        return (o.print ?? console.log)(progressLine(s));
      }
      if (s.phase === "done") return clear();
      if (s.phase === "epoch") return clear();
      const text = `${bar(s.batch / Math.max(1, s.batches))} ${progressLine(s)}`;
      // A pseudo-terminal can report 0 columns: then the line is not cut.
      write(`\r\x1b[2K${columns! >= 20 ? text.slice(0, columns! - 1) : text}`);
      drawn = true;
    },
    log(line: string) {
      clear();
      (o.print ?? console.log)(line);
    },
  };
}

/**
 * Appends each snapshot as one JSON line (without the history, which the reader keeps from the
 * "epoch" lines) to `path`: the channel from a notebook's kernel to the report's terminal
 * (lib/report/progress_watch.ts). At most one "batch" line a second.
 */
export function progressFileSink(path: string): ProgressSink {
  return {
    minIntervalMs: 1000,
    update(s) {
      const { history, ...rest } = s;
      const last = history[history.length - 1];
      const line = JSON.stringify({ ...rest, last: s.phase === "epoch" ? last : undefined });
      Deno.writeTextFileSync(path, line + "\n", { append: true });
    },
  };
}

/** The environment variable naming the report's progress file (set for the notebook kernels). */
export const PROGRESS_FILE_ENV = "XRAY_PROGRESS_FILE";
