/**
 * Training curves of one run as small multiples: one small chart per metric (loss, accuracy,
 * recall, precision, F1) side by side, train and validation in each, the kept epoch marked by a
 * dashed rule, and each y axis zoomed to its own data so that small changes are visible. One
 * legend above the row names the lines.
 * @module
 */
import * as Plot from "@observablehq/plot";
import { COLORS, escapeHtml, frame, plotSvg } from "./_render.ts";
import { legendHtml } from "./lines.ts";

/** One epoch of a run: metric values of train and validation. */
export interface GridEpoch {
  epoch: number;
  train: Record<string, number>;
  val: Record<string, number>;
}

/** Options of {@link trainingGrid}. */
export interface TrainingGridOptions {
  /** Heading above the row (e.g. the run's name). */
  title?: string;
  caption?: string;
  /** Metrics to draw, in order (default loss, accuracy, recall, precision, F1). */
  metrics?: string[];
  /** The epoch whose weights were kept (marked in every panel). */
  keptEpoch?: number;
  /** Width of each panel in px (default 178: five panels fit a 940 px column). */
  panelWidth?: number;
  panelHeight?: number;
}

/**
 * The y range of a panel: the data's range padded by 8% (at least 0.02 wide), kept inside [0, 1]
 * for bounded metrics, so that a curve moving from 0.93 to 0.96 does not look flat.
 */
export function zoomedDomain(values: number[], bounded: boolean): [number, number] {
  const v = values.filter((x) => Number.isFinite(x));
  if (v.length === 0) return bounded ? [0, 1] : [0, 1];
  let lo = Math.min(...v), hi = Math.max(...v);
  const span = Math.max(hi - lo, 0.02);
  lo -= 0.08 * span;
  hi += 0.08 * span;
  if (hi - lo < 0.02) [lo, hi] = [lo - 0.01, hi + 0.01];
  if (bounded) [lo, hi] = [Math.max(0, lo), Math.min(1, hi)];
  if (!bounded && Math.min(...v) >= 0) lo = Math.max(0, lo);
  return [lo, hi];
}

/** The five curves of a run as one row of small charts (`data-chart="training-curves"`). */
export function trainingGrid(epochs: GridEpoch[], opts: TrainingGridOptions = {}): string {
  if (epochs.length === 0) throw new Error("trainingGrid: no epochs to draw");
  const metrics = opts.metrics ?? ["loss", "accuracy", "recall", "precision", "f1"];
  const width = opts.panelWidth ?? 178, height = opts.panelHeight ?? 150;
  const ticks = [...new Set(epochs.map((e) => e.epoch))].sort((a, b) => a - b);
  const panels = metrics.map((m) => {
    const rows = epochs.flatMap((e) => [
      { epoch: e.epoch, value: e.train[m], series: "train" },
      { epoch: e.epoch, value: e.val[m], series: "validation" },
    ]).filter((r) => Number.isFinite(r.value));
    const color = (r: { series: string }) => (r.series === "train" ? COLORS.train : COLORS.val);
    const marks: Plot.Markish[] = [];
    if (opts.keptEpoch !== undefined) {
      marks.push(Plot.ruleX([opts.keptEpoch], { stroke: "#555", strokeDasharray: "3,2" }));
    }
    if (rows.length) {
      marks.push(
        Plot.line(rows, { x: "epoch", y: "value", z: "series", stroke: color, strokeWidth: 2 }),
        Plot.dot(rows, { x: "epoch", y: "value", fill: color, r: 2.5 }),
      );
    }
    const svg = plotSvg({
      width,
      height,
      marginLeft: 40,
      marginRight: 10,
      marginTop: 10,
      marginBottom: 30,
      x: {
        label: "epoch",
        domain: ticks.length > 1
          ? [ticks[0], ticks[ticks.length - 1]]
          : [ticks[0] - 1, ticks[0] + 1],
        ticks: ticks.length <= 8 ? ticks : 5,
        tickFormat: "d",
        grid: true,
      },
      y: {
        label: null,
        domain: zoomedDomain(rows.map((r) => r.value), !/loss/i.test(m)),
        grid: true,
        ticks: 4,
      },
      marks,
    });
    return `<div class="xr-panel" style="flex:none"><div style="font:600 12px system-ui,` +
      `sans-serif;text-align:center">${escapeHtml(m)}${
        rows.length ? "" : " (undefined: n/a)"
      }</div>${svg}</div>`;
  });
  const legend = legendHtml([
    { name: "train", color: COLORS.train, kind: "line" },
    { name: "validation", color: COLORS.val, kind: "line" },
    ...(opts.keptEpoch !== undefined
      ? [{ name: `kept epoch (${opts.keptEpoch})`, color: "#555", kind: "rule" as const }]
      : []),
  ]);
  const row = `<div class="xr-multiples" style="display:flex;flex-wrap:wrap;gap:4px">` +
    panels.join("") + `</div>`;
  return frame("training-curves", legend + row, { title: opts.title, caption: opts.caption });
}
