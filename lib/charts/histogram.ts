/**
 * Histograms, one or several overlaid (e.g. pixel intensities of a normal and a pneumonia image).
 * @module
 */
import * as Plot from "@observablehq/plot";
import { type ChartFrame, frame, plotSvg } from "./_render.ts";
import { legendHtml } from "./lines.ts";

/** One distribution to bin. */
export interface HistSeries {
  name: string;
  values: ArrayLike<number>;
  color?: string;
}

/** Options of {@link histogram}. */
export interface HistogramOptions extends ChartFrame {
  /** Number of bins (default 32). */
  bins?: number;
  /** Range of the bins (default: from the data). */
  domain?: [number, number];
  xLabel?: string;
  /** Plot shares of each series instead of counts (default true when several series). */
  normalize?: boolean;
  /** Vertical dashed reference lines (e.g. a baseline value), named in the legend. */
  rules?: { x: number; name: string }[];
}

const PALETTE = ["#4269d0", "#ff725c", "#3ca951", "#efb118"];

/**
 * Histogram(s) binned here (equal-width bins over `domain`) and drawn as Plot rect marks; several
 * series are drawn as step outlines over each other so that both stay visible.
 */
export function histogram(
  series: HistSeries[],
  opts: HistogramOptions = {},
): string {
  if (series.length === 0) throw new Error("histogram: no series");
  const nBins = opts.bins ?? 32;
  let lo = Infinity, hi = -Infinity;
  for (const s of series) {
    for (let i = 0; i < s.values.length; i++) {
      const v = s.values[i];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  if (opts.domain) [lo, hi] = opts.domain;
  if (!(hi > lo)) hi = lo + 1;
  const width = (hi - lo) / nBins;
  const normalize = opts.normalize ?? series.length > 1;
  const rows = series.flatMap((s, si) => {
    const counts = new Array(nBins).fill(0);
    let n = 0;
    for (let i = 0; i < s.values.length; i++) {
      const v = s.values[i];
      if (!(v >= lo && v <= hi)) continue;
      counts[Math.min(nBins - 1, Math.floor((v - lo) / width))]++;
      n++;
    }
    return counts.map((c, b) => ({
      name: s.name,
      color: s.color ?? PALETTE[si % PALETTE.length],
      x1: lo + b * width,
      x2: lo + (b + 1) * width,
      y: normalize && n > 0 ? c / n : c,
    }));
  });
  type Row = (typeof rows)[number];
  const single = series.length === 1;
  // One series: solid bars; several: translucent bars under each series' outline.
  const marks: Plot.Markish[] = [
    Plot.rectY(rows, {
      x1: "x1",
      x2: "x2",
      y1: 0,
      y2: "y",
      fill: (r: Row) => r.color,
      ...(single ? { inset: 0.5 } : { fillOpacity: 0.35 }),
    }),
  ];
  if (!single) {
    marks.push(
      Plot.line(rows.flatMap((r) => [{ ...r, x: r.x1 }, { ...r, x: r.x2 }]), {
        x: "x",
        y: "y",
        z: "name",
        stroke: (r: Row) => r.color,
        strokeWidth: 1.5,
      }),
    );
  }
  marks.push(Plot.ruleY([0]));
  const rules = opts.rules ?? [];
  if (rules.length) {
    marks.push(
      Plot.ruleX(rules, { x: "x", stroke: "#333", strokeDasharray: "4,3" }),
    );
  }
  const svg = plotSvg({
    width: opts.width ?? 640,
    height: opts.height ?? 260,
    x: { label: opts.xLabel ?? null, domain: [lo, hi] },
    y: { label: normalize ? "share of pixels" : "count", grid: true },
    marks,
  });
  // Several series and reference lines: named in a legend above the plot (outside it, so never
  // over the bars).
  const entries = [
    ...(single ? [] : series.map((s, i) => ({
      name: s.name,
      color: s.color ?? PALETTE[i % PALETTE.length],
      kind: "line" as const,
    }))),
    ...rules.map((r) => ({
      name: r.name,
      color: "#333",
      kind: "rule" as const,
    })),
  ];
  const legend = entries.length ? legendHtml(entries) : "";
  return frame("histogram", legend + svg, opts);
}
