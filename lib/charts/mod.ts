/**
 * Charts and tables rendered server-side as HTML/SVG strings (Observable Plot + linkedom), for
 * notebooks (displayed with `lib/report/display.ts`) and the self-contained HTML report.
 *
 * @example
 * ```ts
 * import { barChart } from "./mod.ts";
 * const svg = barChart([{ label: "NORMAL", value: 1341 }, { label: "PNEUMONIA", value: 3875 }]);
 * ```
 * @module
 */
export { COLORS, escapeHtml, frame, plotSvg } from "./_render.ts";
export type { ChartFrame } from "./_render.ts";
export {
  type Bar,
  barChart,
  type BarOptions,
  type GroupedBar,
  groupedBarChart,
  metricBars,
} from "./bar.ts";
export {
  type EpochPoint,
  lineChart,
  type LineOptions,
  prChart,
  rocChart,
  type Series,
  trainingCurve,
} from "./lines.ts";
export {
  type DotInterval,
  dotIntervalChart,
  type DotIntervalOptions,
  zoomedDomain,
} from "./dot_intervals.ts";
export { binaryConfusionHeatmap, type ConfusionCounts, confusionHeatmap } from "./heatmap.ts";
export { histogram, type HistogramOptions, type HistSeries } from "./histogram.ts";
export { type GridImage, type GridOptions, imageGrid } from "./images.ts";
export { rowsToHtml, tableHtml, type TableOptions } from "./table.ts";
