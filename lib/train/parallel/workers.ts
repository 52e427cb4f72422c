/**
 * How many data-parallel worker replicas a training run gets when its caller does not say: the
 * one rule that `train()` (so every notebook and the report), `deno task train` and the
 * benchmarks share.
 * @module
 */
import type { TrainConfig } from "../config.ts";
import { wasmThreadedActive } from "../../backend/wasm/threaded.ts";

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
 * - 0 on wasm with kernel threads (threads > 1; for a bare name, whether the active wasm
 *   backend is tfjs' threaded build): every kernel of the step is already split over the cores
 *   (lib/backend/wasm/simd/pool.ts), so replicas would only fight over them;
 * - 0 for a model on a pretrained base (`transfer`, its edited variants, `finetune`: any config
 *   with a `basePath`): the workers rebuild the model from its JSON, which does not keep a nested
 *   base frozen (lib/train/parallel/start.ts);
 * - else 2 on a machine with 2 or more cores (one-threaded wasm, cpu): measured on a 2-core
 *   machine, idle, compact 128x128x1, 1,043 images, one epoch with val scoring, 27.7 s
 *   in-process vs 17.8 s with 2 workers.
 */
export function defaultTrainWorkers(
  cfg: Pick<TrainConfig, "model"> & { basePath?: string | null },
  backend: BackendLike,
  cores: number = navigator.hardwareConcurrency,
): number {
  const name = typeof backend === "string" ? backend : backend.name;
  const threads = typeof backend === "string"
    ? (name === "wasm" && wasmThreadedActive() ? 2 : 1)
    : (backend.threads ?? 1);
  if (SELF_PARALLEL.has(name)) return 0;
  if (name === "wasm" && threads > 1) return 0;
  if (cfg.basePath || cfg.model === "transfer" || cfg.model === "finetune") return 0;
  return cores >= 2 ? 2 : 0;
}
