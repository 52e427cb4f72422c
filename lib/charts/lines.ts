/**
 * Line charts: per-epoch training curves (train vs validation) and ROC / precision-recall curves.
 * Series are named in a legend above the plot area (HTML, outside the SVG), so names never sit on
 * the curves or on each other; marked points (an operating point) and vertical rules (the kept
 * epoch) are named there too.
 * @module
 */
import * as Plot from "@observablehq/plot";
import { type ChartFrame, COLORS, escapeHtml, frame, plotSvg } from "./_render.ts";
import { formatMetric } from "../metrics/format.ts";

/** One named series of (x, y) points. */
export interface Series {
  name: string;
  points: { x: number; y: number }[];
  /** CSS colour; default from a fixed palette. */
  color?: string;
  /** Dashed line (e.g. a chance diagonal). */
  dashed?: boolean;
  /** Leave out of the legend (a second line already named by another entry). */
  unlisted?: boolean;
}

/** Options of {@link lineChart}. */
export interface LineOptions extends ChartFrame {
  xLabel?: string;
  yLabel?: string;
  xDomain?: [number, number];
  yDomain?: [number, number];
  /** Draw a dot on every point (default: when a series has at most 60 points). */
  dots?: boolean;
  /** Square plot area (ROC / PR curves). */
  square?: boolean;
  /** Explicit x tick values (e.g. every epoch). */
  xTicks?: number[];
  /** Points to mark with a ringed dot (e.g. the operating point on a ROC curve). */
  marked?: MarkedPoint[];
  /** Vertical dashed rules (e.g. the kept epoch). */
  rules?: { x: number; name: string }[];
}

/** A point marked on a line chart and named in its legend. */
export interface MarkedPoint {
  x: number;
  y: number;
  /** Legend text, e.g. "operating point: threshold 0.61 (validation sensitivity >= 0.95)". */
  name: string;
  color?: string;
}

/** One legend entry: a line swatch (dashed or not), a ringed dot or a rule. */
export interface LegendEntry {
  name: string;
  color: string;
  kind: "line" | "dashed" | "point" | "rule";
}

/** A legend as HTML (a row of swatches with names), shown above a chart's plot area. */
export function legendHtml(entries: LegendEntry[]): string {
  const swatch = (e: LegendEntry) => {
    const c = escapeHtml(e.color);
    if (e.kind === "point") {
      return `<svg width="14" height="12" aria-hidden="true"><circle cx="7" cy="6" r="4" ` +
        `fill="white" stroke="${c}" stroke-width="2.5"/></svg>`;
    }
    if (e.kind === "rule") {
      return `<svg width="10" height="12" aria-hidden="true"><line x1="5" y1="0" x2="5" y2="12" ` +
        `stroke="${c}" stroke-width="1.5" stroke-dasharray="3,2"/></svg>`;
    }
    return `<svg width="20" height="12" aria-hidden="true"><line x1="0" y1="6" x2="20" y2="6" ` +
      `stroke="${c}" stroke-width="2.5"${
        e.kind === "dashed" ? ' stroke-dasharray="4,3"' : ""
      }/></svg>`;
  };
  return `<div class="xr-legend" style="font:12px system-ui,sans-serif;display:flex;` +
    `flex-wrap:wrap;gap:2px 14px;margin:2px 0 4px">` +
    entries.map((e) =>
      `<span style="display:inline-flex;align-items:center;gap:4px">${swatch(e)}` +
      `${escapeHtml(e.name)}</span>`
    ).join("") + `</div>`;
}

/**
 * A grey dashed reference segment from (0, y0) to (1, y1) for charts on a [0, 1] x axis: the
 * chance diagonal (0, 1), perfect calibration (0, 1), a baseline or a target level (y, y).
 */
export function referenceLine(name: string, y0: number, y1: number = y0): Series {
  return { name, points: [{ x: 0, y: y0 }, { x: 1, y: y1 }], color: "#999", dashed: true };
}

const PALETTE = ["#4269d0", "#ff725c", "#3ca951", "#efb118", "#6cc5b0", "#a463f2", "#9c6b4e"];

