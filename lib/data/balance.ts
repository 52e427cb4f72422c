/**
 * Class balance options for training: downsample the majority class, upsample the minority
 * class, or keep every record and weight the loss per class. All sampling is seeded.
 *
 * @example
 * ```ts
 * import { balance } from "./balance.ts";
 * const recs = [{ y: 0 as const }, { y: 1 as const }, { y: 1 as const }];
 * const { records, classWeights } = balance(recs, "weights", 42);
 * // records: all 3; classWeights: { 0: 1.5, 1: 0.75 } (n / (2 * n_c))
 * ```
 * @module
 */
import { makeRng, shuffle } from "../util/rng.ts";

/** How to balance: nothing, drop majority records, repeat minority records, or class weights. */
export type BalanceMode = "none" | "down" | "up" | "weights";

/** The balance modes, for CLI help and validation. */
export const BALANCE_MODES: readonly BalanceMode[] = ["none", "down", "up", "weights"] as const;

/** Per-class loss weights, keyed by `y`. */
export interface ClassWeights {
  0: number;
  1: number;
}

/** What {@link balance} returns. */
export interface Balanced<T> {
  /** The records to train on (see {@link balance} for the order). */
  records: T[];
  /** Loss weights for mode "weights"; null otherwise. */
  classWeights: ClassWeights | null;
}

/** Counts records per class. */
export function classCounts(records: readonly { y: 0 | 1 }[]): [number, number] {
  const c: [number, number] = [0, 0];
  for (const r of records) c[r.y]++;
  return c;
}

/**
 * Class weights `w_c = n / (2 * n_c)` (scikit-learn's "balanced"): each class then carries half
 * of the total loss. Throws when a class has no record.
 */
export function classWeights(records: readonly { y: 0 | 1 }[]): ClassWeights {
  const [n0, n1] = classCounts(records);
  if (n0 === 0 || n1 === 0) {
    throw new Error(`class weights need both classes; got ${n0} NORMAL and ${n1} PNEUMONIA`);
  }
  const n = n0 + n1;
  return { 0: n / (2 * n0), 1: n / (2 * n1) };
}

/**
 * Balances records by class `y`.
 * - `none`: all records, in order; no weights.
 * - `down`: all minority records plus a seeded sample, without replacement, of as many majority
 *   records; kept in input order.
 * - `up`: all records in input order, then extra minority records until the classes are equal:
 *   whole copies of the minority class, then a seeded sample without replacement for the rest.
 * - `weights`: all records, in order, and {@link classWeights}.
 *
 * `down` and `up` with equal counts return the records unchanged. They throw when a class is
 * empty, as does an unknown mode.
 */
export function balance<T extends { y: 0 | 1 }>(
  records: readonly T[],
  mode: BalanceMode,
  seed: number,
): Balanced<T> {
  if (!BALANCE_MODES.includes(mode)) {
    throw new Error(`unknown balance mode "${mode}"; expected one of ${BALANCE_MODES.join(", ")}`);
  }
  if (mode === "none") return { records: [...records], classWeights: null };
  if (mode === "weights") return { records: [...records], classWeights: classWeights(records) };
  const [n0, n1] = classCounts(records);
  if (n0 === 0 || n1 === 0) {
    throw new Error(`balance "${mode}" needs both classes; got ${n0} NORMAL and ${n1} PNEUMONIA`);
  }
  if (n0 === n1) return { records: [...records], classWeights: null };
  const minority: 0 | 1 = n0 < n1 ? 0 : 1;
  const nMin = Math.min(n0, n1), nMaj = Math.max(n0, n1);
  const rng = makeRng(seed);
  if (mode === "down") {
    const majIdx = records.flatMap((r, i) => (r.y === minority ? [] : [i]));
    const keep = new Set(shuffle(majIdx, rng).slice(0, nMin));
    return {
      records: records.filter((r, i) => r.y === minority || keep.has(i)),
      classWeights: null,
    };
  }
  const minRecs = records.filter((r) => r.y === minority);
  const extra: T[] = [];
  const need = nMaj - nMin;
  for (let k = 0; k < Math.floor(need / nMin); k++) extra.push(...minRecs);
  extra.push(...shuffle(minRecs, rng).slice(0, need % nMin));
  return { records: [...records, ...extra], classWeights: null };
}
