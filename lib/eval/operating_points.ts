/**
 * Operating points for screening: threshold policies chosen on validation, the trade-off table a
 * programme manager reads (sensitivity, specificity, referrals per 100 children), what a policy
 * means per 1,000 children at a given prevalence (PPV, NPV, referrals, missed cases), and the
 * WHO triage-test targets used as an analogous benchmark.
 *
 * Every policy scans the distinct validation scores as candidate thresholds (`score >= t` is
 * positive, as in `lib/metrics/classification.ts`); ties between candidates go to the higher
 * threshold (fewer referrals).
 *
 * @example
 * ```ts
 * import { choosePolicies, STANDARD_POLICIES, tradeoffTable } from "./operating_points.ts";
 * const points = choosePolicies(yVal, pVal, STANDARD_POLICIES);
 * const table = tradeoffTable(yTest, pTest, { prevalence: 0.3 });
 * ```
 * @module
 */

import {
  type BinaryMetrics,
  binaryMetrics,
  thresholdForSensitivity,
} from "../metrics/classification.ts";
import { countsByThreshold } from "../metrics/curves.ts";

/**
 * The benchmark this project holds a screening threshold to: sensitivity >= 0.90 with specificity
 * >= 0.70, the minimal targets of the WHO target product profile for a community-based triage
 * test for tuberculosis (WHO 2014, "High-priority target product profiles for new tuberculosis
 * diagnostics"). There is no WHO standard for pneumonia on chest X-rays; these are the figures of
 * an analogous screening (triage) test, used by analogy. See {@link WHO_BENCHMARK}.
 */
export const WHO_SCREENING_MINIMUM = { sensitivity: 0.9, specificity: 0.7 } as const;

/** How the report names and cites {@link WHO_SCREENING_MINIMUM}. */
export const WHO_BENCHMARK = {
  /** Short name for tables and chart legends. */
  short: "WHO TB-triage targets",
  /** One sentence for prose. */
  sentence: "The benchmark is the WHO target product profile for a tuberculosis triage test " +
    "(WHO 2014: sensitivity >= 0.90, specificity >= 0.70), an analogous screening benchmark; " +
    "there is no WHO standard for pneumonia on chest X-rays.",
} as const;

/** True when both WHO minimum figures are met (NaN never meets them). */
export function meetsWhoMinimum(sensitivity: number, specificity: number): boolean {
  return sensitivity >= WHO_SCREENING_MINIMUM.sensitivity &&
    specificity >= WHO_SCREENING_MINIMUM.specificity;
}

/** How to pick a threshold on validation. */
export type ThresholdPolicy =
  /** Highest threshold with sensitivity >= target. */
  | { kind: "sensitivity"; target: number }
  /** Maximise Youden's J = sensitivity + specificity - 1. */
  | { kind: "youden" }
  /** Maximise F1. */
  | { kind: "max_f1" }
  /**
   * Minimise expected cost per child: costFn * prevalence * (1 - sens) + costFp * (1 - prevalence)
   * * (1 - spec). `costFn / costFp` is the cost ratio of a missed pneumonia to a false alarm;
   * prevalence defaults to the validation prevalence (then this is costFn * FN + costFp * FP).
   */
  | { kind: "cost"; costFn: number; costFp?: number; prevalence?: number }
  /**
   * A threshold fixed beforehand, e.g. the run's stored one (chosen at training, possibly with a
   * margin), so that it sits in the same table as the policies re-picked on validation.
   */
  | { kind: "fixed"; threshold: number; name: string };

/** The four policies of the report: sensitivity 0.95, Youden, max F1, cost ratio 5:1. */
export const STANDARD_POLICIES: readonly ThresholdPolicy[] = [
  { kind: "sensitivity", target: 0.95 },
  { kind: "youden" },
  { kind: "max_f1" },
  { kind: "cost", costFn: 5, costFp: 1 },
];

