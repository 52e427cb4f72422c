/**
 * `deno task train --model NAME --data DIR [--size N] [--epochs N] [--balance none|down|up|weights]
 * [--fraction F] [--seed S] [--out DIR] [--resume]`: trains a registered model on the manifest's
 * patient-level split and writes the run folder (default outputs/runs/<model>-s<seed>).
 *
 * More options: --channels 1|3, --classes 2|3, --batch N, --lr X, --lr-decay X,
 * --optimizer adam|sgd|rmsprop, --patience N, --stop-metric val_accuracy|val_auc|val_loss|val_f1,
 * --augment / --no-augment, --target-sensitivity X, --threshold-perturbed K (threshold with a
 * margin: sensitivity >= target also on val pooled with K augmented copies), --base DIR
 * (transfer), --name NAME, --chest-region none|crop|mask (crop or mask every image to the
 * central chest box right after loading; stored in the run's preprocessing.json),
 * --intensity none|standardize|equalize|clahe (per-image intensity normalisation after loading,
 * also stored there and applied by every prediction), --augmentation standard|strong|framing,
 * --average-from EPOCH (weight averaging from that epoch on, lib/train/weight_average.ts),
 * --mixup A (mixup with Beta(A, A) weights, lib/train/mixup.ts),
 * --unlabelled DIR [--pseudo-threshold 0.95,0.05] [--pseudo-from EPOCH] [--pseudo-weight W]
 * (self-training with confident, class-balanced pseudo-labels on DIR's images, whose folder
 * names are ignored; lib/train/pseudo.ts),
 * --backend webgpu|wasm|cpu|..., --workers N (data-parallel worker replicas,
 * lib/train/parallel/trainer.ts; default from defaultTrainWorkers in lib/train/parallel/workers.ts:
 * 0 = this thread on the GPU backends and, when the wasm kernels run on several threads
 * (XRAY_WASM_THREADS, default the cores), for every model but a convolutional one of at most 300k
 * parameters at 128 px or more (there 2, measured faster), else 2 on a multi-core machine; a
 * resumed run equals an uninterrupted one with the same number of workers),
 * --list (the registered models).
 * @module
 */
import { basename, join } from "node:path";
import { type BackendChoice, describeBackend, initBackend } from "../backend/select.ts";
import { listModels } from "../models/registry.ts";
import type { Preprocessing } from "../models/types.ts";
import { AUGMENTATION_STRENGTHS } from "../train/augment.ts";
import { resolveConfig, type TrainConfig } from "../train/config.ts";
import { terminalProgress } from "../train/progress.ts";
import type { PseudoConfig } from "../train/pseudo.ts";
import { train } from "../train/train.ts";
import { readJson } from "../util/atomic.ts";
import { type CliSpec, helpText, parseCli, runCli, UsageError } from "./_args.ts";
import { DATA_FLAGS, dataSource } from "./_data_flags.ts";

/** Off a terminal, a batch progress line at most this often (an epoch can take many minutes). */
const TRAIN_LOG_EVERY_S = 60;

