/**
 * Training for the report: each model chapter trains one run with the profile's settings, or
 * reuses the finished run folder when its saved config is the same (so reruns and later chapters
 * cost nothing), and shows it as the original did: curves per epoch and the validation confusion
 * matrix.
 * @module
 */
import { join } from "node:path";
import { binaryConfusionHeatmap } from "../charts/heatmap.ts";
import { trainingCurve } from "../charts/lines.ts";
import { rowsToHtml } from "../charts/table.ts";
import { confusion } from "../metrics/classification.ts";
import { getModelSpec } from "../models/registry.ts";
import {
  resolveConfig,
  sameConfig,
  type TrainConfig,
  type TrainConfigInput,
} from "../train/config.ts";
import { train } from "../train/train.ts";
import { readJson } from "../util/atomic.ts";
import { isFinishedRun, readRunRecord, runDir, type RunRecord } from "./_context.ts";
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
    epochs: spec.epochs ?? s.profile.epochs,
    earlyStopping: { metric: "val_accuracy", patience: s.profile.patience },
    balance: spec.balance ?? "none",
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
    const saved = await readJson<TrainConfig>(join(cfg.out, "config.json")).catch(() => null);
    // sameConfig: a config saved before a field existed counts at that field's old meaning.
    if (sameConfig(saved, cfg)) {
      log(`${spec.name}: reusing the finished run in ${cfg.out} (same config)`);
      return await readRunRecord(cfg.out);
    }
  }
  await train(cfg, { log });
  return await readRunRecord(cfg.out);
}

const CURVE_METRICS = ["loss", "accuracy", "recall", "precision", "f1"] as const;

/** Train and validation curves per epoch of loss, accuracy, recall, precision and F1. */
export function runCurves(run: RunRecord): string[] {
  return CURVE_METRICS.map((m) =>
    trainingCurve(
      run.history.map((h) => ({ epoch: h.epoch, train: h.train[m], val: h.val[m] })),
      m,
      { title: `${run.name}: ${m}` },
    )
  );
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

/** One row of facts about a run: model, data used, epochs, time, params, val metrics. */
export function runFacts(run: RunRecord): Record<string, string | number> {
  const { summary: sm, config: c, threshold: t } = run;
  return {
    run: run.name,
    model: c.model,
    input: `${c.size}x${c.size}x${c.channels}`,
    "train images": sm.trainImages,
    "val images": sm.valImages,
    epochs: sm.epochsRun,
    "best epoch": sm.bestEpoch,
    "trainable params": sm.trainableParams,
    "time (s)": Math.round(sm.totalTimeS),
    "val accuracy": sm.val.accuracy,
    "val recall": sm.val.recall,
    "val precision": sm.val.precision,
    "val F1": sm.val.f1,
    "val AUC": sm.val.auc,
    threshold: t.threshold,
  };
}

/** Everything a model chapter shows for a run: facts, five curves, the confusion heatmap. */
export function runReport(run: RunRecord): string[] {
  return [
    rowsToHtml([runFacts(run)], { caption: `Run ${run.name}` }),
    ...runCurves(run),
    runConfusion(run),
  ];
}
