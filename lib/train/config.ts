/**
 * The training configuration: resolved once from the CLI (or a notebook) and the model's
 * defaults, saved with the run as config.json, and read back on `--resume`.
 * @module
 */
import type { DataSource } from "../data/dataset.ts";
import type { LabelPolicy, TableFormat } from "../data/tables.ts";
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { CHEST_REGION_MODES, type ChestRegionMode } from "../images/chest_region.ts";
import { checkIntensityMode, type IntensityMode } from "../images/intensity_core.ts";
import { getModelSpec } from "../models/registry.ts";
import { AUGMENTATION_STRENGTHS, type AugmentationStrength } from "./augment.ts";
import { checkPseudoConfig, type PseudoConfig } from "./pseudo.ts";

/** Metrics early stopping can watch (validation). */
export type StopMetric = "val_accuracy" | "val_auc" | "val_loss" | "val_f1";

/** Everything a run needs, with no defaults left to fill. */
export interface TrainConfig {
  /** Run name; the run folder is `out`. */
  name: string;
  model: string;
  /** Dataset root (Kaggle layout or a folder of class folders), or the images of `labels`. */
  data: string;
  /**
   * A label table describing the images under `data` (lib/data/tables.ts), its format (null:
   * detected) and label policy; absent or null: the folder layout.
   */
  labels?: string | null;
  format?: TableFormat | null;
  labelPolicy?: Partial<LabelPolicy>;
  /** Run folder. */
  out: string;
  size: number;
  channels: 1 | 3;
  /** 2: NORMAL / PNEUMONIA (sigmoid); 3: normal / bacteria / virus (softmax). */
  classes: 2 | 3;
  batchSize: number;
  epochs: number;
  optimizer: "adam" | "sgd" | "rmsprop";
  learningRate: number;
  /** Multiply the learning rate by this each epoch (1 = constant). */
  lrDecay: number;
  /**
   * Stop after `patience` epochs without a better `metric` (for accuracy and F1, an equal one
   * with a higher validation ROC-AUC counts as better: `improvesOn` in train.ts); the best
   * epoch's weights are kept.
   */
  earlyStopping: { metric: StopMetric; patience: number };
  balance: "none" | "down" | "up" | "weights";
  /** Fraction of the training split used (the seed notebook tried 0.25 and 0.75). */
  fraction: number;
  seed: number;
  augment: boolean;
  /**
   * Decision threshold policy: highest threshold with val sensitivity >= target; with
   * `perturbedCopies` > 0, the lower of that and the same on val pooled with that many seeded
   * augmented copies (a margin for acquisition shift).
   */
  threshold: { targetSensitivity: number; perturbedCopies?: number };
  /** Only for `transfer`: the frozen base (folder, model.json or file:// URL). */
  basePath: string | null;
  /**
   * After each epoch, re-estimate batch-norm statistics on clean training images (default true;
   * absent in configs saved before it existed, which then count as false).
   */
  recalibrateBatchNorm?: boolean;
  /** Pixel scaling x = (u8 * scale - mean) / std; null = [0, 1]. A pretrained base brings its own. */
  scaling?: { scale: number; mean: number; std: number } | null;
  /**
   * Crop or mask every image to the central chest box (lib/images/chest_region.ts) right after
   * loading, for training, validation and every prediction from the run (default "none"; absent
   * in configs saved before it existed, which then count as "none").
   */
  chestRegion?: ChestRegionMode;
  /**
   * Per-image intensity normalisation right after loading (lib/images/intensity.ts), for
   * training, validation and every prediction from the run (default "none"; absent in configs
   * saved before it existed, which then count as "none").
   */
  intensity?: IntensityMode;
  /** Training augmentation ranges (lib/train/augment.ts; default "standard", also when absent). */
  augmentation?: AugmentationStrength;
  /**
   * Weight averaging (lib/train/weight_average.ts): from this epoch on, validation judges and
   * early stopping keeps the mean of the trainable weights of every epoch since, with batch-norm
   * statistics re-estimated on clean training images (default null: none, also when absent).
   */
  weightAverage?: { fromEpoch: number } | null;
  /**
   * Mixup (lib/train/mixup.ts): the Beta(a, a) parameter a of the mixing weight, or null for none
   * (default, also when absent).
   */
  mixup?: number | null;
  /**
   * Self-training on unlabelled images (lib/train/pseudo.ts): confident pseudo-labels from the
   * run's own model join training from `fromEpoch + 1` on (default null: none, also when absent).
   */
  pseudo?: PseudoConfig | null;
  /** Folder for the manifest (patient-level split) and the image cache. */
  outputsDir: string;
}

