/**
 * `deno task ood [--run DIR] [--data DIR] [--max-train N]`: fits a run's out-of-distribution
 * reference (`<run>/ood.json`: feature Gaussian, threshold passing 95% of validation images,
 * ranges of the image statistics; see `lib/eval/scope.ts`) on the training data's manifest split
 * (train part for the fit, val part for the calibration). Training writes the file itself; this
 * command makes it for runs trained before, such as the reference model.
 * @module
 */
import { join } from "node:path";
import { type BackendChoice, initBackend } from "../backend/select.ts";
import { loadOrCreateManifest } from "../data/split.ts";
import { dataSourceOf } from "../train/config.ts";
import { DATA_FLAGS, dataSource } from "./_data_flags.ts";
import { disposeRun, loadRun } from "../train/run.ts";
import { loadRunImages, makeSplitData } from "../train/data.ts";
import { OOD_MAX_TRAIN, storeOod } from "../train/ood.ts";
import { DEFAULT_RUN } from "./evaluate.ts";
import { type CliSpec, helpText, parseCli, runCli, UsageError } from "./_args.ts";

/** The ood command's flags. */
export const OOD_CLI = {
  name: "ood",
  synopsis: ["[--run DIR] [--data DIR] [--max-train N] [--json]"],
  about: "Fits a run's out-of-scope reference (ood.json) on its data's train and val parts.",
  flags: {
    run: { type: "string", arg: "DIR", help: "run folder (default outputs/reference)" },
    data: { type: "string", arg: "DIR", help: "dataset root (default: the run's config.json)" },
    ...DATA_FLAGS,
    "max-train": {
      type: "number",
      arg: "N",
      integer: true,
      min: 2,
      default: OOD_MAX_TRAIN,
      help: "training images sampled for the feature Gaussian",
    },
    backend: { type: "string", arg: "NAME", help: "TF.js backend (wasm, cpu, ...)" },
    json: { type: "boolean", help: "print the summary as JSON" },
  },
} as const satisfies CliSpec;

/** Runs the ood command with `args`. */
export async function main(args: string[]): Promise<void> {
  const { values: v, help } = parseCli(OOD_CLI, args);
  if (help) return console.log(helpText(OOD_CLI));
  await initBackend({ prefer: v.backend as BackendChoice | undefined });
  const runDir = v.run ?? DEFAULT_RUN;
  const run = await loadRun(runDir);
  const data = v.data ?? run.config.data;
  const src = v.data ? dataSource(v.data, v) : dataSourceOf(run.config);
  if (!data) {
    throw new UsageError(`${runDir}/config.json names no data folder; pass --data DIR`);
  }
  const outputs = run.config.outputsDir ?? "outputs";
  const { manifestPath, records } = await loadOrCreateManifest(src, {
    outDir: join(outputs, "manifests"),
  });
  const train = records.filter((r) => r.split === "train"),
    val = records.filter((r) => r.split === "val");
  if (!train.length || !val.length) {
    throw new Error(
      `${manifestPath} has ${train.length} train and ${val.length} val images; need both`,
    );
  }
  const { size, channels, chestRegion, intensity } = run.preprocessing;
  const t0 = performance.now();
  const paths = [...train, ...val].map((r) => r.path);
  const loaded = await loadRunImages(paths, {
    size,
    channels,
    chestRegion,
    intensity,
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
      maxTrain: v["max-train"],
      seed: run.config.seed ?? 0,
    },
  );
  disposeRun(run);
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

if (import.meta.main) await runCli("ood", () => main(Deno.args), OOD_CLI);
