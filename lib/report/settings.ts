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

/**
 * What one chapter trains and for how long: the budget its question needs. The report runner
 * injects it into the chapter's parameters cell ({@link CHAPTER_BUDGETS}), and the chapter says
 * it, with {@link Budget.why}, under its settings (lib/report/budget.ts).
 */
export interface Budget {
  /** Registered model the chapter trains (its edited variants aside). */
  model: string;
  /** Input side in pixels, raised to the model's minimum; null: the pretrained base's own. */
  size: number | null;
  /** Share of the training split (the baseline: the larger of its two {@link fractions}). */
  fraction: number;
  /** The baseline chapter only: its two shares of the training split (the seed: 0.25, 0.75). */
  fractions?: readonly [number, number];
  /** Most epochs. */
  epochs: number;
  /** Early stopping: epochs without a better validation accuracy before training stops. */
  patience: number;
  /** Why this budget answers the chapter's question (one sentence, shown in the chapter). */
  why: string;
}

/**
 * The budgets of a profile, one per training chapter: the seed's four models (`baseline`,
 * `cnn`, `cnnReg`, `transfer`), our `compact` (chapter 6, and the run chapters 7-8, 10-13 and 16
 * evaluate: chapter 13's chest-crop run takes the same budget, so that only the crop differs),
 * `balance` (chapter 9's five runs) and `threeClasses` (chapter 14).
 */
export type BudgetName =
  | "baseline"
  | "cnn"
  | "cnnReg"
  | "transfer"
  | "compact"
  | "balance"
  | "threeClasses";

/** Every budget name, in chapter order. */
export const BUDGET_NAMES: readonly BudgetName[] = [
  "baseline",
  "cnn",
  "cnnReg",
  "transfer",
  "compact",
  "balance",
  "threeClasses",
] as const;

/**
 * The budget each notebook's parameters cell gets, by notebook number. Chapters 10-13 and 16
 * evaluate chapter 6's `compact` run: with its budget they reuse that run instead of training
 * another. Chapters 1, 7, 8, 15 and 17 train nothing.
 */
export const CHAPTER_BUDGETS: Readonly<Record<string, BudgetName>> = {
  "02": "baseline",
  "03": "cnn",
  "04": "cnnReg",
  "05": "transfer",
  "06": "compact",
  "09": "balance",
  "10": "compact",
  "11": "compact",
  "12": "compact",
  "13": "compact",
  "14": "threeClasses",
  "16": "compact",
};

/** How much work each chapter does: the chapters' budgets, and the report's limits. */
export interface Profile {
  name: ProfileName;
  /** Input side of a chapter's models: in the table, the seed's models' (the seed: 150). */
  size: number;
  /** Maximum epochs of a chapter's models: in the table, the seed's models' (the seed: 40). */
  epochs: number;
  /** Early-stopping patience on validation accuracy: in the table, the seed's models' (8). */
  patience: number;
  /** Fractions of the training split for the baseline chapter (the seed: 0.25 then 0.75). */
  baselineFractions: readonly [number, number];
  /** Share of the training split of a chapter's models: in the table, the seed's models'. */
  modelFraction: number;
  /** Each training chapter's budget. */
  budgets: Readonly<Record<BudgetName, Budget>>;
  /** Images per class of the synthetic dataset made when no data folder is given. */
  syntheticPerClass: number;
  /** Wall-time limit of one notebook, in seconds. */
  notebookTimeoutS: number;
}

/**
 * A profile from its budgets: the flat values (size, epochs, patience, shares) are the seed's
 * models' (`cnn`'s budget), which {@link chapterSettings} (lib/report/params.ts) replaces by a
 * chapter's own from its parameters cell.
 */
function profile(
  name: ProfileName,
  budgets: Record<BudgetName, Budget>,
  limits: Pick<Profile, "syntheticPerClass" | "notebookTimeoutS">,
): Profile {
  const seed = budgets.cnn;
  return {
    name,
    size: seed.size ?? 150,
    epochs: seed.epochs,
    patience: seed.patience,
    baselineFractions: budgets.baseline.fractions ?? [budgets.baseline.fraction, 1],
    modelFraction: seed.fraction,
    budgets,
    ...limits,
  };
}

/** The seed's settings for its own models: 150 px, the whole training split, 40 epochs, 8. */
const SEED = { size: 150, fraction: 1, epochs: 40, patience: 8 } as const;

/** Why the full profile trains the seed's models as the seed did. */
const SEED_WHY = "the seed's own settings for this model (the data, image size, epoch limit and " +
  "early stopping its notebook used), so that its numbers compare with the seed's (the " +
  "reproduction table).";

/** Why the quick profile trains the seed's models so little. */
const QUICK_SEED_WHY = "the quick profile's sketch of the seed's settings (64 px, 30% of the " +
  "split, 5 epochs) so that the whole report fits 15 minutes; the seed's numbers need " +
  "`--profile full`.";

/** `ci`: every chapter at one tiny budget on synthetic images: proves the pipeline runs. */
const CI_BUDGET = { size: 48, fraction: 1, epochs: 2, patience: 2 } as const;
const CI_WHY = "the ci profile only proves that every chapter runs end to end.";

