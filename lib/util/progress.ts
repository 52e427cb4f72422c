/**
 * Progress lines with a rate and an ETA for long stages (audit, cache build, training epochs):
 * `label 12,000/100,000 (12.0%), 85.3/s, ETA 17m11s`, at most one line every `everyS` seconds,
 * plus the last one.
 *
 * @example
 * ```ts
 * import { progressLine } from "./progress.ts";
 * const tick = progressLine("decode cache", 100_000, console.error);
 * for (let i = 1; i <= 100_000; i++) tick(i);
 * ```
 * @module
 */

/** "1h02m", "17m11s", "42s". */
export function formatDuration(s: number): string {
  if (!Number.isFinite(s)) return "?";
  const t = Math.max(0, Math.round(s));
  const h = Math.floor(t / 3600), m = Math.floor((t % 3600) / 60), sec = t % 60;
  if (h) return `${h}h${String(m).padStart(2, "0")}m`;
  if (m) return `${m}m${String(sec).padStart(2, "0")}s`;
  return `${sec}s`;
}

/** One progress line: done of total, percent, rate and ETA from the time since `t0` (ms). */
export function progressText(
  label: string,
  done: number,
  total: number,
  elapsedS: number,
  startDone = 0,
): string {
  const rate = elapsedS > 0 ? (done - startDone) / elapsedS : 0;
  const eta = rate > 0 ? (total - done) / rate : Infinity;
  const f = (n: number) => n.toLocaleString("en-US");
  return `${label} ${f(done)}/${f(total)} (${(100 * done / Math.max(1, total)).toFixed(1)}%), ` +
    `${rate.toFixed(1)}/s, ${
      done >= total ? `done in ${formatDuration(elapsedS)}` : `ETA ${formatDuration(eta)}`
    }`;
}

/**
 * A callback `(done) => void` that logs {@link progressText} at most every `everyS` seconds and
 * at the end. `startDone` is what was already done before (a resumed build): the rate counts
 * only the new part.
 */
export function progressLine(
  label: string,
  total: number,
  log: (line: string) => void,
  everyS = 10,
  startDone = 0,
): (done: number) => void {
  const t0 = performance.now();
  let last = t0;
  return (done: number) => {
    const now = performance.now();
    if (done < total && now - last < everyS * 1000) return;
    last = now;
    log(progressText(label, done, total, (now - t0) / 1000, startDone));
  };
}
