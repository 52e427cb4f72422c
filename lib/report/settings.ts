/**
 * Report settings: which data, profile, seed and output folder a chapter runs with. The report
 * runner passes them to every notebook as environment variables; a reader who opens a notebook
 * interactively gets the same defaults as `deno task report`.
 * @module
 */
import type { DataSource } from "../data/dataset.ts";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { PROJECT_ROOT } from "../util/project.ts";

/** A parameter value as a notebook's parameters cell writes it (read in lib/report/params.ts). */
export type ParamValue = string | number | boolean | null | number[];

/** Parameter values by name. */
export type Params = Record<string, ParamValue>;

/** Training options a chapter passes to every run it trains (unset: the model's own). */
export interface ChapterTraining {
  balance?: "none" | "down" | "up" | "weights";
  batchSize?: number;
  optimizer?: "adam" | "sgd" | "rmsprop";
  learningRate?: number;
  augment?: boolean;
}

/** The three report profiles. */
export type ProfileName = "ci" | "quick" | "full";

/** The profile names, in order of cost. */
export const PROFILE_NAMES: readonly ProfileName[] = ["ci", "quick", "full"] as const;

/** How much work each chapter does: image size, epochs, subsets. */
export interface Profile {
  name: ProfileName;
  /** Input side of every model (the seed: 150). */
  size: number;
  /** Maximum epochs of each model chapter (the seed: 40). */
  epochs: number;
  /** Early-stopping patience on validation accuracy (the seed: 8). */
  patience: number;
  /** Fractions of the training split for the baseline chapter (the seed: 0.25 then 0.75). */
  baselineFractions: [number, number];
  /** Fraction of the training split for the CNN, transfer and compact chapters. */
  modelFraction: number;
  /** Fraction of the training split for each balancing run. */
  balanceFraction: number;
  /** Epochs of each balancing run. */
  balanceEpochs: number;
  /** Images per class of the synthetic dataset made when no data folder is given. */
  syntheticPerClass: number;
  /** Wall-time limit of one notebook, in seconds. */
  notebookTimeoutS: number;
}

/** Profile table: `ci` proves the pipeline on tiny synthetic data, `quick` fits a laptop in 15
 * minutes on the real data, `full` reproduces the seed's settings. */
export const PROFILES: Readonly<Record<ProfileName, Profile>> = {
  ci: {
    name: "ci",
    size: 48,
    epochs: 2,
    patience: 2,
    baselineFractions: [0.25, 0.75],
    modelFraction: 1,
    balanceFraction: 1,
    balanceEpochs: 2,
    syntheticPerClass: 24,
    notebookTimeoutS: 300,
  },
  quick: {
    name: "quick",
    size: 64,
    epochs: 5,
    patience: 3,
    baselineFractions: [0.25, 0.75],
    modelFraction: 0.3,
    balanceFraction: 0.2,
    balanceEpochs: 3,
    syntheticPerClass: 60,
    notebookTimeoutS: 900,
  },
  full: {
    name: "full",
    size: 150,
    epochs: 40,
    patience: 8,
    baselineFractions: [0.25, 0.75],
    modelFraction: 1,
    balanceFraction: 1,
    balanceEpochs: 40,
    syntheticPerClass: 200,
    notebookTimeoutS: 6 * 3600,
  },
};

/** Environment variables the report runner sets for each notebook. */
export const REPORT_ENV = {
  data: "XRAY_REPORT_DATA",
  profile: "XRAY_REPORT_PROFILE",
  out: "XRAY_REPORT_OUT",
  seed: "XRAY_REPORT_SEED",
  base: "XRAY_TRANSFER_BASE",
  fresh: "XRAY_REPORT_FRESH",
  site: "XRAY_REPORT_SITE",
  labels: "XRAY_REPORT_LABELS",
  siteLabels: "XRAY_REPORT_SITE_LABELS",
} as const;

/** Everything a chapter needs to know about this report run; all paths absolute. */
export interface ReportSettings {
  /** Project root (the folder of deno.json). */
  root: string;
  /** Dataset root (Kaggle layout or class folders). */
  data: string;
  profile: Profile;
  seed: number;
  /** The report's output folder: run folders go to `out/runs`, executed notebooks beside. */
  out: string;
  /** Folder of trained runs shared by the chapters. */
  runsDir: string;
  /** The project's outputs folder (manifests, image cache). */
  outputsDir: string;
  /** A local TF.js layers model to use as the frozen base of `transfer`, or null. */
  transferBase: string | null;
  /** Retrain even when a finished run with the same config exists. */
  fresh: boolean;
  /** The parameters cell's values these settings were made from (lib/report/params.ts). */
  params?: Params;
  /** Training options every run of the chapter takes (unset: the model's own). */
  train?: ChapterTraining;
  /**
   * A labelled sample of a second site (class folders or the Kaggle layout), for the "second
   * site" chapter; null when there is none (see {@link siteFor}).
   */
  site?: string | null;
  /**
   * A label table describing the images under `data` (lib/data/tables.ts; format from its
   * header); null or absent: the folder layout.
   */
  labels?: string | null;
  /** A label table of the `site` images; null or absent: the site's class folders. */
  siteLabels?: string | null;
}