/** A multi-series line chart with its legend above the plot, as an SVG figure. */
export function lineChart(series: Series[], opts: LineOptions = {}): string {
  const rows = series.flatMap((s, i) =>
    s.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y)).map((p) => ({
      ...p,
      name: s.name,
      color: s.color ?? PALETTE[i % PALETTE.length],
      dashed: s.dashed ?? false,
    }))
  );
  if (rows.length === 0) throw new Error("lineChart: no finite points to draw");
  const dots = opts.dots ?? series.every((s) => s.points.length <= 60);
  const width = opts.width ?? (opts.square ? 420 : 640);
  const marks: Plot.Markish[] = [];
  for (const dashed of [false, true]) {
    const part = rows.filter((r) => r.dashed === dashed);
    if (part.length === 0) continue;
    marks.push(Plot.line(part, {
      x: "x",
      y: "y",
      z: "name",
      stroke: (r: (typeof rows)[number]) => r.color,
      strokeWidth: 2,
      strokeDasharray: dashed ? "4,3" : undefined,
    }));
  }
  if (dots) marks.push(Plot.dot(rows, { x: "x", y: "y", fill: (r) => r.color, r: 2.5 }));
  const rules = opts.rules ?? [];
  if (rules.length) {
    marks.push(Plot.ruleX(rules, { x: "x", stroke: "#555", strokeDasharray: "3,2" }));
  }
  const marked = (opts.marked ?? []).map((m, i) => ({
    ...m,
    color: m.color ?? PALETTE[i % PALETTE.length],
  }));
  if (marked.length) {
    marks.push(Plot.dot(marked, {
      x: "x",
      y: "y",
      r: 5,
      fill: "white",
      stroke: (m: (typeof marked)[number]) => m.color,
      strokeWidth: 2.5,
    }));
  }
  const legend: LegendEntry[] = [
    ...series.map((s, i) => ({
      name: s.name,
      color: s.color ?? PALETTE[i % PALETTE.length],
      kind: s.dashed ? "dashed" as const : "line" as const,
    })).filter((e, i) => !series[i].unlisted && rows.some((r) => r.name === e.name)),
    ...rules.map((r) => ({ name: r.name, color: "#555", kind: "rule" as const })),
    ...marked.map((m) => ({ name: m.name, color: m.color, kind: "point" as const })),
  ];
  const svg = plotSvg({
    width,
    height: opts.height ?? (opts.square ? width - 40 : 300),
    marginRight: 20,
    x: {
      label: opts.xLabel ?? null,
      domain: opts.xDomain,
      grid: true,
      ticks: opts.xTicks,
      tickFormat: opts.xTicks ? "d" : undefined,
    },
    y: { label: opts.yLabel ?? null, domain: opts.yDomain, grid: true },
    marks,
  });
  return frame("line", legendHtml(legend) + svg, opts);
}

/** One epoch of a training history: metric values for train and validation. */
export interface EpochPoint {
  epoch: number;
  train?: number;
  val?: number;
}

/**
 * Train and validation curves of one metric per epoch (the Keras notebook's `history` plots).
 * Values absent or non-finite are skipped.
 */
export function trainingCurve(
  points: EpochPoint[],
  metric: string,
  opts: LineOptions = {},
): string {
  const pick = (k: "train" | "val") =>
    points.filter((p) => p[k] !== undefined).map((p) => ({ x: p.epoch, y: p[k] as number }));
  const series: Series[] = [
    { name: "train", points: pick("train"), color: COLORS.train },
    { name: "validation", points: pick("val"), color: COLORS.val },
  ].filter((s) => s.points.length > 0);
  const bounded = !/loss/i.test(metric);
  const epochs = [...new Set(points.map((p) => p.epoch))].sort((a, b) => a - b);
  return lineChart(series, {
    xLabel: "epoch",
    xTicks: epochs.length <= 12 ? epochs : undefined,
    yLabel: metric,
    yDomain: bounded ? [0, 1] : undefined,
    title: opts.title ?? metric,
    width: opts.width ?? 320,
    height: opts.height ?? 220,
    ...opts,
  });
}

/** A ROC curve per model (false positive rate vs true positive rate) with the chance diagonal. */
export function rocChart(
  curves: { name: string; fpr: number[]; tpr: number[]; auc?: number }[],
  opts: LineOptions = {},
): string {
  const series: Series[] = curves.map((c) => ({
    name: c.auc !== undefined ? `${c.name} (AUC ${formatMetric(c.auc)})` : c.name,
    points: c.fpr.map((x, i) => ({ x, y: c.tpr[i] })),
  }));
  series.push(referenceLine("chance", 0, 1));
  return lineChart(series, {
    xLabel: "false positive rate (1 - specificity)",
    yLabel: "true positive rate (sensitivity)",
    xDomain: [0, 1],
    yDomain: [0, 1],
    square: true,
    dots: false,
    ...opts,
  });
}

/** A precision-recall curve per model, optionally with the prevalence baseline. */
export function prChart(
  curves: { name: string; recall: number[]; precision: number[]; ap?: number }[],
  opts: LineOptions & { prevalence?: number } = {},
): string {
  const series: Series[] = curves.map((c) => ({
    name: c.ap !== undefined ? `${c.name} (AP ${formatMetric(c.ap)})` : c.name,
    points: c.recall.map((x, i) => ({ x, y: c.precision[i] })),
  }));
  if (opts.prevalence !== undefined) {
    series.push(referenceLine("prevalence", opts.prevalence));
  }
  return lineChart(series, {
    xLabel: "recall (sensitivity)",
    yLabel: "precision",
    xDomain: [0, 1],
    yDomain: [0, 1],
    square: true,
    dots: false,
    ...opts,
  });
}
