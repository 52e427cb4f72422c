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
 * also stored there and applied by every prediction), --augmentation standard|strong,
 * --backend wasm|cpu, --workers N (data-parallel worker replicas, lib/train/parallel/trainer.ts; default
 * 2 on a multi-core machine, 0 = this thread, which --resume needs for a bit-identical result),
 * --list (the registered models).
 * @module
 */
import { parseArgs } from "node:util";
import { basename, join } from "node:path";
import { type BackendChoice, describeBackend, initBackend } from "../backend/select.ts";
import { listModels } from "../models/registry.ts";
import type { Preprocessing } from "../models/types.ts";
import { resolveConfig, type StopMetric, type TrainConfig } from "../train/config.ts";
import { train } from "../train/train.ts";
import { readJson } from "../util/atomic.ts";

const USAGE = "usage: deno task train --model NAME --data DIR [--size N] [--epochs N] " +
  "[--balance none|down|up|weights] [--fraction F] [--seed S] [--out DIR] [--resume]";

/**
 * Data-parallel workers when --workers is not given: 2 on a machine with 2 or more cores when the
 * optimizer setting allows it
 * (measured on this 2-core machine, idle: compact 128x128x1, 1,043 images, one epoch with val
 * scoring, 27.7 s in-process vs 17.8 s with 2 workers), else 0 (this thread).
 */
export function defaultWorkers(cfg: TrainConfig): number {
  // The workers run adam or sgd at a constant learning rate, on models they can rebuild from
  // JSON (not `transfer` or `finetune`: see lib/train/parallel/epoch.ts).
  const supported = cfg.optimizer !== "rmsprop" && cfg.lrDecay === 1 &&
    cfg.model !== "transfer" && cfg.model !== "finetune";
  return supported && navigator.hardwareConcurrency >= 2 ? 2 : 0;
}

const num = (v: string | undefined, what: string): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`--${what} expects a number, got "${v}"\n${USAGE}`);
  return n;
};

/** Runs the train command with `args` (without the program name). */
export async function main(args: string[]): Promise<void> {
  const { values: v } = parseArgs({
    args,
    options: {
      model: { type: "string" },
      data: { type: "string" },
      size: { type: "string" },
      epochs: { type: "string" },
      balance: { type: "string" },
      fraction: { type: "string" },
      seed: { type: "string" },
      out: { type: "string" },
      resume: { type: "boolean" },
      channels: { type: "string" },
      classes: { type: "string" },
      batch: { type: "string" },
      lr: { type: "string" },
      "lr-decay": { type: "string" },
      optimizer: { type: "string" },
      patience: { type: "string" },
      "stop-metric": { type: "string" },
      augment: { type: "boolean" },
      "no-augment": { type: "boolean" },
      "target-sensitivity": { type: "string" },
      base: { type: "string" },
      name: { type: "string" },
      backend: { type: "string" },
      list: { type: "boolean" },
      help: { type: "boolean" },
      workers: { type: "string" },
      "threshold-perturbed": { type: "string" },
      "chest-region": { type: "string" },
      intensity: { type: "string" },
      augmentation: { type: "string" },
    },
  });
  if (v.help) return console.log(USAGE);
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
    if (!v.out) throw new Error(`--resume needs --out DIR (the run folder to continue)\n${USAGE}`);
    const cfg = await readJson<TrainConfig>(join(v.out, "config.json"));
    await train(cfg, { resume: true, workers: num(v.workers, "workers") ?? defaultWorkers(cfg) });
    return;
  }
  if (!v.model || !v.data) throw new Error(`--model and --data are required\n${USAGE}`);
  const seed = num(v.seed, "seed");
  // A pretrained base saved by extract_base.ts says which input size and pixel scaling it expects.
  const basePre = v.base
    ? await readJson<Preprocessing>(join(v.base.replace(/model\.json$/, ""), "preprocessing.json"))
      .catch(() => null)
    : null;
  const patience = num(v.patience, "patience");
  const cfg = resolveConfig({
    model: v.model,
    data: v.data,
    out: v.out,
    name: v.name ?? (v.out ? basename(v.out) : undefined),
    size: num(v.size, "size") ?? basePre?.size,
    scaling: basePre ? { scale: basePre.scale, mean: basePre.mean, std: basePre.std } : undefined,
    epochs: num(v.epochs, "epochs"),
    balance: v.balance as TrainConfig["balance"] | undefined,
    fraction: num(v.fraction, "fraction"),
    seed,
    channels: num(v.channels, "channels") as 1 | 3 | undefined,
    classes: num(v.classes, "classes") as 2 | 3 | undefined,
    batchSize: num(v.batch, "batch"),
    learningRate: num(v.lr, "lr"),
    lrDecay: num(v["lr-decay"], "lr-decay"),
    optimizer: v.optimizer as TrainConfig["optimizer"] | undefined,
    earlyStopping: v["stop-metric"] || patience !== undefined
      ? {
        metric: (v["stop-metric"] ?? "val_accuracy") as StopMetric,
        patience: patience ?? 8,
      }
      : undefined,
    augment: v["no-augment"] ? false : v.augment ? true : undefined,
    threshold: v["target-sensitivity"] || v["threshold-perturbed"]
      ? {
        targetSensitivity: num(v["target-sensitivity"], "target-sensitivity") ?? 0.95,
        perturbedCopies: num(v["threshold-perturbed"], "threshold-perturbed") ?? 0,
      }
      : undefined,
    basePath: v.base,
    chestRegion: v["chest-region"] as TrainConfig["chestRegion"] | undefined,
    intensity: v.intensity as TrainConfig["intensity"] | undefined,
    augmentation: v.augmentation as TrainConfig["augmentation"] | undefined,
  });
  await train(cfg, { workers: num(v.workers, "workers") ?? defaultWorkers(cfg) });
}

if (import.meta.main) {
  try {
    await main(Deno.args);
  } catch (err) {
    console.error(`train: ${(err as Error).message}`);
    Deno.exit(1);
  }
}
