/**
 * The training engine: one seeded loop for every registered model, with per-epoch metrics,
 * early stopping, a checkpoint every epoch (`resume`), and a run folder that evaluation and
 * prediction rebuild the model from.
 *
 * @example
 * ```ts
 * import { initBackend } from "../backend/select.ts";
 * import { resolveConfig } from "./config.ts";
 * import { train } from "./train.ts";
 * await initBackend();
 * const result = await train(resolveConfig({ model: "compact", data: "data/chest_xray" }));
 * console.log(result.summary.val);
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";
import { join } from "node:path";
import { CLASS_NAMES } from "../data/types.ts";
import { loadModel, saveModel } from "../models/io.ts";
import { createModel, preprocessingFor } from "../models/registry.ts";
import type { Preprocessing } from "../models/types.ts";
import { readJson, writeFileAtomic, writeJsonAtomic } from "../util/atomic.ts";
import { makeRng } from "../util/rng.ts";
import { formatMetric } from "../metrics/format.ts";
import { loadCheckpoint, loadCheckpointExtra, saveCheckpoint } from "./checkpoint.ts";
import { chestRegionOf, intensityOf, type TrainConfig } from "./config.ts";
import {
  fitTemperature,
  probsToLogits,
  type TemperatureFit,
  writeCalibration,
} from "../metrics/calibration.ts";
import { storeOod } from "./ood.ts";
import { valPredictionsCsv } from "./run_files.ts";
import type { SplitData, TrainData } from "./batch.ts";
import { loadTrainData, loadUnlabelled } from "./data.ts";
import { PSEUDO_CSV_HEADER, pseudoRows, selectPseudoLabels, unlabelledSplit } from "./pseudo.ts";
import {
  chooseThreshold,
  chooseThresholdWithMargin,
  epochLogLine,
  type EpochMetrics,
  epochMetrics,
  type ThresholdRecord,
} from "./epoch_metrics.ts";
import { predictSplit } from "./score.ts";
import { formatRunEta, type ProgressSink, ProgressTracker } from "./progress.ts";
import { startWorkers, workerStep } from "./parallel/start.ts";
import { defaultTrainWorkers, modelTraits } from "./parallel/workers.ts";
import { cacheFrozenBase } from "./feature_cache.ts";
import {
  localStep,
  lossNameFor,
  makeOptimizer,
  optimizerSpecOf,
  setLearningRate,
  trainEpoch,
} from "./step.ts";
import { recalibrateBatchNorm } from "./batchnorm.ts";
import {
  addToAverage,
  disposeAverage,
  type WeightAverage,
  withAveragedWeights,
} from "./weight_average.ts";

/** One row of metrics.csv. */
export interface EpochRow {
  epoch: number;
  train: EpochMetrics;
  val: EpochMetrics;
  lr: number;
  timeS: number;
  /**
   * Pseudo-labelled images this epoch trained on (runs with `pseudo` only; metrics.csv columns
   * pseudo_pos and pseudo_neg).
   */
  pseudo?: { positives: number; negatives: number };
}

/** summary.json. */
export interface RunSummary {
  model: string;
  trainableParams: number;
  totalParams: number;
  epochsRun: number;
  stoppedEpoch: number;
  stoppedEarly: boolean;
  bestEpoch: number;
  totalTimeS: number;
  meanEpochTimeS: number;
  trainImages: number;
  valImages: number;
  backend: string;
  /** Data-parallel worker replicas used (0 = in-process). */
  workers: number;
  peakRssMB: number;
  /** Validation metrics (at 0.5) of the kept (best) model. */
  val: EpochMetrics;
}

/** What `train` returns. */
export interface RunResult {
  dir: string;
  config: TrainConfig;
  history: EpochRow[];
  summary: RunSummary;
  threshold: ThresholdRecord;
  /**
   * Temperature scaling fitted on the validation predictions of the kept model (binary runs with
   * both classes in validation; also written as calibration.json), else null.
   */
  calibration: TemperatureFit | null;
}

