/**
 * How many data-parallel worker replicas a training run gets when its caller does not say: the
 * one rule that `train()` (so every notebook and the report) and `deno task train` share.
 * @module
 */
import type { TrainConfig } from "../config.ts";

/**
 * Backends that parallelise on their own, so worker replicas would only compete with them: the
 * GPU ones (each worker would open its own device) and libtensorflow ("tensorflow" is the name
 * TF.js gives both tfjs-node and tfjs-node-gpu; it runs every op on all cores).
 */
const SELF_PARALLEL = new Set(["webgpu", "tfjs-node-gpu", "tensorflow"]);

/**
 * Data-parallel workers by default: 2 on a machine with 2 or more cores when the model allows it
 * (measured on a 2-core machine, idle: compact 128x128x1, 1,043 images, one epoch with val
 * scoring, 27.7 s in-process vs 17.8 s with 2 workers), else 0 (this thread). 0 on a backend
 * that is parallel by itself (`backend` as `initBackend` or `tf.getBackend()` names it: "webgpu",
 * "tfjs-node-gpu", "tensorflow"), and for a model on a pretrained base (`transfer`, its edited
 * variants, `finetune`: any config with a `basePath`): the workers rebuild the model from its
 * JSON, which does not keep a nested base frozen (lib/train/parallel/start.ts).
 */
export function defaultTrainWorkers(
  cfg: Pick<TrainConfig, "model"> & { basePath?: string | null },
  backend: string,
  cores: number = navigator.hardwareConcurrency,
): number {
  if (SELF_PARALLEL.has(backend)) return 0;
  if (cfg.basePath || cfg.model === "transfer" || cfg.model === "finetune") return 0;
  return cores >= 2 ? 2 : 0;
}