/** The report's dataset as the data layer reads it (lib/data/dataset.ts). */
export function reportSource(s: Pick<ReportSettings, "data" | "labels">): DataSource {
  return s.labels ? { data: s.data, labels: s.labels } : { data: s.data };
}

/** Chapter 16's site as the data layer reads it; null when there is no site. */
export function siteSource(s: Pick<ReportSettings, "site" | "siteLabels">): DataSource | null {
  if (!s.site) return null;
  return s.siteLabels ? { data: s.site, labels: s.siteLabels } : { data: s.site };
}

/**
 * The site sample's folder name beside the data folder, used when no site is given
 * (`../shared/data/chest_xray_site` beside `../shared/data/chest_xray`).
 */
export const SITE_FOLDER = "chest_xray_site";

/**
 * The second-site sample: `given` ("none": none; a path: that folder, relative to the project),
 * else (null or unset) the {@link SITE_FOLDER} folder beside `data` when it exists, else null.
 */
export function siteFor(given: string | null | undefined, data: string): string | null {
  if (given === "none") return null;
  if (given) return isAbsolute(given) ? given : resolve(PROJECT_ROOT, given);
  const beside = join(dirname(data), SITE_FOLDER);
  try {
    return Deno.statSync(beside).isDirectory ? beside : null;
  } catch {
    return null;
  }
}

/** The project root (re-exported from lib/util/project.ts). */
export { PROJECT_ROOT };

/** Default dataset folder when none is given: data/chest_xray under the project. */
export const DEFAULT_DATA = "data/chest_xray";

function abs(p: string, root: string): string {
  return isAbsolute(p) ? p : resolve(root, p);
}

/**
 * Reads the report settings from environment variables ({@link REPORT_ENV}); unset ones default
 * to the quick profile, seed 42, `data/chest_xray` and `outputs/report`, and the site sample to
 * the {@link SITE_FOLDER} folder beside the data when there is one. An unknown profile or a
 * non-integer seed is an error naming the variable.
 */
export function reportSettings(
  env: { get(key: string): string | undefined } = Deno.env,
): ReportSettings {
  const root = PROJECT_ROOT;
  const profileName = env.get(REPORT_ENV.profile) ?? "quick";
  if (!(PROFILE_NAMES as readonly string[]).includes(profileName)) {
    throw new Error(
      `${REPORT_ENV.profile}="${profileName}" is not a profile; use one of ${
        PROFILE_NAMES.join(", ")
      }`,
    );
  }
  const seedText = env.get(REPORT_ENV.seed) ?? "42";
  const seed = Number(seedText);
  if (!Number.isInteger(seed)) {
    throw new Error(`${REPORT_ENV.seed}="${seedText}" is not an integer seed`);
  }
  const out = abs(env.get(REPORT_ENV.out) ?? join("outputs", "report"), root);
  const base = env.get(REPORT_ENV.base);
  const data = abs(env.get(REPORT_ENV.data) ?? DEFAULT_DATA, root);
  const labels = env.get(REPORT_ENV.labels), siteLabels = env.get(REPORT_ENV.siteLabels);
  return {
    labels: labels ? abs(labels, root) : null,
    siteLabels: siteLabels ? abs(siteLabels, root) : null,
    root,
    data,
    profile: PROFILES[profileName as ProfileName],
    seed,
    out,
    runsDir: join(out, "runs"),
    outputsDir: join(root, "outputs"),
    transferBase: base ? abs(base, root) : null,
    fresh: env.get(REPORT_ENV.fresh) === "1",
    site: siteFor(env.get(REPORT_ENV.site), data),
  };
}

/** The environment variables that make {@link reportSettings} return `s` in a notebook. */
export function settingsEnv(s: ReportSettings): Record<string, string> {
  const env: Record<string, string> = {
    [REPORT_ENV.data]: s.data,
    [REPORT_ENV.profile]: s.profile.name,
    [REPORT_ENV.out]: s.out,
    [REPORT_ENV.seed]: String(s.seed),
  };
  if (s.transferBase) env[REPORT_ENV.base] = s.transferBase;
  if (s.fresh) env[REPORT_ENV.fresh] = "1";
  env[REPORT_ENV.site] = s.site ?? "none";
  if (s.labels) env[REPORT_ENV.labels] = s.labels;
  if (s.siteLabels) env[REPORT_ENV.siteLabels] = s.siteLabels;
  return env;
}
