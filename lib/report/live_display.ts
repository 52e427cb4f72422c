/**
 * Training progress in a Jupyter cell: one display that updates in place. The first snapshot
 * goes out as `display_data` with a `transient.display_id`, every later one as
 * `update_display_data` with the same id (`Deno.jupyter.display(bundle, {raw, update,
 * display_id})`), at most twice a second between epochs: the epoch, batches done, images per
 * second, the ETA of the epoch and of the run, and the loss and accuracy curves redrawn after each
 * epoch. A front end (and nbconvert, which applies updates to the stored output) keeps the last
 * state only: a summary line once training ends, as the chapter shows the full curves itself.
 *
 * {@link notebookProgress} is what chapters pass to `train`: this display inside a kernel, plus
 * the report's progress file when the report set one (lib/report/progress_watch.ts reads it).
 * @module
 */
import { trainingCurve } from "../charts/lines.ts";
import { escapeHtml } from "../charts/_render.ts";
import {
  bar,
  combineSinks,
  formatDuration,
  formatRunEta,
  PROGRESS_FILE_ENV,
  progressFileSink,
  progressLine,
  type ProgressSink,
  type ProgressSnapshot,
} from "../train/progress.ts";
import { FLUSH_MS, jupyterApi } from "./display.ts";

/** The part of `Deno.jupyter` the display uses. */
export interface JupyterDisplay {
  display(
    obj: Record<string, unknown>,
    opts: { raw: boolean; update?: boolean; display_id?: string },
  ): Promise<void>;
}

/** Options of {@link liveTrainingDisplay}. */
export interface LiveDisplayOptions {
  /** Id of the display (default: unique per call). */
  displayId?: string;
  /** Keep the curves in the final state (default false: the chapter shows them after training). */
  keepCurves?: boolean;
  /** Least milliseconds between two updates within an epoch (default 500). */
  minIntervalMs?: number;
}

let serial = 0;

/** The loss and accuracy curves (train and validation) so far, side by side. */
export function liveCurves(s: ProgressSnapshot): string {
  if (s.history.length === 0) return "";
  const loss = s.history.map((h) => ({ epoch: h.epoch, train: h.loss, val: h.valLoss }));
  const acc = s.history.map((h) => ({ epoch: h.epoch, train: h.accuracy, val: h.valAccuracy }));
  const opts = { width: 300, height: 180 };
  // Not counted as one of the chapter's charts (the report counts class "xr-chart").
  const charts = [trainingCurve(loss, "loss", opts), trainingCurve(acc, "accuracy", opts)]
    .map((c) => c.replace('class="xr-chart"', 'class="xr-live-chart"'));
  return `<div style="display:flex;gap:1em;flex-wrap:wrap">${charts.join("")}</div>`;
}

/** The status part of the display: run, epoch, batches, speed, ETAs, as HTML. */
export function liveStatusHtml(s: ProgressSnapshot): string {
  const e = escapeHtml;
  if (s.phase === "done") {
    return `<p><b>${e(s.run)}</b>: ${e(progressLine(s).slice(s.run.length + 2))}</p>`;
  }
  const frac = s.phase === "epoch" ? 1 : s.batch / Math.max(1, s.batches);
  const parts = [
    `epoch ${s.epoch}/${s.maxEpochs}`,
    s.phase === "epoch" ? "epoch done" : `batch ${s.batch}/${s.batches}`,
    s.imagesPerSecond === null ? null : `${s.imagesPerSecond.toFixed(1)} images/s`,
    s.epochEtaS === null || s.phase === "epoch" ? null : `epoch ETA ${formatDuration(s.epochEtaS)}`,
    s.runEta ? `run ETA ${formatRunEta(s.runEta)}` : null,
  ].filter(Boolean);
  return `<p><b>${e(s.run)}</b> <code>${e(bar(frac))}</code> ${e(parts.join(" · "))}</p>`;
}

/**
 * A sink that shows the run in one display of the current cell (see the module doc). `jupyter`
 * defaults to the kernel's `Deno.jupyter`.
 */
export function liveTrainingDisplay(
  jupyter: JupyterDisplay,
  o: LiveDisplayOptions = {},
): ProgressSink {
  const id = o.displayId ?? `xray-training-${Date.now()}-${++serial}`;
  let shown = false;
  let curves = "";
  let curvesFor = -1;
  return {
    minIntervalMs: o.minIntervalMs ?? 500,
    async update(s) {
      // The curves are drawn once per finished epoch, not per batch.
      if (s.history.length !== curvesFor) {
        curves = liveCurves(s);
        curvesFor = s.history.length;
      }
      const html = liveStatusHtml(s) + (s.phase !== "done" || o.keepCurves ? curves : "");
      const bundle = { "text/html": html, "text/plain": progressLine(s) };
      await jupyter.display(bundle, { raw: true, update: shown, display_id: id });
      shown = true;
      // The kernel can publish after the cell's "idle" status, and nbconvert then drops the
      // message (lib/report/display.ts): let the final state go out before the cell ends.
      if (s.phase === "done") await new Promise((r) => setTimeout(r, FLUSH_MS));
    },
  };
}

/** The environment variable's value, or undefined without the permission or the variable. */
function envValue(name: string): string | undefined {
  try {
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined;
  }
}

/**
 * The progress sink of a chapter's training: the live display inside a Jupyter kernel, and the
 * report's progress file when the report named one ({@link PROGRESS_FILE_ENV}); null when
 * neither applies (plain lines only).
 */
export function notebookProgress(): ProgressSink | null {
  const jupyter = jupyterApi() as JupyterDisplay | null;
  const file = envValue(PROGRESS_FILE_ENV);
  return combineSinks(
    jupyter?.display ? liveTrainingDisplay(jupyter) : null,
    file ? progressFileSink(file) : null,
  );
}
