/**
 * Line charts: per-epoch training curves (train vs validation) and ROC / precision-recall curves.
 * Series are labelled at their last point instead of a legend, so the output stays plain SVG.
 * @module
 */
import * as Plot from "@observablehq/plot";
import { type ChartFrame, COLORS, frame, plotSvg } from "./_render.ts";

/** One named series of (x, y) points. */
export interface Series {
  name: string;
  points: { x: number; y: number }[];
  /** CSS colour; default from a fixed palette. */
  color?: string;
  /** Dashed line (e.g. a chance diagonal). */
  dashed?: boolean;
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
}

/**
 * A grey dashed reference segment from (0, y0) to (1, y1) for charts on a [0, 1] x axis: the
 * chance diagonal (0, 1), perfect calibration (0, 1), a baseline or a target level (y, y).
 */
export function referenceLine(name: string, y0: number, y1: number = y0): Series {
  return { name, points: [{ x: 0, y: y0 }, { x: 1, y: y1 }], color: "#999", dashed: true };
}

const PALETTE = ["#4269d0", "#ff725c", "#3ca951", "#efb118", "#6cc5b0", "#a463f2", "#9c6b4e"];

/** A multi-series line chart, each series named at its end, as an SVG figure. */
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
  marks.push(Plot.text(
    rows,
    Plot.selectLast({
      x: "x",
      y: "y",
      z: "name",
      text: "name",
      fill: (r: (typeof rows)[number]) => r.color,
      dx: 6,
      textAnchor: "start",
    }),
  ));
  const svg = plotSvg({
    width,
    height: opts.height ?? (opts.square ? width - 60 : 300),
    marginRight: 90,
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
  return frame("line", svg, opts);
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
    name: c.auc !== undefined ? `${c.name} (AUC ${c.auc.toFixed(3)})` : c.name,
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
    name: c.ap !== undefined ? `${c.name} (AP ${c.ap.toFixed(3)})` : c.name,
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