/** Options that are not part of the run's config. */
export interface TrainOptions {
  /** Continue from the run folder's last checkpoint. */
  resume?: boolean;
  /**
   * Data already in memory (tests), used as given (the caller applies `cfg.chestRegion` to it);
   * by default read via the manifest and the image cache, chest region applied.
   */
  data?: TrainData;
  /** Progress lines (default: console.log). */
  log?: (line: string) => void;
  /** Stop (as if interrupted) after this many epochs, leaving the checkpoint: for tests. */
  interruptAfter?: number;
  /**
   * Data-parallel worker replicas (`DataParallelTrainer`, same step as in this thread); 0 trains
   * in this thread; default {@link defaultTrainWorkers} with this model (the one rule the CLI
   * uses too). With workers, each draws its own dropout masks (seeded per epoch from the run's
   * seed and its index): a resumed run equals an uninterrupted one with the same workers, and
   * differs from one trained in this thread.
   */
  workers?: number;
  /**
   * Where progress goes while training (lib/train/progress.ts: a terminal bar, a Jupyter display,
   * the report's progress file); the epoch log lines carry the run's ETA either way.
   */
  progress?: ProgressSink | null;
  /**
   * Compute a frozen pretrained base once per image when nothing augments its input (default
   * true; the result is the same either way: lib/train/feature_cache.ts).
   */
  featureCache?: boolean;
  /**
   * Above this many bytes of decoded pixels, stream them from the packed decode cache on disk
   * (default `STREAM_ABOVE_BYTES` of lib/train/data.ts; 0: always).
   */
  streamAboveBytes?: number;
}

interface TrainerState {
  epoch: number;
  best: number;
  bestEpoch: number;
  wait: number;
  history: EpochRow[];
  elapsedS: number;
  peakRssMB: number;
  /** The pseudo-labels the next epoch trains on (runs with `pseudo`; null before any). */
  pseudo?: { index: number[]; label: number[] } | null;
}

const METRIC_KEYS = ["loss", "accuracy", "recall", "precision", "f1", "auc"] as const;
const fmt = (v: number) => formatMetric(v, 4);

function metricsCsv(rows: EpochRow[], pseudo = false): string {
  const head = ["epoch", ...METRIC_KEYS, ...METRIC_KEYS.map((k) => `val_${k}`), "lr", "time_s"];
  if (pseudo) head.push("pseudo_pos", "pseudo_neg");
  const lines = rows.map((r) =>
    [
      r.epoch,
      ...METRIC_KEYS.map((k) => r.train[k]),
      ...METRIC_KEYS.map((k) => r.val[k]),
      r.lr,
      r.timeS.toFixed(2),
      ...(pseudo ? [r.pseudo?.positives ?? 0, r.pseudo?.negatives ?? 0] : []),
    ].join(",")
  );
  return [head.join(","), ...lines].join("\n") + "\n";
}

function stopValue(cfg: TrainConfig, v: EpochMetrics): number {
  const key = cfg.earlyStopping.metric.slice(4) as keyof EpochMetrics;
  return cfg.earlyStopping.metric === "val_loss" ? -v.loss : v[key];
}

/**
 * Whether an epoch with validation metrics `val` improves on the best so far (`best` its score
 * and validation ROC-AUC; none yet when `bestEpoch` is 0): a higher score or, where the score is
 * validation accuracy or F1, the same score with a higher validation ROC-AUC. The tie-break
 * matters on a plateau: a model that still calls every validation image the majority class keeps
 * the same accuracy epoch after epoch while it learns to rank them (its ROC-AUC rising), and
 * without it patience ran out just before its accuracy moved (a rounding difference in a kernel
 * decided whether cnn_reg's quick run escaped in time). A model that learned nothing gives every
 * image one score, ROC-AUC 0.5 epoch after epoch, and still stops. (Its validation loss is no
 * tie-break: it keeps falling as the one score nears the class share.)
 */