/** The train command's flags. */
export const TRAIN_CLI = {
  name: "train",
  synopsis: [
    "--model NAME --data DIR [--size N] [--epochs N] [--balance none|down|up|weights] " +
    "[--fraction F] [--seed S] [--out DIR] [--resume] [more flags: --help]",
    "--model NAME --data DIR --labels FILE [--format rsna|nih|chexpert|csv] [...]",
    "--resume --out DIR",
    "--list",
  ],
  about: "Trains a registered model on the manifest's patient-level split and writes the run " +
    "folder (default outputs/runs/<model>-s<seed>).",
  flags: {
    model: { type: "string", arg: "NAME", help: "registered model (--list lists them)" },
    data: {
      type: "string",
      arg: "DIR",
      help: "dataset root (Kaggle layout or class folders), or the images of --labels",
    },
    ...DATA_FLAGS,
    size: { type: "number", arg: "N", integer: true, min: 1, help: "input side in pixels" },
    epochs: { type: "number", arg: "N", integer: true, min: 1, help: "most epochs" },
    balance: {
      type: "string",
      choices: ["none", "down", "up", "weights"],
      help: "class balancing of the training split",
    },
    fraction: { type: "number", arg: "F", help: "share of the training split used, in (0, 1]" },
    seed: { type: "number", arg: "S", integer: true, help: "seed of everything random" },
    out: { type: "string", arg: "DIR", help: "run folder" },
    resume: { type: "boolean", help: "continue the run in --out from its last checkpoint" },
    channels: { type: "number", arg: "1|3", integer: true, help: "grayscale or RGB input" },
    classes: {
      type: "number",
      arg: "2|3",
      integer: true,
      help: "NORMAL/PNEUMONIA, or normal/bacteria/virus",
    },
    batch: { type: "number", arg: "N", integer: true, min: 1, help: "batch size" },
    lr: { type: "number", arg: "X", help: "learning rate" },
    "lr-decay": { type: "number", arg: "X", help: "learning rate factor per epoch, in (0, 1]" },
    optimizer: {
      type: "string",
      choices: ["adam", "sgd", "rmsprop"],
      help: "optimizer (sgd has momentum 0.9)",
    },
    patience: { type: "number", arg: "N", integer: true, min: 1, help: "early-stopping patience" },
    "stop-metric": {
      type: "string",
      choices: ["val_accuracy", "val_auc", "val_loss", "val_f1"],
      help: "early-stopping metric",
    },
    augment: { type: "boolean", help: "seeded augmentation while training" },
    "no-augment": { type: "boolean", help: "no augmentation" },
    "target-sensitivity": {
      type: "number",
      arg: "X",
      help: "the stored threshold keeps validation sensitivity >= X (default 0.95)",
    },
    "threshold-perturbed": {
      type: "number",
      arg: "K",
      integer: true,
      min: 0,
      help: "threshold with a margin: sensitivity >= target also on val pooled with K augmented " +
        "copies",
    },
    base: { type: "string", arg: "DIR", help: "frozen base of the transfer model" },
    name: { type: "string", arg: "NAME", help: "run name (default: the --out folder's name)" },
    "chest-region": {
      type: "string",
      choices: ["none", "crop", "mask"],
      help: "crop or mask every image to the central chest box right after loading (stored in " +
        "the run's preprocessing.json)",
    },
    intensity: {
      type: "string",
      choices: ["none", "standardize", "equalize", "clahe"],
      help: "per-image intensity normalisation right after loading (stored in the run's " +
        "preprocessing.json, applied by every prediction)",
    },
    augmentation: {
      type: "string",
      choices: AUGMENTATION_STRENGTHS,
      help: "training augmentation ranges (strong: wider, plus aspect, gamma and noise; " +
        "framing: strong, zooming in up to 1.5x)",
    },
    "average-from": {
      type: "number",
      arg: "EPOCH",
      integer: true,
      min: 1,
      help: "weight averaging: from this epoch on, validation judges (and the run keeps) the " +
        "mean of the weights of every epoch since",
    },
    mixup: {
      type: "number",
      arg: "A",
      min: 0.01,
      help: "mixup: train on convex combinations of image pairs and their labels, the weight " +
        "drawn from Beta(A, A) (0.2 in the paper)",
    },
    unlabelled: {
      type: "string",
      arg: "DIR",
      help: "self-training: images of this folder (labels in its folder names ignored) get " +
        "confident pseudo-labels from the run's own model and join training (lib/train/pseudo.ts)",
    },
    "pseudo-threshold": {
      type: "string",
      arg: "HIGH,LOW",
      help: "with --unlabelled: P(pneumonia) >= HIGH is pseudo-labelled PNEUMONIA, <= LOW " +
        "NORMAL (default 0.95,0.05)",
    },
    "pseudo-from": {
      type: "number",
      arg: "EPOCH",
      integer: true,
      min: 1,
      help: "with --unlabelled: the model scores the unlabelled images after this epoch and " +
        "every later one; each choice trains the next epoch (default 1)",
    },
    "pseudo-weight": {
      type: "number",
      arg: "W",
      help: "with --unlabelled: loss weight of a pseudo-labelled image, times its class weight " +
        "(default 1)",
    },
    backend: { type: "string", arg: "NAME", help: "TF.js backend (webgpu, wasm, cpu, ...)" },
    workers: {
      type: "number",
      arg: "N",
      integer: true,
      min: 0,
      help: "data-parallel worker replicas (default: 2 on a multi-core machine where they " +
        "were measured faster, see lib/train/parallel/workers.ts; 0 = this thread)",
    },
    list: { type: "boolean", help: "list the registered models" },
  },
} as const satisfies CliSpec;

