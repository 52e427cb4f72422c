/**
 * How many data-parallel worker replicas a training run gets when its caller does not say: the
 * one rule that `train()` (so every notebook and the report), `deno task train` and the
 * benchmarks share.
 * @module
 */
import type * as tfl from "@tensorflow/tfjs-layers";
import type { TrainConfig } from "../config.ts";
import { flatSize, trainableVariables } from "../step.ts";
import { wasmThreadedActive } from "../../backend/wasm/threaded.ts";

/**
 * Backends that parallelise on their own, so worker replicas would only compete with them: the
 * GPU ones (each worker would open its own device) and libtensorflow ("tensorflow" is the name
 * TF.js gives both tfjs-node and tfjs-node-gpu; it runs every op on all cores).
 */
const SELF_PARALLEL = new Set(["webgpu", "tfjs-node-gpu", "tensorflow"]);

/** The backend as `initBackend` describes it, or just its name (`tf.getBackend()`). */
export type BackendLike = string | { name: string; threads?: number };

/** What decides whether a model trains faster on data-parallel workers (see the rule below). */
export interface ModelTraits {
  /** Whether the model has a convolution layer. */
  convolutional: boolean;
  /** Its trainable parameters: what every replica exchanges and updates at each step. */
  trainableParams: number;
}

/** The {@link ModelTraits} of a model. */
export function modelTraits(model: tfl.LayersModel): ModelTraits {
  const convolutional = (layers: tfl.layers.Layer[]): boolean =>
    layers.some((l) =>
      /^(Conv2D|DepthwiseConv2D|SeparableConv2D)$/.test(l.getClassName()) ||
      ("layers" in l && convolutional((l as unknown as tfl.LayersModel).layers))
    );
  // The length of the flat gradient the replicas exchange (the trainer's own measure).
  const trainableParams = flatSize(trainableVariables(model));
  return { convolutional: convolutional(model.layers), trainableParams };
}

/** Smallest input side at which data-parallel workers were measured faster (see below). */
export const DATA_PARALLEL_MIN_SIZE = 128;
/** Most trainable parameters at which they were (each replica exchanges and updates them all). */
export const DATA_PARALLEL_MAX_PARAMS = 300_000;

/**
 * Data-parallel workers by default:
 * - 0 on a backend that is parallel by itself ("webgpu", "tfjs-node-gpu", "tensorflow");
 * - 0 for a model on a pretrained base (`transfer`, its edited variants, `finetune`: any config
 *   with a `basePath`): the workers rebuild the model from its JSON, which does not keep a nested
 *   base frozen (lib/train/parallel/start.ts);
 * - 0 on one core;
 * - on wasm with kernel threads (this thread splits each kernel over the cores), 2 only where
 *   workers were measured faster: a convolutional model of at most
 *   {@link DATA_PARALLEL_MAX_PARAMS} trainable parameters at {@link DATA_PARALLEL_MIN_SIZE} px or
 *   more (without `traits`, none). Measured on the idle 2-core AMD EPYC (AVX-512), 2026-12-05,
 *   median ms per step of 8 images after 10 warm-up steps, kernel threads against 2 workers:
 *   cnn_reg 150 px (114k parameters) 84 against 76-77, compact 128 px (246k) 82.8 against 73.8;
 *   but cnn 150 px (489k) 76.9 against 76.2, cnn_reg 64 px 18.4 against 19.8, compact 64 px 30.4
 *   against 33.0 and dense_baseline 150 px (1.0 M, no convolution) 9.6 against 17.3. A cnn_reg
 *   epoch at 150 px (`deno task train --epochs 1 --size 150`) took 41.9 s with workers, 43.8 s
 *   with kernel threads and 73.0 s on one thread;
 * - else (one-threaded wasm, cpu) 2 on 2 or more cores: measured on a 2-core machine, idle,
 *   compact 128x128x1, 1,043 images, one epoch with val scoring, 27.7 s in-process vs 17.8 s
 *   with 2 workers.
 */
export function defaultTrainWorkers(
  cfg: Pick<TrainConfig, "model" | "size"> & { basePath?: string | null },
  backend: BackendLike,
  cores: number = navigator.hardwareConcurrency,
  traits?: ModelTraits,
): number {
  const name = typeof backend === "string" ? backend : backend.name;
  const threads = typeof backend === "string"
    ? (name === "wasm" && wasmThreadedActive() ? 2 : 1)
    : (backend.threads ?? 1);
  if (SELF_PARALLEL.has(name)) return 0;
  if (cfg.basePath || cfg.model === "transfer" || cfg.model === "finetune") return 0;
  if (cores < 2) return 0;
  if (name === "wasm" && threads > 1) {
    const pays = traits !== undefined && traits.convolutional &&
      traits.trainableParams <= DATA_PARALLEL_MAX_PARAMS && cfg.size >= DATA_PARALLEL_MIN_SIZE;
    return pays ? 2 : 0;
  }
  return 2;
}
