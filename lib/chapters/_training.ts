/**
 * Training for the report: each model chapter trains one run with the profile's settings, or
 * reuses the finished run folder when its saved config is the same (so reruns and later chapters
 * cost nothing), and shows it as the original did: curves per epoch and the validation confusion
 * matrix.
 * @module
 */
import { binaryConfusionHeatmap } from "../charts/heatmap.ts";
import { rowsToHtml } from "../charts/table.ts";
import { trainingGrid } from "../charts/training_grid.ts";
import { confusion } from "../metrics/classification.ts";
import { getModelSpec } from "../models/registry.ts";
import {
  resolveConfig,
  sameConfig,
  type TrainConfig,
  type TrainConfigInput,
} from "../train/config.ts";
import { isFinishedRun, readRunConfig, readRunRecord, type RunRecord } from "../train/run.ts";
import { train } from "../train/train.ts";
import type { ChestRegionMode } from "../images/chest_region.ts";
import { runDir } from "./_context.ts";
import type { ReportSettings } from "../report/settings.ts";

/** What a chapter asks to train; the rest comes from the profile and the model's defaults. */
export interface RunSpec {
  /** Run name (folder under the report's runs). */
  name: string;
  model: string;
  fraction?: number;
  epochs?: number;
  balance?: TrainConfig["balance"];
  size?: number;
  channels?: 1 | 3;
  /** 3: normal / bacteria / virus (default 2). */
  classes?: 2 | 3;
  /** Crop or mask every image to the chest box (default "none"). */
  chestRegion?: ChestRegionMode;
  basePath?: string;
}

/** The resolved training config of a chapter's run under these settings. */
export function chapterConfig(s: ReportSettings, spec: RunSpec): TrainConfig {
  const input: TrainConfigInput = {
    model: spec.model,
    data: s.data,
    name: spec.name,
    out: runDir(s, spec.name),
    // The profile's size, raised to what the architecture can pool down (cnn_reg needs 46).
    size: spec.size ?? Math.max(s.profile.size, getModelSpec(spec.model).minSize),
    channels: spec.channels,
    classes: spec.classes,
    chestRegion: spec.chestRegion,
    epochs: spec.epochs ?? s.profile.epochs,
    earlyStopping: { metric: "val_accuracy", patience: s.profile.patience },
    batchSize: s.train?.batchSize,
    optimizer: s.train?.optimizer,
    learningRate: s.train?.learningRate,
    augment: s.train?.augment,
    balance: spec.balance ?? s.train?.balance ?? "none",
    fraction: spec.fraction ?? s.profile.modelFraction,
    seed: s.seed,
    basePath: spec.basePath,
    outputsDir: s.outputsDir,
  };
  return resolveConfig(input);
}

/**
 * Trains the run, or reuses its folder when a finished run with the same config is there (unless
 * the settings ask for fresh runs). Progress lines go to the notebook.
 */
export async function trainOrReuse(
  s: ReportSettings,
  spec: RunSpec,
  log: (line: string) => void = (l) => console.log(l),
): Promise<RunRecord> {
  const cfg = chapterConfig(s, spec);
  if (!s.fresh && (await isFinishedRun(cfg.out))) {
    // sameConfig: a config saved before a field existed counts at that field's old meaning.
    if (sameConfig(await readRunConfig(cfg.out), cfg)) {
      log(`${spec.name}: reusing the finished run in ${cfg.out} (same config)`);
      return await readRunRecord(cfg.out);
    }
  }
  await train(cfg, { log });
  return await readRunRecord(cfg.out);
}

const CURVE_METRICS = ["loss", "accuracy", "recall", "precision", "f1"] as const;

/**
 * Train and validation curves per epoch of loss, accuracy, recall, precision and F1, side by
 * side as small multiples, the kept epoch marked.
 */
export function runCurves(run: RunRecord): string {
  return trainingGrid(
    run.history.map((h) => ({
      epoch: h.epoch,
      train: h.train as unknown as Record<string, number>,
      val: h.val as unknown as Record<string, number>,
    })),
    {
      title: `${run.name}: training curves`,
      metrics: [...CURVE_METRICS],
      keptEpoch: run.summary.bestEpoch,
      caption: `Each panel has its own y range (zoomed to the data). The kept model is the ` +
        `weights of epoch ${run.summary.bestEpoch} (best validation accuracy); ` +
        `${run.history.length} epoch(s) ran.`,
    },
  );
}

