/** A tiny run trained on synthetic chest images, for the page and server tests. */
import { join } from "node:path";
import { initBackend } from "../../lib/backend/select.ts";
import { writeSyntheticDataset } from "../../lib/images/synthetic.ts";
import { resolveConfig } from "../../lib/train/config.ts";
import { train } from "../../lib/train/train.ts";
import { projectPath } from "../../lib/util/project.ts";

/**
 * Trains `compact` at 32x32 for 2 epochs on a synthetic dataset (written to a temp folder) into
 * `outputs/tmp/<prefix>-<id>` (inside the project, where `deno task serve` may read). Returns the
 * run folder, the dataset root and a cleanup function.
 */
export async function tinyRun(
  prefix: string,
): Promise<{ run: string; data: string; cleanup: () => Promise<void> }> {
  await initBackend();
  const data = await Deno.makeTempDir({ prefix: `${prefix}_data_` });
  const run = projectPath(`outputs/tmp/${prefix}-${crypto.randomUUID().slice(0, 8)}`);
  await writeSyntheticDataset(data, { perClass: 12, size: 48, seed: 5 });
  await train(
    resolveConfig({
      model: "compact",
      data,
      out: run,
      size: 32,
      batchSize: 8,
      epochs: 2,
      seed: 3,
      outputsDir: join(data, "outputs"),
    }),
    { log: () => {} },
  );
  const cleanup = async () => {
    await Deno.remove(data, { recursive: true }).catch(() => {});
    await Deno.remove(run, { recursive: true }).catch(() => {});
  };
  return { run, data, cleanup };
}