/** The pseudo-labelling config of the flags (null without --unlabelled). */
export function pseudoOf(v: {
  unlabelled?: string;
  "pseudo-threshold"?: string;
  "pseudo-from"?: number;
  "pseudo-weight"?: number;
}): PseudoConfig | null {
  if (!v.unlabelled) {
    const stray = (["pseudo-threshold", "pseudo-from", "pseudo-weight"] as const)
      .find((k) => v[k] !== undefined);
    if (stray) throw new UsageError(`--${stray} needs --unlabelled DIR`);
    return null;
  }
  const t = (v["pseudo-threshold"] ?? "0.95,0.05").split(",").map((x) => Number(x.trim()));
  if (t.length !== 2 || !t.every(Number.isFinite) || !(t[0] > t[1])) {
    throw new UsageError(
      `--pseudo-threshold must be HIGH,LOW with HIGH > LOW, got "${v["pseudo-threshold"]}"`,
    );
  }
  return {
    unlabelled: v.unlabelled,
    high: t[0],
    low: t[1],
    fromEpoch: v["pseudo-from"] ?? 1,
    weight: v["pseudo-weight"] ?? 1,
  };
}

/** Runs the train command with `args` (without the program name). */
export async function main(args: string[]): Promise<void> {
  const { values: v, help } = parseCli(TRAIN_CLI, args);
  if (help) return console.log(helpText(TRAIN_CLI));
  if (v.list) {
    for (const m of listModels()) {
      console.log(
        `${m.name.padEnd(15)} ${m.defaultSize}x${m.defaultSize}x${m.channels}  ${m.description}`,
      );
    }
    return;
  }
  const info = await initBackend({ prefer: v.backend as BackendChoice | undefined });
  console.log(describeBackend(info));
  if (v.resume) {
    if (!v.out) throw new UsageError("--resume needs --out DIR (the run folder to continue)");
    const cfg = await readJson<TrainConfig>(join(v.out, "config.json"));
    const bar = terminalProgress({ logEveryS: TRAIN_LOG_EVERY_S });
    await train(cfg, {
      resume: true,
      workers: v.workers, // undefined: train() decides with the model (defaultTrainWorkers)
      progress: bar,
      log: bar.log,
    });
    return;
  }
  if (!v.model || !v.data) throw new UsageError("--model and --data are required");
  const seed = v.seed;
  // A pretrained base saved by extract_base.ts says which input size and pixel scaling it expects.
  const basePre = v.base
    ? await readJson<Preprocessing>(join(v.base.replace(/model\.json$/, ""), "preprocessing.json"))
      .catch(() => null)
    : null;
  const patience = v.patience;
  const src = dataSource(v.data, v);
  const cfg = resolveConfig({
    model: v.model,
    data: v.data,
    labels: src.labels,
    format: src.format,
    labelPolicy: src.policy,
    out: v.out,
    name: v.name ?? (v.out ? basename(v.out) : undefined),
    size: v.size ?? basePre?.size,
    scaling: basePre ? { scale: basePre.scale, mean: basePre.mean, std: basePre.std } : undefined,
    epochs: v.epochs,
    balance: v.balance,
    fraction: v.fraction,
    seed,
    channels: v.channels as 1 | 3 | undefined,
    classes: v.classes as 2 | 3 | undefined,
    batchSize: v.batch,
    learningRate: v.lr,
    lrDecay: v["lr-decay"],
    optimizer: v.optimizer,
    earlyStopping: v["stop-metric"] || patience !== undefined
      ? {
        metric: v["stop-metric"] ?? "val_accuracy",
        patience: patience ?? 8,
      }
      : undefined,
    augment: v["no-augment"] ? false : v.augment ? true : undefined,
    threshold: v["target-sensitivity"] || v["threshold-perturbed"]
      ? {
        targetSensitivity: v["target-sensitivity"] ?? 0.95,
        perturbedCopies: v["threshold-perturbed"] ?? 0,
      }
      : undefined,
    basePath: v.base,
    chestRegion: v["chest-region"],
    intensity: v.intensity,
    augmentation: v.augmentation,
    weightAverage: v["average-from"] ? { fromEpoch: v["average-from"] } : undefined,
    mixup: v.mixup,
    pseudo: pseudoOf(v),
  });
  // A bar on a terminal; in logs the epoch lines with the run's ETA, and a batch line a minute.
  const bar = terminalProgress({ logEveryS: TRAIN_LOG_EVERY_S });
  await train(cfg, {
    workers: v.workers, // undefined: train() decides with the model (defaultTrainWorkers)
    progress: bar,
    log: bar.log,
  });
}

if (import.meta.main) await runCli("train", () => main(Deno.args), TRAIN_CLI);
