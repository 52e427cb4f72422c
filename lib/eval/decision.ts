/**
 * The decision threshold a screening tool applies, and what it means in words: the run's stored
 * threshold (`threshold.json`, chosen on validation), or a site threshold re-picked on a
 * labelled sample of a new site and stored in the run's `calibration.json` under `site`
 * (`deno task evaluate --calibrate SITE_DIR --save`). Plain functions: the command line and the
 * browser page say the same thing.
 *
 * @example
 * ```ts
 * import { decisionThreshold } from "./decision.ts";
 * const d = decisionThreshold(thresholdJson, calibrationJson);
 * d.threshold; d.source; // 0.5036, "run"
 * d.words;               // "At this threshold (0.504, chosen on validation ...) ..."
 * ```
 * @module
 */
import { formatPercent } from "../metrics/format.ts";

/** What `decisionThreshold` reads of `threshold.json`. */
export interface StoredThreshold {
  threshold: number;
  policy?: string;
  targetSensitivity?: number;
  atThreshold?: { sensitivity?: number; specificity?: number; n?: number };
}

/** The `site` entry of `calibration.json`. */
export interface SiteThreshold {
  threshold: number;
  policy: string;
  siteDir: string;
  /** Labelled sample the threshold was picked on. */
  sample: { n: number; positives: number };
  /** Point estimates on the rest of the site's images at the new threshold. */
  sensitivity: number;
  specificity: number;
  restImages: number;
  created: string;
}

/** The threshold in force, where it comes from, and its meaning in words. */
export interface Decision {
  threshold: number;
  source: "run" | "site";
  words: string;
}

const pct = (x: number | undefined) => formatPercent(x, 1);

/** The decision for a run: the site threshold when `calibration.site` exists, else the run's. */
export function decisionThreshold(
  stored: StoredThreshold,
  calibration: { site?: SiteThreshold } | null,
): Decision {
  const site = calibration?.site;
  if (site && Number.isFinite(site.threshold)) {
    return {
      threshold: site.threshold,
      source: "site",
      words:
        `Site threshold ${site.threshold.toFixed(3)}, re-picked on ${site.sample.n} labelled ` +
        `images of this site (${site.policy}). On the site's other ${site.restImages} images it ` +
        `called ${pct(site.sensitivity)} of pneumonia films PNEUMONIA and ` +
        `${pct(1 - site.specificity)} of normal films PNEUMONIA (false alarms). The run's own ` +
        `threshold was ${stored.threshold.toFixed(3)}.`,
    };
  }
  const at = stored.atThreshold ?? {};
  return {
    threshold: stored.threshold,
    source: "run",
    words: `Threshold ${stored.threshold.toFixed(3)}, chosen on the validation images` +
      (stored.targetSensitivity ? ` to keep sensitivity >= ${pct(stored.targetSensitivity)}` : "") +
      `: there it called ${pct(at.sensitivity)} of pneumonia films PNEUMONIA (missing ` +
      `${pct(at.sensitivity === undefined ? undefined : 1 - at.sensitivity)}) and ` +
      `${pct(at.specificity === undefined ? undefined : 1 - at.specificity)} of normal films ` +
      "PNEUMONIA (false alarms). A screening aid, not a diagnosis: a PNEUMONIA label asks for a " +
      "clinician's reading.",
  };
}
