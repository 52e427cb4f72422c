/**
 * How many data-parallel worker replicas a training run gets when its caller does not say: the
 * one rule that `train()` (so every notebook and the report), `deno task train` and the
 * benchmarks share.
 * @module
 */
import type { TrainConfig } from "../config.ts";

/**
 * Backends that parallelise on their own, so worker replicas would only compete with them: the
 * GPU ones (each worker would open its own device) and libtensorflow ("tensorflow" is the name
 * TF.js gives both tfjs-node and tfjs-node-gpu; it runs every op on all cores).
 */
const SELF_PARALLEL = new Set(["webgpu", "tfjs-node-gpu", "tensorflow"]);

/** The backend as `initBackend` describes it, or just its name (`tf.getBackend()`). */
export type BackendLike = string | { name: string; threads?: number };

/**
 * Data-parallel workers by default:
 * - 0 on a backend that is parallel by itself ("webgpu", "tfjs-node-gpu", "tensorflow");
 * - 0 for a model on a pretrained base (`transfer`, its edited variants, `finetune`: any config
 *   with a `basePath`): the workers rebuild the model from its JSON, which does not keep a nested
 *   base frozen (lib/train/parallel/start.ts); such a model trains in this thread, on the wasm
 *   kernel threads where they are on;
 * - else 2 on a machine with 2 or more cores (wasm, cpu), one thread each, also where this
 *   thread has wasm kernel threads (which then serve what runs here: validation, prediction,
 *   the models above). Measured on the idle 2-core AMD EPYC (AVX-512), 2026-12-05, a cnn_reg epoch
 *   at 150 px (`deno task train --epochs 1 --size 150`): 41.9 s with 2 workers against 43.8 s
 *   with the step split over 2 kernel threads and 73.0 s on one thread; per step (batch 8,
 *   `deno task bench-pytorch --threads 2`) see docs/performance.md.
 */
export function defaultTrainWorkers(
  cfg: Pick<TrainConfig, "model"> & { basePath?: string | null },
  backend: BackendLike,
  cores: number = navigator.hardwareConcurrency,
): number {
  const name = typeof backend === "string" ? backend : backend.name;
  if (SELF_PARALLEL.has(name)) return 0;
  if (cfg.basePath || cfg.model === "transfer" || cfg.model === "finetune") return 0;
  return cores >= 2 ? 2 : 0;
}
