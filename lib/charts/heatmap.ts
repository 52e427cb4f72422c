/**
 * Confusion-matrix heatmaps with the count (and row share) written in each cell.
 * @module
 */
import * as Plot from "@observablehq/plot";
import { type ChartFrame, frame, plotSvg } from "./_render.ts";

/** Binary confusion counts as returned by the metrics module. */
export interface ConfusionCounts {
  tn: number;
  fp: number;
  fn: number;
  tp: number;
}

/**
 * A heatmap of a confusion matrix: `matrix[i][j]` = images of true class `labels[i]` predicted as
 * `labels[j]`. Each cell shows the count and its share of the true class (row).
 */
export function confusionHeatmap(
  matrix: number[][],
  labels: string[],
  opts: ChartFrame = {},
): string {
  if (matrix.length !== labels.length || matrix.some((r) => r.length !== labels.length)) {
    throw new Error(
      `confusionHeatmap: matrix is ${matrix.length}x${matrix[0]?.length ?? 0}, expected ` +
        `${labels.length}x${labels.length} for labels ${labels.join(", ")}`,
    );
  }
  const cells = matrix.flatMap((row, i) => {
    const total = row.reduce((a, b) => a + b, 0);
    return row.map((count, j) => ({
      actual: labels[i],
      predicted: labels[j],
      count,
      share: total > 0 ? count / total : 0,
    }));
  });
  const max = Math.max(1, ...cells.map((c) => c.count));
  const size = opts.width ?? 140 * labels.length + 130;
  const svg = plotSvg({
    width: size,
    height: opts.height ?? 120 * labels.length + 70,
    marginLeft: 110,
    marginBottom: 45,
    padding: 0.04,
    x: { label: "predicted", domain: labels, axis: "bottom" },
    y: { label: "actual", domain: labels },
    color: { type: "linear", domain: [0, max], range: ["#f4f7fb", "#2b5797"] },
    marks: [
      Plot.cell(cells, { x: "predicted", y: "actual", fill: "count" }),
      Plot.text(cells, {
        x: "predicted",
        y: "actual",
        text: (c: (typeof cells)[number]) => `${c.count}\n${(100 * c.share).toFixed(1)}%`,
        fill: (c: (typeof cells)[number]) => (c.count > max * 0.55 ? "white" : "black"),
        fontSize: 13,
      }),
    ],
  });
  return frame("confusion", svg, opts);
}

/** The binary confusion heatmap (rows NORMAL, PNEUMONIA) from `{tn, fp, fn, tp}`. */
export function binaryConfusionHeatmap(c: ConfusionCounts, opts: ChartFrame = {}): string {
  return confusionHeatmap([[c.tn, c.fp], [c.fn, c.tp]], ["NORMAL", "PNEUMONIA"], opts);
}