/** Profile table: `ci` proves the pipeline on tiny synthetic data, `quick` fits a laptop in 15
 * minutes on the real data, `full` reproduces the seed's settings for the seed's models and gives
 * every other chapter the budget its question needs (docs/full-profile.md: the time model). */
export const PROFILES: Readonly<Record<ProfileName, Profile>> = {
  ci: profile("ci", {
    baseline: {
      model: "dense_baseline",
      ...CI_BUDGET,
      fraction: 0.75,
      fractions: [0.25, 0.75],
      why: CI_WHY,
    },
    cnn: { model: "cnn", ...CI_BUDGET, why: CI_WHY },
    cnnReg: { model: "cnn_reg", ...CI_BUDGET, why: CI_WHY },
    transfer: { model: "transfer", ...CI_BUDGET, size: null, why: CI_WHY },
    compact: { model: "compact", ...CI_BUDGET, why: CI_WHY },
    balance: { model: "compact", ...CI_BUDGET, why: CI_WHY },
    threeClasses: { model: "compact", ...CI_BUDGET, why: CI_WHY },
  }, { syntheticPerClass: 24, notebookTimeoutS: 300 }),
  quick: profile("quick", {
    baseline: {
      model: "dense_baseline",
      size: 64,
      fraction: 0.75,
      fractions: [0.25, 0.75],
      epochs: 5,
      patience: 3,
      why: "the quick profile's sketch of the seed's settings (64 px, 5 epochs): the dense " +
        "baseline costs seconds, so it keeps the seed's two shares.",
    },
    cnn: {
      model: "cnn",
      size: 64,
      fraction: 0.3,
      epochs: 5,
      patience: 3,
      why: QUICK_SEED_WHY,
    },
    cnnReg: {
      model: "cnn_reg",
      size: 64,
      fraction: 0.3,
      epochs: 5,
      patience: 3,
      why: QUICK_SEED_WHY,
    },
    transfer: {
      model: "transfer",
      size: null,
      fraction: 0.3,
      epochs: 5,
      patience: 3,
      why: QUICK_SEED_WHY,
    },
    compact: {
      model: "compact",
      size: 64,
      fraction: 0.3,
      epochs: 5,
      patience: 3,
      why: "the quick profile's sketch: the evaluation chapters' methods run on a small model " +
        "in minutes; their numbers are not the full profile's.",
    },
    balance: {
      model: "compact",
      size: 64,
      fraction: 0.2,
      epochs: 2,
      patience: 2,
      why: "five runs (four modes and the same-size control) on a fifth of the split for 2 " +
        "epochs: enough to show the method within the 15 minutes, too little to answer the " +
        "question (rerun with `--profile full`).",
    },
    threeClasses: {
      model: "compact",
      size: 64,
      fraction: 0.3,
      epochs: 5,
      patience: 3,
      why: "the quick profile's sketch, at the evaluation run's budget.",
    },
  }, { syntheticPerClass: 60, notebookTimeoutS: 900 }),
  full: profile("full", {
    baseline: {
      model: "dense_baseline",
      ...SEED,
      fraction: 0.75,
      fractions: [0.25, 0.75],
      why: SEED_WHY,
    },
    cnn: { model: "cnn", ...SEED, why: SEED_WHY },
    cnnReg: { model: "cnn_reg", ...SEED, why: SEED_WHY },
    transfer: {
      model: "transfer",
      ...SEED,
      size: null,
      why: SEED_WHY + " The input size is the pretrained base's own (the seed's VGG19: 150 px; " +
        "the set-up's MobileNetV2 base: 128 px).",
    },
    compact: {
      model: "compact",
      size: 64,
      fraction: 1,
      epochs: 20,
      patience: 5,
      why: "the model the evaluation chapters study (operating points, where it looks, chest " +
        "region, second site) needs every training image and to be trained until early " +
        "stopping ends it, not many pixels: at 64 px grayscale an epoch of the whole split " +
        "took 25 s against 90 s at 128 px, and one epoch already reached validation ROC-AUC " +
        "0.996 (0.988 at 128 px; docs/full-profile.md); up to 20 epochs, patience 5, so that " +
        "it and the two runs that share its budget (chest crop, three classes) fit beside the " +
        "seed's models.",
    },
    balance: {
      model: "compact",
      size: 64,
      fraction: 1,
      epochs: 10,
      patience: 3,
      why: "the question is whether downsampling helps, a comparison between five runs of one " +
        "model (four modes and the same-size control, 4.5 times the split per epoch in all), " +
        "not the best score: compact at 64 px on the whole split keeps every image and the " +
        "class mix at a fifth of the cost of 150 px, and 10 epochs with patience 3 let early " +
        "stopping end the runs (the conclusions say when one did not).",
    },
    threeClasses: {
      model: "compact",
      size: 64,
      fraction: 1,
      epochs: 20,
      patience: 5,
      why: "the evaluation run's budget (the whole split, 64 px, up to 20 epochs, patience 5), " +
        "so that the three-class model differs from chapter 6's only in its output.",
    },
  }, { syntheticPerClass: 200, notebookTimeoutS: 6 * 3600 }),
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
