/**
 * `deno task ood [--run DIR] [--data DIR] [--max-train N]`: fits a run's out-of-distribution
 * reference (`<run>/ood.json`: feature Gaussian, threshold passing 95% of validation images,
 * ranges of the image statistics; see `lib/eval/scope.ts`) on the training data's manifest split
 * (train part for the fit, val part for the calibration). Training writes the file itself; this
 * command makes it for runs trained before, such as the reference model.
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { type BackendChoice, initBackend } from "../backend/select.ts";
import { loadOrCreateManifest } from "../data/split.ts";
import { loadRun } from "../train/run.ts";
import { loadRunImages, makeSplitData } from "../train/data.ts";
import { OOD_MAX_TRAIN, storeOod } from "../train/ood.ts";
import { DEFAULT_RUN } from "./evaluate.ts";

const USAGE = "usage: deno task ood [--run DIR] [--data DIR] [--max-train N] [--json]";

/** Runs the ood command with `args`. */
export async function main(args: string[]): Promise<void> {
  const { values: v } = parseArgs({
    args,
    options: {
      run: { type: "string" },
      data: { type: "string" },
      "max-train": { type: "string" },
      backend: { type: "string" },
      json: { type: "boolean" },
      help: { type: "boolean" },
    },
  });
  if (v.help) return console.log(USAGE);
  await initBackend({ prefer: v.backend as BackendChoice | undefined });
  const runDir = v.run ?? DEFAULT_RUN;
  const run = await loadRun(runDir);
  const data = v.data ?? run.config.data;
  if (!data) {
    throw new Error(`${runDir}/config.json names no data folder; pass --data DIR\n${USAGE}`);
  }
  const outputs = run.config.outputsDir ?? "outputs";
  const { manifestPath, records } = await loadOrCreateManifest(data, {
    outDir: join(outputs, "manifests"),
  });
  const train = records.filter((r) => r.split === "train"),
    val = records.filter((r) => r.split === "val");
  if (!train.length || !val.length) {
    throw new Error(
      `${manifestPath} has ${train.length} train and ${val.length} val images; need both`,
    );
  }
  const { size, channels, chestRegion } = run.preprocessing;
  const t0 = performance.now();
  const paths = [...train, ...val].map((r) => r.path);
  const loaded = await loadRunImages(paths, {
    size,
    channels,
    chestRegion,
    cacheDir: join(outputs, "cache", "images"),
  });
  const slotOf = new Map<string, number>();
  paths.forEach((p, i) => loaded.ok[i] && slotOf.set(p, i));
  const bytes = size * size * channels;
  const classes = run.config.classes ?? 2;
  const ood = await storeOod(
    runDir,
    run.model,
    makeSplitData(train, classes, loaded.data, slotOf, bytes),
    makeSplitData(val, classes, loaded.data, slotOf, bytes),
    run.preprocessing,
    { data, manifest: manifestPath },
    {
      maxTrain: v["max-train"] ? Number(v["max-train"]) : OOD_MAX_TRAIN,
      seed: run.config.seed ?? 0,
    },
  );
  run.model.dispose();
  if (v.json) {
    return console.log(
      JSON.stringify({
        ...ood,
        features: { ...ood.features, mean: undefined, precision: undefined },
      }),
    );
  }
  const f = ood.features, r = ood.stats;
  console.log(
    `${join(runDir, "ood.json")}: features of ${f.trainImages} train images (dim ${f.dim}), ` +
      `threshold ${f.threshold.toFixed(2)} = ${
        100 * f.quantile
      }th percentile of ${f.valImages} val ` +
      `distances (median ${f.valDistances.p50.toFixed(2)}, max ${
        f.valDistances.max.toFixed(2)
      }); ` +
      `stat ranges on val: mean ${r.mean.map((x) => x.toFixed(1)).join("-")}, std >= ` +
      `${r.std[0].toFixed(1)}, asymmetry <= ${r.asymmetry[1].toFixed(3)} ` +
      `(${((performance.now() - t0) / 1000).toFixed(0)} s)`,
  );
}

if (import.meta.main) {
  try {
    await main(Deno.args);
  } catch (err) {
    console.error(`ood: ${(err as Error).message}`);
    Deno.exit(1);
  }
}