/** What a run's curves say about fitting: the numbers and two verdicts. */
export interface TrainingDiagnosis {
  epochsRun: number;
  maxEpochs: number;
  lastEpoch: number;
  /** Train minus validation accuracy at the last epoch. */
  accuracyGap: number;
  trainAccuracy: number;
  valAccuracy: number;
  /** Epoch of the lowest validation loss and that loss. */
  bestLossEpoch: number;
  bestValLoss: number;
  lastValLoss: number;
  /** Train accuracy ahead of validation by more than 0.05, or validation loss rising >10% past its low while train loss fell. */
  overfitting: boolean;
  /** Stopped by the epoch limit while validation loss or accuracy was still at its best in the last epoch. */
  undertrained: boolean;
}

/** Accuracy gap above which a run counts as overfitting. */
export const OVERFIT_GAP = 0.05;

/** Reads overfitting and undertraining off a run's per-epoch history. */
export function trainingDiagnosis(run: RunRecord): TrainingDiagnosis {
  const h = run.history;
  const last = h[h.length - 1];
  const finiteLoss = h.filter((e) => Number.isFinite(e.val.loss));
  const lowest = finiteLoss.reduce(
    (a, b) => (b.val.loss < a.val.loss ? b : a),
    finiteLoss[0] ?? last,
  );
  const gap = last.train.accuracy - last.val.accuracy;
  const lossRose = lowest.epoch < last.epoch && last.val.loss > 1.1 * lowest.val.loss &&
    last.train.loss < lowest.train.loss;
  const maxEpochs = run.config.epochs;
  const bestAcc = Math.max(...h.map((e) => e.val.accuracy).filter(Number.isFinite));
  const stillImproving = lowest.epoch === last.epoch || last.val.accuracy >= bestAcc;
  return {
    epochsRun: h.length,
    maxEpochs,
    lastEpoch: last.epoch,
    accuracyGap: gap,
    trainAccuracy: last.train.accuracy,
    valAccuracy: last.val.accuracy,
    bestLossEpoch: lowest.epoch,
    bestValLoss: lowest.val.loss,
    lastValLoss: last.val.loss,
    overfitting: gap > OVERFIT_GAP || lossRose,
    undertrained: !run.summary.stoppedEarly && h.length >= maxEpochs && stillImproving,
  };
}

/** Validation confusion counts of the kept model at `threshold` (default 0.5, as Keras). */
export function valConfusion(run: RunRecord, threshold = 0.5) {
  return confusion(run.val.y, run.val.prob.map((p) => (p >= threshold ? 1 : 0)));
}

/** The validation confusion matrix (at 0.5) of a run as a heatmap. */
export function runConfusion(run: RunRecord): string {
  return binaryConfusionHeatmap(valConfusion(run), {
    title: `${run.name}: validation confusion matrix (threshold 0.5)`,
  });
}

/**
 * One row of facts about a run: data used, epochs, time, params, validation metrics at 0.5 and the
 * stored threshold (the run, model and input are in {@link runFactsCaption}).
 */
export function runFacts(run: RunRecord): Record<string, string | number> {
  const { summary: sm, threshold: t } = run;
  return {
    "train images": sm.trainImages,
    "val images": sm.valImages,
    "epochs (best)": `${sm.epochsRun} (${sm.bestEpoch})`,
    "trainable params": sm.trainableParams,
    "time (s)": Math.round(sm.totalTimeS),
    accuracy: sm.val.accuracy,
    recall: sm.val.recall,
    precision: sm.val.precision,
    F1: sm.val.f1,
    AUC: sm.val.auc,
    "stored threshold": t.threshold,
  };
}

/** The caption of {@link runFacts}: run, model, input, and what the metrics are. */
export function runFactsCaption(run: RunRecord): string {
  const c = run.config;
  return `Run ${run.name} (${c.model}, input ${c.size}x${c.size}x${c.channels}); validation ` +
    "metrics at 0.5";
}

/**
 * Everything a model chapter shows for a run: facts, the five curves in one row, the confusion
 * heatmap (the architecture is shown before training, by `describeModel`).
 */
export function runReport(run: RunRecord): string[] {
  return [
    rowsToHtml([runFacts(run)], { caption: runFactsCaption(run) }),
    runCurves(run),
    runConfusion(run),
  ];
}