/** What a caller must give; everything else has a default. */
export type TrainConfigInput = Partial<TrainConfig> & { model: string; data: string };

/** Fills defaults (the model's own, then the seed notebook's) and checks every value. */
export function resolveConfig(input: TrainConfigInput): TrainConfig {
  const spec = getModelSpec(input.model);
  const seed = input.seed ?? 42;
  const name = input.name ?? `${input.model}-s${seed}`;
  const cfg: TrainConfig = {
    name,
    model: spec.name,
    data: input.data,
    ...(input.labels
      ? {
        labels: input.labels,
        format: input.format ?? null,
        labelPolicy: input.labelPolicy ?? {},
      }
      : {}),
    out: input.out ?? join("outputs", "runs", name),
    size: input.size ?? spec.defaultSize,
    channels: input.channels ?? spec.channels,
    classes: input.classes ?? 2,
    batchSize: input.batchSize ?? spec.train.batchSize,
    epochs: input.epochs ?? spec.train.epochs,
    optimizer: input.optimizer ?? spec.train.optimizer,
    learningRate: input.learningRate ?? spec.train.learningRate,
    lrDecay: input.lrDecay ?? 1,
    earlyStopping: input.earlyStopping ?? { metric: "val_accuracy", patience: 8 },
    balance: input.balance ?? "none",
    fraction: input.fraction ?? 1,
    seed,
    augment: input.augment ?? spec.train.augment,
    threshold: input.threshold ?? { targetSensitivity: 0.95 },
    basePath: input.basePath ?? null,
    scaling: input.scaling ?? null,
    recalibrateBatchNorm: input.recalibrateBatchNorm ?? true,
    chestRegion: input.chestRegion ?? "none",
    intensity: input.intensity ?? "none",
    augmentation: input.augmentation ?? "standard",
    weightAverage: input.weightAverage ?? null,
    mixup: input.mixup ?? null,
    pseudo: input.pseudo ?? null,
    outputsDir: input.outputsDir ?? "outputs",
  };
  const bad = (what: string) => {
    throw new Error(`Invalid training config for run "${name}": ${what}`);
  };
  if (!(cfg.size >= spec.minSize)) bad(`size ${cfg.size} < ${spec.minSize}, the model's minimum`);
  if (![1, 3].includes(cfg.channels)) bad(`channels must be 1 or 3, got ${cfg.channels}`);
  if (![2, 3].includes(cfg.classes)) bad(`classes must be 2 or 3, got ${cfg.classes}`);
  if (!(Number.isInteger(cfg.batchSize) && cfg.batchSize >= 1)) bad(`batchSize ${cfg.batchSize}`);
  if (!(Number.isInteger(cfg.epochs) && cfg.epochs >= 1)) bad(`epochs ${cfg.epochs}`);
  if (!(cfg.learningRate > 0)) bad(`learningRate ${cfg.learningRate} must be > 0`);
  if (!(cfg.lrDecay > 0 && cfg.lrDecay <= 1)) bad(`lrDecay ${cfg.lrDecay} must be in (0, 1]`);
  if (!(cfg.fraction > 0 && cfg.fraction <= 1)) bad(`fraction ${cfg.fraction} must be in (0, 1]`);
  if (!["none", "down", "up", "weights"].includes(cfg.balance)) {
    bad(`balance "${cfg.balance}" (expected none, down, up or weights)`);
  }
  if (!["adam", "sgd", "rmsprop"].includes(cfg.optimizer)) bad(`optimizer "${cfg.optimizer}"`);
  if (!["val_accuracy", "val_auc", "val_loss", "val_f1"].includes(cfg.earlyStopping.metric)) {
    bad(`early stopping metric "${cfg.earlyStopping.metric}"`);
  }
  if (!(cfg.earlyStopping.patience >= 1)) bad(`patience ${cfg.earlyStopping.patience}`);
  if (!CHEST_REGION_MODES.includes(cfg.chestRegion!)) {
    bad(`chestRegion "${cfg.chestRegion}" (expected ${CHEST_REGION_MODES.join(", ")})`);
  }
  try {
    checkIntensityMode(cfg.intensity!);
  } catch (err) {
    bad((err as Error).message);
  }
  if (!AUGMENTATION_STRENGTHS.includes(cfg.augmentation!)) {
    bad(`augmentation "${cfg.augmentation}" (expected ${AUGMENTATION_STRENGTHS.join(", ")})`);
  }
  const from = cfg.weightAverage?.fromEpoch;
  if (from !== undefined && !(Number.isInteger(from) && from >= 1 && from <= cfg.epochs)) {
    bad(`weightAverage.fromEpoch ${from} must be an epoch, 1 to ${cfg.epochs}`);
  }
  if (cfg.mixup !== null && !(typeof cfg.mixup === "number" && cfg.mixup > 0 && cfg.mixup <= 10)) {
    bad(`mixup ${cfg.mixup} must be a Beta parameter in (0, 10], or null for none`);
  }
  if (cfg.pseudo) {
    const msg = checkPseudoConfig(cfg.pseudo, cfg.epochs);
    if (msg) bad(msg);
    if (cfg.classes !== 2) bad("pseudo-labels need classes 2 (NORMAL / PNEUMONIA)");
  }
  const t = cfg.threshold.targetSensitivity;
  if (!(t > 0 && t <= 1)) bad(`threshold target sensitivity ${t} must be in (0, 1]`);
  return cfg;
}

