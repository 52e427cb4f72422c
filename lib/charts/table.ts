/**
 * Tables as HTML: a polars DataFrame (or plain rows) rendered with fixed decimals, for notebooks
 * and the report.
 * @module
 */
import type pl from "nodejs-polars";
import { escapeHtml } from "./_render.ts";

/** Options of {@link tableHtml}. */
export interface TableOptions {
  /** Decimals of non-integer numbers (default 3). */
  digits?: number;
  /** Caption above the table. */
  caption?: string;
  /** Columns to bold the row maximum / minimum of, e.g. to mark the best model. */
  highlight?: { column: string; best: "max" | "min" }[];
  /** Largest number of rows shown (default 200); the rest are summarised in a note. */
  maxRows?: number;
  /**
   * Text columns whose cells may wrap at spaces (cells do not wrap by default), so that a long
   * description or an interval does not push the figures beside it out of the report's column.
   */
  wrap?: string[];
}

/** What an undefined number (NaN) says in a table cell, with the reason on hover. */
export const NOT_AVAILABLE = '<span title="undefined: the metric needs cases this data does ' +
  'not have (for example no positive prediction, or one class only)">n/a</span>';

function cell(v: unknown, digits: number): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "number") {
    if (Number.isNaN(v)) return NOT_AVAILABLE;
    if (!Number.isFinite(v)) return v > 0 ? "∞" : "-∞";
    return Number.isInteger(v) ? String(v) : v.toFixed(digits);
  }
  if (typeof v === "bigint") return v.toString();
  if (Array.isArray(v)) return escapeHtml(JSON.stringify(v));
  if (typeof v === "object") return escapeHtml(JSON.stringify(v));
  return escapeHtml(String(v));
}

/** Plain rows (array of objects, same keys) as an HTML table (`class="xr-table"`). */
export function rowsToHtml(rows: Record<string, unknown>[], opts: TableOptions = {}): string {
  const digits = opts.digits ?? 3;
  const maxRows = opts.maxRows ?? 200;
  const columns = rows.length > 0 ? Object.keys(rows[0]) : [];
  const wrap = new Set(opts.wrap ?? []);
  const best = new Map<string, number>();
  for (const h of opts.highlight ?? []) {
    const vals = rows.map((r) => r[h.column]).filter((v): v is number => typeof v === "number");
    if (vals.length) best.set(h.column, h.best === "max" ? Math.max(...vals) : Math.min(...vals));
  }
  const head = columns.map((c) => `<th>${escapeHtml(c)}</th>`).join("");
  const body = rows.slice(0, maxRows).map((r) =>
    "<tr>" + columns.map((c) => {
      const v = r[c];
      const text = cell(v, digits);
      const numeric = typeof v === "number" || typeof v === "bigint";
      const style = numeric
        ? ' style="text-align:right"'
        : wrap.has(c)
        ? ' style="white-space:normal;min-width:7em"'
        : "";
      return best.has(c) && v === best.get(c)
        ? `<td${style}><b>${text}</b></td>`
        : `<td${style}>${text}</td>`;
    }).join("") + "</tr>"
  ).join("");
  const hasNaN = rows.slice(0, maxRows).some((r) => columns.some((c) => Number.isNaN(r[c])));
  const more =
    (rows.length > maxRows
      ? `<p class="xr-caption">${rows.length - maxRows} more rows not shown</p>`
      : "") +
    (hasNaN
      ? '<p class="xr-caption">n/a: the metric is undefined on these images (for example ' +
        "precision with no positive prediction, or AUC with one class only).</p>"
      : "");
  const caption = opts.caption ? `<caption>${escapeHtml(opts.caption)}</caption>` : "";
  return `<div class="xr-table-wrap" style="overflow-x:auto"><table class="xr-table" ` +
    `style="border-collapse:collapse;font:12px system-ui,sans-serif">${caption}` +
    `<thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>${more}</div>`;
}

/** A polars DataFrame as an HTML table (numbers with `digits` decimals). */
export function tableHtml(df: pl.DataFrame, opts: TableOptions = {}): string {
  return rowsToHtml(df.toRecords() as Record<string, unknown>[], opts);
}
