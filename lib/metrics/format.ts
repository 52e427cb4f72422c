/**
 * Metric values as text, one way everywhere: training log lines, markdown and HTML tables,
 * captions. An undefined metric (NaN: precision with no positive prediction, AUC with one class)
 * is written `n/a`, never `NaN`.
 * @module
 */

/** What an undefined metric (NaN) is written as in any text the project prints. */
export const UNDEFINED_METRIC = "n/a";

/**
 * `v` with `digits` decimals; NaN as {@link UNDEFINED_METRIC}, infinities as "∞" / "-∞". A null
 * counts as NaN: JSON files (summary.json) store an undefined metric as null.
 *
 * ```ts
 * import { formatMetric } from "./format.ts";
 * formatMetric(0.91234); // "0.912"
 * formatMetric(NaN, 4); // "n/a"
 * ```
 */
export function formatMetric(v: number | null | undefined, digits = 3): string {
  if (v === null || v === undefined || Number.isNaN(v)) return UNDEFINED_METRIC;
  if (!Number.isFinite(v)) return v > 0 ? "∞" : "-∞";
  return v.toFixed(digits);
}

/** A change with its sign: "+0.012", "-0.010"; NaN as {@link UNDEFINED_METRIC}. */
export function formatSigned(v: number | null | undefined, digits = 3): string {
  const s = formatMetric(v, digits);
  return typeof v === "number" && Number.isFinite(v) && v >= 0 ? `+${s}` : s;
}

/** A share as a percentage: `formatPercent(0.1234, 1)` is "12.3%"; NaN as {@link UNDEFINED_METRIC}. */
export function formatPercent(share: number | null | undefined, digits = 0): string {
  return typeof share === "number" && Number.isFinite(share)
    ? `${(100 * share).toFixed(digits)}%`
    : formatMetric(share);
}
