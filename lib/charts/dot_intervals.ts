/**
 * Dot plots with 95% intervals on a zoomed axis: one row per item (a model, a balancing mode), a
 * dot at the estimate, a line from the interval's low to its high end and the value written
 * beside it. Where bars from 0 would draw six ROC-AUCs between 0.96 and 0.99 as six equal bars,
 * the zoomed axis shows which is ahead and the intervals whether the gap is larger than the
 * resampling noise. With `panel` set, one small plot per panel (a metric), each with its own
 * zoomed axis and the rows in the same order.
 * @module
 */
import * as Plot from "@observablehq/plot";
import { formatMetric } from "../metrics/format.ts";
import { type ChartFrame, COLORS, escapeHtml, frame, plotSvg } from "./_render.ts";

/** One row of a dot plot: the estimate and its interval (drawn when both ends are finite). */
export interface DotInterval {
  /** Row label (e.g. the run). */
  label: string;
  /** The estimate; NaN (undefined) is written n/a and drawn as nothing. */
  estimate: number;
  lo?: number;
  hi?: number;
  /** Which small plot the row belongs to (e.g. the metric); one plot when absent. */
  panel?: string;
}

/** Options of {@link dotIntervalChart}. */
export interface DotIntervalOptions extends ChartFrame {
  /** Axis label of the values (each panel's name is added before it). */
  valueLabel?: string;
  /** Decimals of the printed estimates (default 3). */
  digits?: number;
  /** Limits the zoomed axis never goes past, e.g. [0, 1] for metrics. */
  bounds?: [number, number];
  /** Smallest axis span, so that near-equal values are not blown up to fill the axis (0.02). */
  minSpan?: number;
  /** Width of each panel when there are several (default 290 px, three to a 900 px row). */
  panelWidth?: number;
}

const finite = (x: number | undefined): x is number => typeof x === "number" && Number.isFinite(x);
const hasInterval = (p: DotInterval) => finite(p.lo) && finite(p.hi);

/**
 * The zoomed axis of some rows: from the lowest to the highest estimate or interval end, padded,
 * at least `minSpan` wide, inside `bounds`.
 */
export function zoomedDomain(
  points: DotInterval[],
  opts: { bounds?: [number, number]; minSpan?: number } = {},
): [number, number] {
  const xs = points.flatMap((p) => [p.estimate, p.lo, p.hi]).filter(finite);
  const [b0, b1] = opts.bounds ?? [-Infinity, Infinity];
  if (xs.length === 0) return finite(b0) && finite(b1) ? [b0, b1] : [0, 1];
  let lo = Math.min(...xs), hi = Math.max(...xs);
  const minSpan = opts.minSpan ?? 0.02;
  if (hi - lo < minSpan) {
    const mid = (lo + hi) / 2;
    lo = mid - minSpan / 2, hi = mid + minSpan / 2;
  }
  const pad = 0.08 * (hi - lo);
  lo = Math.max(b0, lo - pad), hi = Math.min(b1, hi + pad);
  // A bound can push the span under minSpan again: extend on the other side.
  if (hi - lo < minSpan) {
    if (lo === b0) hi = Math.min(b1, lo + minSpan);
    else lo = Math.max(b0, hi - minSpan);
  }
  return [lo, hi];
}

/** One panel's SVG. */
function panelSvg(
  points: DotInterval[],
  labels: string[],
  opts: DotIntervalOptions,
  width: number,
  axisLabel: string | null,
): string {
  const digits = opts.digits ?? 3;
  const domain = zoomedDomain(points, opts);
  const longest = Math.max(...labels.map((l) => l.length));
  const undefinedRows = points.filter((p) => !finite(p.estimate));
  const textAt = (p: DotInterval) => (finite(p.hi) ? Math.max(p.estimate, p.hi) : p.estimate);
  return plotSvg({
    width,
    height: opts.height ?? 26 * labels.length + 46,
    marginLeft: Math.min(160, 12 + 6.5 * longest),
    // Room for the value written right of the highest interval end.
    marginRight: 14 + 7 * (digits + 2),
    x: { label: axisLabel, domain, grid: true, ticks: Math.max(3, Math.floor(width / 90)) },
    y: { label: null, domain: labels },
    marks: [
      Plot.ruleY(points.filter(hasInterval), {
        y: "label",
        x1: "lo",
        x2: "hi",
        stroke: "#222",
        strokeWidth: 1.5,
      }),
      Plot.dot(points.filter((p) => finite(p.estimate)), {
        y: "label",
        x: "estimate",
        r: 4.5,
        fill: COLORS.bar,
        stroke: "white",
      }),
      Plot.text(points.filter((p) => finite(p.estimate)), {
        y: "label",
        x: textAt,
        text: (p: DotInterval) => formatMetric(p.estimate, digits),
        dx: 7,
        textAnchor: "start",
      }),
      Plot.text(undefinedRows, {
        y: "label",
        x: () => domain[0],
        text: () => "n/a",
        dx: 4,
        textAnchor: "start",
      }),
    ],
  });
}

/**
 * A dot plot with 95% intervals on a zoomed axis, as an SVG figure (HTML string); with panels,
 * one small plot per panel side by side (wrapping), each with its own axis.
 */
export function dotIntervalChart(points: DotInterval[], opts: DotIntervalOptions = {}): string {
  if (points.length === 0) throw new Error("dotIntervalChart: no rows to draw");
  const labels = [...new Set(points.map((p) => p.label))];
  const panels = [...new Set(points.map((p) => p.panel ?? ""))];
  const axis = (panel: string) =>
    [panel, opts.valueLabel].filter((x) => x).join(", ") + " (axis zoomed)";
  if (panels.length === 1) {
    const svg = panelSvg(points, labels, opts, opts.width ?? 560, axis(panels[0]));
    return frame("dot-intervals", svg, opts);
  }
  const width = opts.panelWidth ?? 290;
  const body = panels.map((panel) => {
    const rows = points.filter((p) => (p.panel ?? "") === panel);
    return `<div class="xr-panel" style="display:inline-block;vertical-align:top;margin:0 8px ` +
      `6px 0"><div style="font:600 12px system-ui,sans-serif">${escapeHtml(panel)}</div>` +
      panelSvg(rows, labels, opts, width, opts.valueLabel ? `${opts.valueLabel} (zoomed)` : null) +
      "</div>";
  }).join("");
  return frame("dot-intervals", `<div style="max-width:100%">${body}</div>`, opts);
}
