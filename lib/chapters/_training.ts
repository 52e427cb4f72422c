/**
 * Training for the report: each model chapter trains one run with the profile's settings, or
 * reuses a finished run with the same config and data (its own folder's, or another chapter's:
 * then the two names share one folder), or resumes an interrupted one at its last finished epoch
 * (so reruns, later chapters and a report killed mid-training repeat no work), and shows it as
 * the original did: curves per epoch and the validation confusion
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
import { runDir, splits } from "./_context.ts";
import { basename, dirname, join, relative } from "node:path";
import { readJson, writeJsonAtomic } from "../util/atomic.ts";
import { sha256Hex } from "../util/hash.ts";
import type { ReportSettings } from "../report/settings.ts";
import { notebookProgress } from "../report/live_display.ts";

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
    ...(s.labels ? { labels: s.labels } : {}),
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
 * What identifies a run's work: its resolved config without the name and folder, and the
 * manifest (patient-level split) of the data it was trained on. Two chapters that ask for the
 * same key get the same model, so they share one run folder.
 */
export function runKey(cfg: TrainConfig, manifest: string): string {
  const { name: _n, out: _o, ...rest } = cfg;
  // A config saved before a field existed counts at that field's old meaning (as sameConfig).
  const norm = {
    ...rest,
    chestRegion: cfg.chestRegion ?? "none",
    intensity: cfg.intensity ?? "none",
    augmentation: cfg.augmentation ?? "standard",
    weightAverage: cfg.weightAverage ?? null,
    mixup: cfg.mixup ?? null,
  };
  return sha256Hex(JSON.stringify({ cfg: sortKeys(norm), manifest })).slice(0, 16);
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === "object") {
    return Object.fromEntries(
      Object.keys(v).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
    );
  }
  return v;
}

/** The file a report's run folder keeps its {@link runKey} in (written when training ends). */
export const RUN_KEY_FILE = "run_key.json";

interface StoredKey {
  key: string;
  manifest: string;
}

async function storedKey(dir: string): Promise<StoredKey | null> {
  return await readJson<StoredKey>(join(dir, RUN_KEY_FILE)).catch(() => null);
}

/**
 * A finished run folder of `runsDir` (not a link) whose stored key is `key`, other than
 * `except`; null when none.
 */
export async function findRunByKey(
  runsDir: string,
  key: string,
  except: string,
): Promise<string | null> {
  let entries: Deno.DirEntry[] = [];
  try {
    entries = await Array.fromAsync(Deno.readDir(runsDir));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (!e.isDirectory || e.name === except) continue;
    const dir = join(runsDir, e.name);
    if ((await storedKey(dir))?.key === key && (await isFinishedRun(dir))) return dir;
  }
  return null;
}

/** What {@link trainOrReuse} did with a run (for the log and the tests). */
export type RunOutcome = "reused" | "shared" | "resumed" | "trained";

/**
 * Gets a chapter's run, doing no work twice:
 * - the run folder of this name holds a finished run with the same config (and, when it recorded
 *   one, the same data manifest): reused;
 * - another run folder of the report holds a finished run with the same {@link runKey} (another
 *   chapter asked for the same model under its own name): this name becomes a link to it;
 * - the folder holds an interrupted run of the same config (a checkpoint): training resumes
 *   after its last finished epoch;
 * - else the folder is emptied and the run trained, on every core ({@link defaultTrainWorkers}).
 * Unless the settings ask for fresh runs. Progress lines go to the notebook.
 */
export async function trainOrReuse(
  s: ReportSettings,
  spec: RunSpec,
  log: (line: string) => void = (l) => console.log(l),
  onOutcome?: (o: RunOutcome) => void,
): Promise<RunRecord> {
  const cfg = chapterConfig(s, spec);
  const manifest = basename((await splits(s)).manifestPath);
  const key = runKey(cfg, manifest);
  const saved = await readRunConfig(cfg.out);
  // sameConfig: a config saved before a field existed counts at that field's old meaning.
  const same = sameConfig(saved, cfg) &&
    ((await storedKey(cfg.out))?.manifest ?? manifest) === manifest;
  if (!s.fresh && same && (await isFinishedRun(cfg.out))) {
    log(`${spec.name}: reusing the finished run in ${cfg.out} (same config)`);
    onOutcome?.("reused");
    return await readRunRecord(cfg.out);
  }
  const other = s.fresh ? null : await findRunByKey(s.runsDir, key, spec.name);
  if (other) {
    await removeIfExists(cfg.out);
    await Deno.mkdir(dirname(cfg.out), { recursive: true });
    await Deno.symlink(relative(dirname(cfg.out), other), cfg.out);
    log(`${spec.name}: the same model as run ${basename(other)} (same config and data): shared`);
    onOutcome?.("shared");
    return await readRunRecord(cfg.out);
  }
  const resume = !s.fresh && same && (await hasCheckpoint(cfg.out));
  if (!resume) await removeIfExists(cfg.out);
  else log(`${spec.name}: resuming the interrupted run in ${cfg.out}`);
  // A display that updates in place in the notebook, and the report's progress file.
  await train(cfg, { log, resume, progress: notebookProgress() });
  await writeJsonAtomic(join(cfg.out, RUN_KEY_FILE), { key, manifest } satisfies StoredKey);
  onOutcome?.(resume ? "resumed" : "trained");
  return await readRunRecord(cfg.out);
}