/** A readable name for a policy ("sensitivity >= 0.95", "cost FN:FP = 5:1"). */
export function policyName(p: ThresholdPolicy): string {
  switch (p.kind) {
    case "sensitivity":
      return `sensitivity >= ${p.target}`;
    case "youden":
      return "Youden's J";
    case "max_f1":
      return "max F1";
    case "cost":
      return `cost FN:FP = ${p.costFn}:${p.costFp ?? 1}` +
        (p.prevalence !== undefined ? ` at prevalence ${p.prevalence}` : "");
    case "fixed":
      return p.name;
  }
}

/** A threshold picked by a policy, with the metrics it gives on the data it was picked on. */
export interface OperatingPoint {
  policy: string;
  threshold: number;
  metrics: BinaryMetrics;
  meetsWho: boolean;
}

/** Picks the threshold a policy asks for on (validation) labels and scores. */
export function chooseThreshold(
  yTrue: ArrayLike<number>,
  yScore: ArrayLike<number>,
  policy: ThresholdPolicy,
): OperatingPoint {
  let threshold: number;
  if (policy.kind === "sensitivity") {
    threshold = thresholdForSensitivity(yTrue, yScore, policy.target);
  } else if (policy.kind === "fixed") {
    threshold = policy.threshold;
  } else {
    const { counts, nPos, nNeg } = countsByThreshold(yTrue, yScore, "chooseThreshold");
    if (nPos === 0 || nNeg === 0) {
      throw new RangeError(
        `chooseThreshold (${policyName(policy)}): needs both classes, got ${nPos} positives ` +
          `and ${nNeg} negatives`,
      );
    }
    const prev = policy.kind === "cost" ? policy.prevalence ?? nPos / (nPos + nNeg) : 0;
    if (policy.kind === "cost" && !(policy.costFn > 0 && (policy.costFp ?? 1) > 0)) {
      throw new RangeError(`chooseThreshold: costs must be positive, got ${policyName(policy)}`);
    }
    let best = -Infinity;
    threshold = counts[0].threshold;
    for (const c of counts) { // from the highest threshold down: strict > keeps the higher one
      const sens = c.tp / nPos, spec = 1 - c.fp / nNeg;
      let value: number;
      if (policy.kind === "youden") value = sens + spec - 1;
      else if (policy.kind === "max_f1") value = (2 * c.tp) / (c.tp + nPos + c.fp);
      else {
        value =
          -(policy.costFn * prev * (1 - sens) + (policy.costFp ?? 1) * (1 - prev) * (1 - spec));
      }
      if (value > best) best = value, threshold = c.threshold;
    }
    if (policy.kind === "cost") {
      // Calling nothing positive is also an option: threshold Infinity (above every score).
      const none = -(policy.costFn * prev);
      if (none > best) threshold = Infinity;
    }
  }
  const metrics = binaryMetrics(yTrue, yScore, threshold);
  return {
    policy: policyName(policy),
    threshold,
    metrics,
    meetsWho: meetsWhoMinimum(metrics.sensitivity, metrics.specificity),
  };
}

/** `chooseThreshold` for each policy. */
export function choosePolicies(
  yTrue: ArrayLike<number>,
  yScore: ArrayLike<number>,
  policies: readonly ThresholdPolicy[] = STANDARD_POLICIES,
): OperatingPoint[] {
  return policies.map((p) => chooseThreshold(yTrue, yScore, p));
}

/**
 * Thresholds picked on validation, applied to test: one row per policy with the validation and
 * the test metrics at the same threshold.
 */
export function policiesOnTest(
  val: { yTrue: ArrayLike<number>; yScore: ArrayLike<number> },
  test: { yTrue: ArrayLike<number>; yScore: ArrayLike<number> },
  policies: readonly ThresholdPolicy[] = STANDARD_POLICIES,
): {
  policy: string;
  threshold: number;
  val: BinaryMetrics;
  test: BinaryMetrics;
  testMeetsWho: boolean;
}[] {
  return choosePolicies(val.yTrue, val.yScore, policies).map((op) => {
    const t = binaryMetrics(test.yTrue, test.yScore, op.threshold);
    return {
      policy: op.policy,
      threshold: op.threshold,
      val: op.metrics,
      test: t,
      testMeetsWho: meetsWhoMinimum(t.sensitivity, t.specificity),
    };
  });
}

