/** A tiny run trained on synthetic chest images, for the page and server tests. */
import { join } from "node:path";
import { initBackend } from "../../lib/backend/select.ts";
import type { IntensityMode } from "../../lib/images/intensity.ts";
import { writeSyntheticDataset } from "../../lib/data/synthetic.ts";
import { resolveConfig } from "../../lib/train/config.ts";
import { train } from "../../lib/train/train.ts";
import { projectPath } from "../../lib/util/project.ts";

/**
 * Trains `compact` at 32x32 for 2 epochs on a synthetic dataset (written to a temp folder, or
 * `o.data` when given: several runs on one dataset share its validation split) into
 * `outputs/tmp/<prefix>-<id>` (inside the project, where `deno task serve` may read). Returns the
 * run folder, the dataset root and a cleanup function (which leaves a given `o.data` alone).
 */
export async function tinyRun(
  prefix: string,
  o: { intensity?: IntensityMode; seed?: number; data?: string } = {},
): Promise<{ run: string; data: string; cleanup: () => Promise<void> }> {
  await initBackend();
  const data = o.data ?? await Deno.makeTempDir({ prefix: `${prefix}_data_` });
  const run = projectPath(`outputs/tmp/${prefix}-${crypto.randomUUID().slice(0, 8)}`);
  if (!o.data) await writeSyntheticDataset(data, { perClass: 12, size: 48, seed: 5 });
  await train(
    resolveConfig({
      model: "compact",
      data,
      out: run,
      size: 32,
      batchSize: 8,
      epochs: 2,
      seed: o.seed ?? 3,
      intensity: o.intensity ?? "none",
      outputsDir: join(data, "outputs"),
    }),
    { log: () => {} },
  );
  const cleanup = async () => {
    if (!o.data) await Deno.remove(data, { recursive: true }).catch(() => {});
    await Deno.remove(run, { recursive: true }).catch(() => {});
  };
  return { run, data, cleanup };
}