async function hasCheckpoint(dir: string): Promise<boolean> {
  return await Deno.stat(join(dir, "checkpoint", "state.json")).then((x) => x.isFile, () => false);
}

/** Removes a run folder, or the link a shared run left in its place. */
async function removeIfExists(path: string): Promise<void> {
  await Deno.remove(path, { recursive: true }).catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  });
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
  /** Early stopping ended the run (its patience ran out), not the epoch limit. */
  converged: boolean;
  /**
   * The kept model learned nothing: it gives every validation image the same score (ROC-AUC
   * exactly 0.5, one class predicted for all). Then "converged" only means validation accuracy
   * never left the class share.
   */
  learnedNothing: boolean;
  /** For {@link learnedNothing}: the class it predicts for every image (1 = PNEUMONIA). */
  constantClass: 0 | 1 | null;
  /**
   * For a run that did not converge: the fewest epochs after which early stopping could end it,
   * its best epoch plus the patience (a lower bound: a later gain moves it on); else null.
   */
  epochsNeeded: number | null;
  /** {@link epochsNeeded} at the run's mean epoch time, in seconds; null when unknown. */
  secondsNeeded: number | null;
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
  const patience = run.config.earlyStopping?.patience;
  const needed = Number.isFinite(patience) && run.summary.bestEpoch >= 1
    ? Math.max(h.length + 1, run.summary.bestEpoch + patience!)
    : null;
  const meanEpoch = run.summary.meanEpochTimeS;
  const v = run.summary.val;
  const constant = v && Math.abs(v.auc - 0.5) < 1e-9 && (v.recall === 1 || v.recall === 0)
    ? v.recall as 0 | 1
    : null;
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
    converged: run.summary.stoppedEarly,
    learnedNothing: constant !== null,
    constantClass: constant,
    epochsNeeded: run.summary.stoppedEarly ? null : needed,
    secondsNeeded: run.summary.stoppedEarly || !(meanEpoch > 0) || needed === null
      ? null
      : needed * meanEpoch,
  };
}

/**
 * What a run that learned nothing did, in words (empty for any other run): one score for every
 * image, and why early stopping still ended it.
 */
export function learnedNothingNote(run: RunRecord): string {
  const d = trainingDiagnosis(run);
  if (!d.learnedNothing) return "";
  return `${run.name} learned nothing: it gives every validation image the same score ` +
    `(ROC-AUC 0.500, ${d.constantClass === 1 ? "PNEUMONIA" : "NORMAL"} for all), so its ` +
    `accuracy is the class share; ${
      d.converged
        ? `early stopping ended it at epoch ${d.epochsRun} because validation accuracy ` +
          "never moved"
        : `it ran to the epoch limit (${d.epochsRun}) with its validation accuracy never moving`
    }. In a small ReLU network the usual cause is units that ` +
    "stopped responding (dead ReLUs) after the first large updates";
}

/** "12 min" or "45 s" or "2.1 h". */
function duration(s: number): string {
  return s >= 5400
    ? `${(s / 3600).toFixed(1)} h`
    : s >= 90
    ? `${Math.round(s / 60)} min`
    : `${Math.round(s)} s`;
}

/**
 * For a run the epoch limit stopped (not converged): what budget it would need, in one
 * sentence; "" for a converged run.
 */
export function budgetNote(run: RunRecord): string {
  const d = trainingDiagnosis(run);
  if (d.converged) return "";
  const patience = run.config.earlyStopping?.patience;
  const need = d.epochsNeeded === null
    ? "more epochs"
    : `at least ${d.epochsNeeded} epochs (best epoch ${run.summary.bestEpoch} + patience ${patience})`;
  const time = d.secondsNeeded === null
    ? ""
    : `, about ${duration(d.secondsNeeded)} at its ${
      run.summary.meanEpochTimeS.toFixed(0)
    } s per epoch`;
  return `${run.name} stopped at its limit of ${d.maxEpochs} epochs before early stopping ` +
    `ended it (not converged); to converge it needs ${need}${time}` +
    (d.epochsNeeded === null ? "" : ` (\`--set epochs=${d.epochsNeeded}\`)`) + ".";
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