export function improvesOn(
  cfg: TrainConfig,
  val: EpochMetrics,
  best: { score: number; auc: number; bestEpoch: number },
): boolean {
  // The first epoch always counts (its metric may be NaN, e.g. AUC on a one-class split).
  if (best.bestEpoch === 0) return true;
  const score = stopValue(cfg, val);
  const byRank = cfg.earlyStopping.metric === "val_accuracy" ||
    cfg.earlyStopping.metric === "val_f1";
  return score > best.score || (byRank && score === best.score && val.auc > best.auc);
}

function countParams(vars: tfl.LayerVariable[]): number {
  return vars.reduce((s, v) => s + v.shape.reduce((a: number, b) => a * (b ?? 1), 1), 0);
}

async function valMetrics(
  model: tfl.LayersModel,
  split: SplitData,
  cfg: TrainConfig,
  pre: Preprocessing,
) {
  const p = await predictSplit(model, split, pre, cfg.classes);
  const y = Array.from(split.labels, (l) => (l > 0 ? 1 : 0));
  return { y, p, metrics: epochMetrics(y, p) };
}

/**
 * Trains `cfg.model` as configured and writes the run folder `cfg.out`. With `resume`, reads
 * the saved config and checkpoint and continues; the result equals an uninterrupted run.
 * The TF.js backend must be initialised first (`initBackend`).
 */