/** One row of the trade-off table. */
export interface TradeoffRow {
  threshold: number;
  sensitivity: number;
  specificity: number;
  /** Positive predictive value at `prevalence` (not at the sample's prevalence). */
  ppv: number;
  /** Children referred per 100 screened at `prevalence`: 100 (p sens + (1 - p)(1 - spec)). */
  referralsPer100: number;
  /** Children with pneumonia missed per 100 screened: 100 p (1 - sens). */
  missedPer100: number;
  meetsWho: boolean;
}

/** Sensitivity/specificity of a score at many thresholds, projected to a prevalence. */
export function tradeoffTable(
  yTrue: ArrayLike<number>,
  yScore: ArrayLike<number>,
  opts: { prevalence?: number; thresholds?: readonly number[] } = {},
): { prevalence: number; rows: TradeoffRow[] } {
  let nPos = 0;
  for (let i = 0; i < yTrue.length; i++) nPos += yTrue[i] === 1 ? 1 : 0;
  const prevalence = opts.prevalence ?? nPos / yTrue.length;
  if (!(prevalence >= 0 && prevalence <= 1)) {
    throw new RangeError(`tradeoffTable: prevalence ${prevalence} must be in [0, 1]`);
  }
  const thresholds = opts.thresholds ??
    Array.from({ length: 19 }, (_, i) => Math.round((i + 1) * 5) / 100);
  const rows = thresholds.map((t) => {
    const m = binaryMetrics(yTrue, yScore, t);
    const truePos = prevalence * m.sensitivity, falsePos = (1 - prevalence) * (1 - m.specificity);
    return {
      threshold: t,
      sensitivity: m.sensitivity,
      specificity: m.specificity,
      ppv: truePos + falsePos === 0 ? NaN : truePos / (truePos + falsePos),
      referralsPer100: 100 * (truePos + falsePos),
      missedPer100: 100 * prevalence * (1 - m.sensitivity),
      meetsWho: meetsWhoMinimum(m.sensitivity, m.specificity),
    };
  });
  return { prevalence, rows };
}

/** What one operating point means for 1,000 children screened at a prevalence. */
export interface ScreeningProjection {
  prevalence: number;
  /** Positive predictive value: share of referred children who have pneumonia. */
  ppv: number;
  /** Negative predictive value: share of children sent home who do not have pneumonia. */
  npv: number;
  referredPer1000: number;
  /** Referred children who have pneumonia (true positives) per 1,000. */
  truePositivesPer1000: number;
  /** Referred children without pneumonia (false alarms) per 1,000. */
  falseAlarmsPer1000: number;
  /** Children with pneumonia sent home (missed) per 1,000. */
  missedPer1000: number;
}

/** The prevalences the report projects to: 5%, 10% and 20% (community to clinic). */
export const SCREENING_PREVALENCES: readonly number[] = [0.05, 0.1, 0.2];

/**
 * Projects a sensitivity and specificity to 1,000 children at each prevalence (Bayes' rule; the
 * rates are assumed to carry over to the new population). NaN when a rate is undefined or when
 * nobody is referred (PPV) or nobody is sent home (NPV).
 */
export function screeningProjection(
  sensitivity: number,
  specificity: number,
  prevalences: readonly number[] = SCREENING_PREVALENCES,
): ScreeningProjection[] {
  return prevalences.map((p) => {
    if (!(p >= 0 && p <= 1)) {
      throw new RangeError(`screeningProjection: prevalence ${p} must be in [0, 1]`);
    }
    const tp = 1000 * p * sensitivity, fn = 1000 * p * (1 - sensitivity);
    const tn = 1000 * (1 - p) * specificity, fp = 1000 * (1 - p) * (1 - specificity);
    return {
      prevalence: p,
      ppv: tp + fp > 0 ? tp / (tp + fp) : NaN,
      npv: tn + fn > 0 ? tn / (tn + fn) : NaN,
      referredPer1000: tp + fp,
      truePositivesPer1000: tp,
      falseAlarmsPer1000: fp,
      missedPer1000: fn,
    };
  });
}
