/**
 * Figures the benchmark takes from other modules when they are present: image loading
 * (`bench/load_bench.ts`) and two-core data-parallel training (`lib/train/parallel/trainer.ts`).
 * @module
 */
import { existsSync } from "node:fs";

/**
 * Runs `benchLoad(dataDir, 150, 3)` (cold then warm load of the training images) when the dataset
 * folder exists; otherwise returns `{error}` saying why it was not run.
 */
export async function loadBenchOrNull(dataDir: string): Promise<Record<string, unknown>> {
  if (!existsSync(dataDir)) {
    return { error: `dataset folder ${dataDir} not found; loading not measured` };
  }
  try {
    const { benchLoad } = await import("./load_bench.ts");
    const r = await benchLoad(dataDir, 150, 3);
    return { dataDir, size: 150, channels: 3, ...r };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

/**
 * Calls `benchParallel(modelFactory, {workers: [0, 2], batchSize, steps})` of
 * `lib/train/parallel/trainer.ts` (the data-parallel worker trainer) for `model`, when that module
 * exists and exports it; null otherwise. Returns `{model, results}` or `{error}`.
 */
export async function parallelBenchOrNull(
  model: string,
  batchSize: number,
  steps: number,
): Promise<Record<string, unknown> | null> {
  const url = new URL("./parallel_bench.ts", import.meta.url);
  if (!existsSync(url)) return null;
  try {
    type Bench = (
      factory: () => Promise<unknown>,
      opts: { workers: number[]; batchSize: number; steps: number },
    ) => Promise<unknown[]>;
    const mod = await import(url.href) as { benchParallel?: Bench };
    if (typeof mod.benchParallel !== "function") return null;
    const { createModel } = await import("../lib/models/registry.ts");
    const results = await mod.benchParallel(() => createModel(model, { seed: 1 }), {
      workers: [0, 2],
      batchSize,
      steps,
    });
    return { model, results };
  } catch (err) {
    return { model, error: (err as Error).message };
  }
}