export async function train(cfg: TrainConfig, opts: TrainOptions = {}): Promise<RunResult> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const dir = cfg.out;
  const ckptDir = join(dir, "checkpoint");
  if (opts.resume) {
    cfg = await readJson<TrainConfig>(join(dir, "config.json"));
  } else {
    await writeJsonAtomic(join(dir, "config.json"), cfg);
  }
  const pre = preprocessingFor(cfg.model, cfg);
  const data = opts.data ??
    await loadTrainData(cfg, log, { streamAboveBytes: opts.streamAboveBytes });
  for (const w of data.warnings) log(`warning: ${w}`);
  const unlabelled = cfg.pseudo ? await loadUnlabelled(cfg, log) : null;
  const pseudoFile = join(dir, "pseudo_labels.csv");
  let pseudoLog: string[] = [];
  const model = await createModel(cfg.model, {
    size: cfg.size,
    channels: cfg.channels,
    seed: cfg.seed,
    classes: cfg.classes,
    basePath: cfg.basePath ?? undefined,
  });
  const workers = opts.workers ??
    defaultTrainWorkers(cfg, tf.getBackend(), undefined, modelTraits(model));
  // A frozen pretrained base sees the same images every epoch when nothing augments them: its
  // output per image is computed once (exact; lib/train/feature_cache.ts). CPU backends only.
  const featureCache = (opts.featureCache ?? true) && !cfg.augment && !cfg.mixup && workers === 0 &&
      ["wasm", "cpu"].includes(tf.getBackend())
    ? cacheFrozenBase(model)
    : null;
  const opt = makeOptimizer(optimizerSpecOf(cfg));
  let st: TrainerState = {
    epoch: 0,
    best: -Infinity,
    bestEpoch: 0,
    wait: 0,
    history: [],
    elapsedS: 0,
    peakRssMB: 0,
  };
  let average: WeightAverage | null = null;
  if (opts.resume) {
    const loaded = await loadCheckpoint<TrainerState>(ckptDir, model, opt);
    if (!loaded) throw new Error(`--resume: no checkpoint in ${ckptDir}; start the run afresh`);
    st = loaded;
    // The weight average so far (stored with the checkpoint once averaging has begun).
    const mean = await loadCheckpointExtra(ckptDir);
    if (mean.length > 0 && cfg.weightAverage) {
      average = { mean, count: st.epoch - cfg.weightAverage.fromEpoch + 1 };
    } else tf.dispose(mean);
    if (unlabelled) {
      // The pseudo-labels chosen so far (later epochs' rows came after the checkpoint).
      const text = await Deno.readTextFile(pseudoFile).catch(() => "");
      pseudoLog = text.split("\n").slice(1).filter((l) => l && Number(l.split(",")[0]) <= st.epoch);
    }
    log(`resuming ${cfg.name} after epoch ${st.epoch}`);
  }
  const classes = cfg.classes === 2 ? [...CLASS_NAMES] : ["normal", "bacteria", "virus"];
  await writeJsonAtomic(join(dir, "preprocessing.json"), {
    ...pre,
    chestRegion: chestRegionOf(cfg),
    intensity: intensityOf(cfg),
  });
  await writeJsonAtomic(join(dir, "classes.json"), classes);
  log(
    `${cfg.name}: ${cfg.model} ${cfg.size}x${cfg.size}x${cfg.channels}, ` +
      `${data.train.records.length} train / ${data.val.records.length} val images, ` +
      `${countParams(model.trainableWeights)} trainable params, backend ${tf.getBackend()}` +
      (workers > 0 ? `, ${workers} workers` : ""),
  );
  let trainer: Awaited<ReturnType<typeof startWorkers>> | null = null;
  if (workers > 0) {
    const state = await opt.getWeights();
    trainer = await startWorkers(model, cfg, workers, state);
    for (const t of state) if (!(t.tensor instanceof tf.Variable)) t.tensor.dispose();
  }
  const optState = trainer ? { getWeights: () => trainer!.optimizerWeights() } : opt;
  const step = trainer ? workerStep(trainer) : localStep(model, opt, lossNameFor(cfg.classes));
  const tracker = new ProgressTracker(opts.progress ?? { minIntervalMs: Infinity, update() {} }, {
    run: cfg.name,
    maxEpochs: cfg.epochs,
    patience: cfg.earlyStopping.patience,
    batchSize: cfg.batchSize,
    imagesPerEpoch: data.train.records.length,
    history: st.history.map((h) => ({
      epoch: h.epoch,
      loss: h.train.loss,
      valLoss: h.val.loss,
      accuracy: h.train.accuracy,
      valAccuracy: h.val.accuracy,
      timeS: h.timeS,
    })),
    bestEpoch: st.bestEpoch,
    wait: st.wait,
  });
  const random = Math.random;
  let interrupted = false;
  try {
    while (st.epoch < cfg.epochs && st.wait < cfg.earlyStopping.patience) {
      const epoch = st.epoch + 1;
      const lr = cfg.learningRate * cfg.lrDecay ** (epoch - 1);
      setLearningRate(opt, lr);
      await trainer?.setLearningRate(lr);
      // Dropout draws from Math.random; a per-epoch seed makes it reproducible and resumable
      // (in the workers too: each reseeds from it and its index).
      Math.random = makeRng(cfg.seed * 31337 + epoch);
      await trainer?.reseed(cfg.seed * 31337 + epoch);
      const t0 = performance.now();
      await tracker.startEpoch(epoch);
      let imagesDone = 0;
      const chosen = unlabelled && st.pseudo?.index.length
        ? unlabelledSplit(unlabelled, st.pseudo)
        : null;
      const tr = await trainEpoch(
        step,
        data,
        cfg,
        pre,
        epoch,
        chosen ? { split: chosen, weight: cfg.pseudo!.weight } : undefined,
        {
          onBatch: (done) => {
            tracker.batch(done - imagesDone);
            imagesDone = done;
          },
        },
      );
      if (trainer) await trainer.syncTo(model);
      const recalibrate = () =>
        recalibrateBatchNorm(model, data.train, pre, cfg.batchSize, cfg.seed * 613 + epoch);
      const averaging = cfg.weightAverage && epoch >= cfg.weightAverage.fromEpoch;
      if (averaging) average = addToAverage(model, average);
      // The candidate of this epoch: the model as trained, or the weight average. Its batch-norm
      // statistics are re-estimated on clean images: always for the average (the trained ones
      // belong to other weights), else when the config asks.
      const judge = async () => {
        if (averaging || cfg.recalibrateBatchNorm === true) recalibrate();
        const val = (await valMetrics(model, data.val, cfg, pre)).metrics;
        const score = stopValue(cfg, val);
        const bestAuc = st.history.find((h) => h.epoch === st.bestEpoch)?.val.auc ?? NaN;
        const improved = improvesOn(cfg, val, {
          score: st.best,
          auc: bestAuc,
          bestEpoch: st.bestEpoch,
        });
        if (improved) await saveModel(model, join(dir, "model"));
        return { val, score, improved };
      };
      const { val, score, improved } = averaging
        ? await withAveragedWeights(model, average!, judge)
        : await judge();
      Math.random = random;
      const trainM = epochMetrics(tr.y, tr.p, tr.loss);
      let pseudoNote = "";
      if (unlabelled && epoch >= cfg.pseudo!.fromEpoch && epoch < cfg.epochs) {
        // The model as trained this epoch chooses the next epoch's pseudo-labels.
        const prob = await predictSplit(model, unlabelledSplit(unlabelled), pre, cfg.classes);
        unlabelled.ok.forEach((ok, i) => !ok && (prob[i] = NaN));
        const sel = selectPseudoLabels(prob, cfg.pseudo!);
        st.pseudo = { index: sel.index, label: sel.label };
        pseudoLog.push(...pseudoRows(epoch, unlabelled, prob, sel));
        await writeFileAtomic(pseudoFile, [PSEUDO_CSV_HEADER, ...pseudoLog].join("\n") + "\n");
        const pos = sel.label.filter((l) => l === 1).length;
        pseudoNote = ` | pseudo-labels for epoch ${epoch + 1}: ${pos} pneumonia, ` +
          `${sel.label.length - pos} normal of ${unlabelled.files.length} (confident ` +
          `${sel.confident.positives}/${sel.confident.negatives}, prior ${sel.prior.toFixed(3)})`;
      }
      const timeS = (performance.now() - t0) / 1000;
      const used = chosen
        ? {
          positives: chosen.records.filter((r) => r.y === 1).length,
          negatives: chosen.records.filter((r) => r.y === 0).length,
        }
        : { positives: 0, negatives: 0 };
      st.history.push({
        epoch,
        train: trainM,
        val,
        lr,
        timeS,
        ...(unlabelled ? { pseudo: used } : {}),
      });
      st.elapsedS += timeS;
      st.peakRssMB = Math.max(st.peakRssMB, Deno.memoryUsage().rss / 2 ** 20);
      if (improved) {
        st.best = score;
        st.bestEpoch = epoch;
        st.wait = 0;
      } else st.wait++;
      st.epoch = epoch;
      await writeFileAtomic(join(dir, "metrics.csv"), metricsCsv(st.history, unlabelled !== null));
      await saveCheckpoint(ckptDir, model, optState, st, average?.mean);
      await tracker.endEpoch(
        {
          epoch,
          loss: trainM.loss,
          valLoss: val.loss,
          accuracy: trainM.accuracy,
          valAccuracy: val.accuracy,
          timeS,
        },
        st.wait,
        st.bestEpoch,
      );
      const eta = tracker.snapshot.runEta;
      log(
        epochLogLine({
          epoch,
          epochs: cfg.epochs,
          train: trainM,
          val,
          timeS,
          improved,
          averagedFrom: averaging ? cfg.weightAverage!.fromEpoch : undefined,
        }) +
          pseudoNote +
          (eta && eta.epochsLeftMax > 0 ? ` | run ETA ${formatRunEta(eta)}` : ""),
      );
      if (opts.interruptAfter !== undefined && epoch >= opts.interruptAfter && epoch < cfg.epochs) {
        interrupted = true;
        break;
      }
    }
    await tracker.done(
      interrupted ? "interrupted" : st.epoch >= cfg.epochs ? "limit" : "patience",
    );
  } finally {
    Math.random = random;
    await trainer?.dispose();
    disposeAverage(average);
  }
  opt.dispose();
  if (featureCache) {
    log(
      `frozen base: ${featureCache.computed} images computed once, reused ` +
        `${featureCache.reused} times (no augmentation reaches its input)`,
    );
  }
  // Counted on the model as built: a reloaded model does not keep a nested base's frozen flag.
  const trainableParams = countParams(model.trainableWeights);
  if (interrupted) {
    model.dispose();
    throw new TrainingInterrupted(dir, st.epoch);
  }
  // The kept model is the best epoch's; rebuild it from disk exactly as evaluation will.
  model.dispose();
  const best = await loadModel(join(dir, "model"));
  const v = await valMetrics(best, data.val, cfg, pre);
  const copies = cfg.threshold.perturbedCopies ?? 0;
  const perturbed: number[][] = [];
  for (let k = 0; k < copies; k++) {
    perturbed.push(
      await predictSplit(best, data.val, pre, cfg.classes, 64, cfg.seed * 9973 + k + 1),
    );
  }
  const threshold = copies > 0
    ? chooseThresholdWithMargin(v.y, v.p, perturbed, cfg.threshold.targetSensitivity)
    : chooseThreshold(v.y, v.p, cfg.threshold.targetSensitivity);
  await writeFileAtomic(join(dir, "val_predictions.csv"), valPredictionsCsv(data.val.records, v.p));
  await writeJsonAtomic(join(dir, "threshold.json"), threshold);
  const calibration = await storeCalibration(dir, cfg, v.y, v.p, log);
  try {
    const ood = await storeOod(dir, best, data.train, data.val, pre, {
      data: cfg.data,
      manifest: data.manifestPath,
    });
    log(
      `out-of-scope reference: feature threshold ${ood.features.threshold.toFixed(2)} (ood.json)`,
    );
  } catch (err) {
    // The model is trained and saved; only the out-of-scope checks lack their reference.
    log(
      `warning: no ood.json (${(err as Error).message}); make it with deno task ood --run ${dir}`,
    );
  }
  const summary: RunSummary = {
    model: cfg.model,
    trainableParams,
    totalParams: countParams(best.weights),
    epochsRun: st.epoch,
    stoppedEpoch: st.epoch,
    stoppedEarly: st.epoch < cfg.epochs,
    bestEpoch: st.bestEpoch,
    totalTimeS: st.elapsedS,
    meanEpochTimeS: st.elapsedS / Math.max(1, st.history.length),
    trainImages: data.train.records.length,
    valImages: data.val.records.length,
    backend: tf.getBackend(),
    workers,
    peakRssMB: Math.round(st.peakRssMB),
    val: v.metrics,
  };
  await writeJsonAtomic(join(dir, "summary.json"), summary);
  best.dispose();
  log(
    `done: best epoch ${st.bestEpoch}, val auc ${fmt(v.metrics.auc)}, threshold ` +
      `${threshold.threshold.toFixed(4)} (val sens ${fmt(threshold.atThreshold.sensitivity)}, ` +
      `spec ${fmt(threshold.atThreshold.specificity)}), ${st.elapsedS.toFixed(0)} s -> ${dir}`,
  );
  return { dir, config: cfg, history: st.history, summary, threshold, calibration };
}

