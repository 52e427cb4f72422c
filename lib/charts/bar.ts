/**
 * Bar charts with the value printed on each bar: class distributions, metric bars. Bars may carry
 * a 95% interval (`lo`, `hi`), drawn as a black whisker with the value printed past its end.
 * @module
 */
import * as Plot from "@observablehq/plot";
import { type ChartFrame, COLORS, fmtNumber, frame, plotSvg } from "./_render.ts";
import { legendHtml } from "./lines.ts";

/** One bar: a category label and its value; `group` colours bars of the same group alike. */
export interface Bar {
  label: string;
  value: number;
  group?: string;
  /** Lower end of the bar's interval (drawn when both ends are finite). */
  lo?: number;
  /** Upper end of the bar's interval. */
  hi?: number;
}

const hasInterval = (b: { lo?: number; hi?: number }) =>
  Number.isFinite(b.lo) && Number.isFinite(b.hi);
/** Where a bar's value label goes: past the interval's end when there is one. */
const labelAt = (b: { value: number; hi?: number }) =>
  Number.isFinite(b.hi) ? Math.max(b.value, b.hi as number) : b.value;

/** Options of {@link barChart}. */
export interface BarOptions extends ChartFrame {
  /** Axis label of the values. */
  valueLabel?: string;
  /** Axis label of the categories. */
  categoryLabel?: string;
  /** Decimals of the printed values (integers are printed as is). */
  digits?: number;
  /** Upper end of the value axis (e.g. 1 for metrics); default: from the data. */
  max?: number;
  /** Horizontal bars (categories on the y axis); default vertical. */
  horizontal?: boolean;
  /** Colour per group; bars without a group use one colour. */
  colors?: Record<string, string>;
}

/** A bar chart with each bar's value written on it, as an SVG figure (HTML string). */
export function barChart(bars: Bar[], opts: BarOptions = {}): string {
  if (bars.length === 0) throw new Error("barChart: no bars to draw");
  const digits = opts.digits ?? 3;
  const domain = bars.map((b) => b.label);
  const fill = (b: Bar) =>
    b.group !== undefined ? (opts.colors?.[b.group] ?? COLORS.bar) : COLORS.bar;
  const text = (b: Bar) => fmtNumber(b.value, digits);
  const top = Math.max(...bars.map(labelAt));
  const valueDomain = [0, Math.max(opts.max ?? 0, top * 1.14)];
  const iv = bars.filter(hasInterval);
  const svg = opts.horizontal
    ? plotSvg({
      width: opts.width ?? 640,
      height: opts.height ?? Math.max(120, 32 * bars.length + 50),
      marginLeft: 120,
      x: { label: opts.valueLabel ?? null, domain: valueDomain, grid: true },
      y: { label: opts.categoryLabel ?? null, domain },
      marks: [
        Plot.barX(bars, { y: "label", x: "value", fill }),
        Plot.tickX(iv, { y: "label", x: "lo", stroke: "#222", inset: 8 }),
        Plot.tickX(iv, { y: "label", x: "hi", stroke: "#222", inset: 8 }),
        Plot.link(iv, { y1: "label", y2: "label", x1: "lo", x2: "hi", stroke: "#222" }),
        Plot.text(bars, { y: "label", x: labelAt, text, dx: 4, textAnchor: "start" }),
        Plot.ruleX([0]),
      ],
    })
    : plotSvg({
      width: opts.width ?? 640,
      height: opts.height ?? 360,
      x: { label: opts.categoryLabel ?? null, domain, padding: 0.2 },
      y: { label: opts.valueLabel ?? null, domain: valueDomain, grid: true },
      marks: [
        Plot.barY(bars, { x: "label", y: "value", fill }),
        Plot.ruleX(iv, { x: "label", y1: "lo", y2: "hi", stroke: "#222" }),
        Plot.text(bars, { x: "label", y: labelAt, text, dy: -6, lineAnchor: "bottom" }),
        Plot.ruleY([0]),
      ],
    });
  return frame("bar", svg, opts);
}

/**
 * Metric bars (accuracy, sensitivity, ...) on a 0-1 axis with their values, as in the original's
 * final evaluation chart.
 */
export function metricBars(metrics: Record<string, number>, opts: BarOptions = {}): string {
  const bars = Object.entries(metrics).map(([label, value]) => ({ label, value }));
  return barChart(bars, { max: 1.08, digits: 3, valueLabel: "value", ...opts });
}

/** One bar of a grouped chart: `series` within `group` (e.g. balance mode within a metric). */
export interface GroupedBar {
  group: string;
  series: string;
  value: number;
  /** 95% interval, drawn as a whisker when both ends are finite. */
  lo?: number;
  hi?: number;
}

/**
 * Grouped bars (one facet per group, one coloured bar per series, values written on the bars);
 * the series are named by colour in a legend above the plot, so no labels crowd under the bars.
 */
export function groupedBarChart(bars: GroupedBar[], opts: BarOptions = {}): string {
  if (bars.length === 0) throw new Error("groupedBarChart: no bars to draw");
  const groups = [...new Set(bars.map((b) => b.group))];
  const series = [...new Set(bars.map((b) => b.series))];
  const palette = ["#4269d0", "#efb118", "#ff725c", "#6cc5b0", "#3ca951", "#a463f2"];
  const color = (s: string) => opts.colors?.[s] ?? palette[series.indexOf(s) % palette.length];
  const digits = opts.digits ?? 3;
  const max = Math.max(opts.max ?? 0, Math.max(...bars.map(labelAt)) * 1.15);
  const iv = bars.filter(hasInterval);
  // At most ~900 px wide (the report's column); bars get narrower, labels smaller, not the page wider.
  const perBar = Math.max(26, Math.min(46, Math.floor(820 / (groups.length * series.length))));
  const svg = plotSvg({
    width: opts.width ?? Math.max(480, groups.length * series.length * perBar + 80),
    height: opts.height ?? 340,
    marginBottom: 20,
    fx: { label: opts.categoryLabel ?? null, domain: groups, padding: 0.12, axis: "bottom" },
    x: { domain: series, label: null, axis: null },
    y: { label: opts.valueLabel ?? null, domain: [0, max], grid: true },
    marks: [
      Plot.barY(bars, {
        fx: "group",
        x: "series",
        y: "value",
        fill: (b: GroupedBar) => color(b.series),
      }),
      Plot.ruleX(iv, { fx: "group", x: "series", y1: "lo", y2: "hi", stroke: "#222" }),
      Plot.text(bars, {
        fx: "group",
        x: "series",
        y: labelAt,
        text: (b: GroupedBar) => fmtNumber(b.value, digits),
        dy: -5,
        lineAnchor: "bottom",
        fontSize: perBar < 34 ? 8 : 9,
      }),
      Plot.ruleY([0]),
    ],
  });
  const legend = legendHtml(
    series.map((s) => ({ name: s, color: color(s), kind: "line" as const })),
  );
  return frame("bar", legend + svg, opts);
}