/** The chest-region mode of a config; configs saved before the field existed mean "none". */
export function chestRegionOf(cfg: Pick<TrainConfig, "chestRegion">): ChestRegionMode {
  return cfg.chestRegion ?? "none";
}

/** The intensity normalisation of a config; configs saved before the field existed mean "none". */
export function intensityOf(cfg: Pick<TrainConfig, "intensity">): IntensityMode {
  return cfg.intensity ?? "none";
}

/**
 * Whether two configs describe the same run, counting fields added later at their old meaning
 * (a saved config without `chestRegion` equals one with "none"), so finished runs stay reusable.
 */
export function sameConfig(a: TrainConfig | null, b: TrainConfig | null): boolean {
  if (a === null || b === null) return a === b;
  const norm = (c: TrainConfig) => ({
    ...c,
    chestRegion: chestRegionOf(c),
    intensity: intensityOf(c),
    augmentation: c.augmentation ?? "standard",
    weightAverage: c.weightAverage ?? null,
    mixup: c.mixup ?? null,
    pseudo: c.pseudo ?? null,
  });
  return isDeepStrictEqual(norm(a), norm(b));
}

/** The dataset a config trains on (folder layout, or a label table), for lib/data/dataset.ts. */
export function dataSourceOf(
  cfg: Pick<TrainConfig, "data" | "labels" | "format" | "labelPolicy">,
): DataSource {
  return cfg.labels
    ? { data: cfg.data, labels: cfg.labels, format: cfg.format ?? null, policy: cfg.labelPolicy }
    : { data: cfg.data };
}