/**
 * Fits temperature scaling on the validation predictions (`fitTemperature` on their logits) and
 * writes `<dir>/calibration.json`, for binary runs whose validation holds both classes; other
 * runs get none (a stale file from an earlier run in the folder is removed).
 */
async function storeCalibration(
  dir: string,
  cfg: TrainConfig,
  y: number[],
  p: number[],
  log: (line: string) => void,
): Promise<TemperatureFit | null> {
  const both = y.includes(0) && y.includes(1);
  if (cfg.classes !== 2 || !both) {
    await Deno.remove(join(dir, "calibration.json")).catch(() => {});
    if (cfg.classes === 2) log("no temperature scaling: the validation split has one class only");
    return null;
  }
  const fit = fitTemperature(y, probsToLogits(p));
  await writeCalibration(dir, fit, "val_predictions.csv");
  log(
    `temperature ${fit.temperature.toFixed(3)} on validation (NLL ${fmt(fit.nllBefore)} -> ` +
      `${fmt(fit.nllAfter)}, ECE ${fmt(fit.eceBefore)} -> ${fmt(fit.eceAfter)})`,
  );
  return fit;
}

/** Thrown when `interruptAfter` stops a run early (the checkpoint is on disk). */
export class TrainingInterrupted extends Error {
  constructor(readonly dir: string, readonly epoch: number) {
    super(`training of ${dir} interrupted after epoch ${epoch}; continue with --resume`);
  }
}
