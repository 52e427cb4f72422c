/**
 * Server-side rendering of Observable Plot charts: Plot draws into a linkedom document (no
 * browser), and the SVG is returned as a string that notebooks and the HTML report embed inline.
 * @module
 */
import * as Plot from "@observablehq/plot";
import { parseHTML } from "linkedom";
import { formatMetric } from "../metrics/format.ts";

/** Options accepted by every chart: a title above the chart and a caption below. */
export interface ChartFrame {
  /** Heading shown above the chart (plain text, escaped). */
  title?: string;
  /** Note shown below the chart (plain text, escaped). */
  caption?: string;
  /** Width in px (default 640). */
  width?: number;
  /** Height in px (Plot's default when absent). */
  height?: number;
}

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

/**
 * Renders Plot options to a standalone SVG string. The options must not ask for a legend or a
 * title (those make Plot return an HTML figure); {@link frame} adds the title and caption.
 */
export function plotSvg(options: Plot.PlotOptions): string {
  const { document } = parseHTML("<!DOCTYPE html><html><head></head><body></body></html>");
  const el = Plot.plot({ ...options, document } as Plot.PlotOptions) as unknown as Element;
  if (el.tagName.toLowerCase() !== "svg") {
    throw new Error(`Plot returned <${el.tagName}> instead of <svg>: remove legend/title options`);
  }
  el.setAttribute("xmlns", "http://www.w3.org/2000/svg");
  return el.outerHTML;
}

/**
 * Wraps chart content (SVG or HTML) in `<figure class="xr-chart" data-chart=KIND>` with an
 * optional title and caption; the report counts charts by this class.
 */
export function frame(kind: string, content: string, f: ChartFrame = {}): string {
  const title = f.title ? `<figcaption class="xr-title">${escapeHtml(f.title)}</figcaption>` : "";
  const caption = f.caption ? `<p class="xr-caption">${escapeHtml(f.caption)}</p>` : "";
  return `<figure class="xr-chart" data-chart="${escapeHtml(kind)}" style="margin:0.5em 0">` +
    `${title}${content}${caption}</figure>`;
}

/** Fixed colours so that train/validation and the classes look the same in every chapter. */
export const COLORS = {
  train: "#4269d0",
  val: "#ff725c",
  NORMAL: "#3ca951",
  PNEUMONIA: "#ff8ab7",
  bar: "#4269d0",
} as const;

/** Number formatting for labels: integers as is, other numbers with `digits` decimals, NaN n/a. */
export function fmtNumber(v: number, digits = 3): string {
  return Number.isInteger(v) ? String(v) : formatMetric(v, digits);
}
