/**
 * Ensemble run folders: finished runs scored together as one model, P(pneumonia) the mean of the
 * members' (each member reads the images at its own preprocessing: size, chest region, intensity
 * normalisation). An ensemble folder is a run folder like any other to its readers
 * (`run.ts`: {@link loadRun} loads every member; `score.ts` averages them; `deno task predict`,
 * `evaluate`, `serve` and `export` take it as `--run`), so the reference model can be one.
 *
 * Layout of `DIR` (written by {@link buildEnsemble}, `deno task ensemble`):
 *
 * | file | content |
 * | --- | --- |
 * | `ensemble.json` | `{ members: ["members/NAME", ...], combine: "mean" }` (paths relative to DIR) |
 * | `members/NAME/` | a copy of each member run (model, config, preprocessing, threshold, ood.json; no checkpoint) |
 * | `val_predictions.csv` | the members' mean on their common validation split |
 * | `threshold.json` | chosen on that mean with the first member's policy (margin copies included) |
 * | `calibration.json` | temperature scaling of the mean on validation |
 * | `summary.json` | validation metrics of the mean; parameters, epochs and train time summed over the members |
 * | `config.json`, `preprocessing.json`, `classes.json`, `metrics.csv`, `ood.json` | the first member's (its config renamed): what one-model readers use (Grad-CAM, activations and the out-of-scope features are the first member's) |
 *
 * @example
 * ```ts
 * import { buildEnsemble } from "./ensemble.ts";
 * await buildEnsemble({ members: ["outputs/recipes/f-strong", "outputs/recipes/f-strong-clahe"],
 *   out: "outputs/ensemble" });
 * ```
 * @module
 */
import { basename, isAbsolute, join, relative, resolve } from "node:path";
import { fitTemperature, probsToLogits, writeCalibration } from "../metrics/calibration.ts";
import { projectPath } from "../util/project.ts";
import { writeFileAtomic, writeJsonAtomic } from "../util/atomic.ts";
import {
  chooseThreshold,
  chooseThresholdWithMargin,
  epochMetrics,
  type ThresholdRecord,
} from "./epoch_metrics.ts";
import { disposeRun, loadRun, readRunRecord, type RunRecord } from "./run.ts";
import {
  ENSEMBLE_FILE,
  type EnsembleFile,
  ensembleMembers,
  modelWeightFiles,
  valPredictionsCsv,
} from "./run_files.ts";
import { scoreRecords } from "./score.ts";
import type { RunSummary } from "./train.ts";
import { formatMetric } from "../metrics/format.ts";

export { ENSEMBLE_FILE, type EnsembleFile, ensembleMembers };

/** Files of a member copied into the ensemble (the checkpoint and logs are left behind). */
const MEMBER_FILES = [
  "config.json",
  "preprocessing.json",
  "classes.json",
  "threshold.json",
  "summary.json",
  "metrics.csv",
  "val_predictions.csv",
  "calibration.json",
  "ood.json",
];

async function copyFileAtomic(from: string, to: string): Promise<void> {
  await writeFileAtomic(to, await Deno.readFile(from));
}

/** Copies a finished run folder's inference files (and its model) to `to`. */
async function copyMember(from: string, to: string): Promise<void> {
  await Deno.mkdir(join(to, "model"), { recursive: true });
  for (const f of MEMBER_FILES) {
    const src = join(from, f);
    const ok = await Deno.stat(src).then((s) => s.isFile, () => false);
    if (ok) await copyFileAtomic(src, join(to, f));
    else if (!["calibration.json", "ood.json", "metrics.csv"].includes(f)) {
      throw new Error(`${src} is missing: is ${from} a finished run folder?`);
    }
  }
  const modelJson = join(from, "model", "model.json");
  const weights = await modelWeightFiles(modelJson);
  await copyFileAtomic(modelJson, join(to, "model", "model.json"));
  for (const p of weights) {
    await copyFileAtomic(join(from, "model", p), join(to, "model", p));
  }
}

/** Options of {@link buildEnsemble}. */
export interface EnsembleOptions {
  /** Finished run folders (two or more; the first one's policy and metadata lead). */
  members: string[];
  /** The ensemble folder to write: a new folder, or an ensemble folder (replaced whole). */
  out: string;
  /** Where the members' validation images are when their config's data folder has moved. */
  valData?: string;
  /** Image cache folder (default outputs/cache/images). */
  cacheDir?: string;
  log?: (line: string) => void;
}

/**
 * Scores the members' validation images with `copies` seeded augmentations (the same draws for
 * every member: one seed, one image order) and returns, per copy, the members' mean.
 */
async function perturbedMeans(
  dirs: string[],
  paths: string[],
  copies: number,
  seed: number,
  cacheDir?: string,
): Promise<number[][]> {
  const sums = Array.from({ length: copies }, () => new Array<number>(paths.length).fill(0));
  for (const dir of dirs) {
    const run = await loadRun(dir);
    try {
      for (let k = 0; k < copies; k++) {
        const s = await scoreRecords(run, paths, { perturbSeed: seed * 9973 + k + 1, cacheDir });
        if (s.failures.length) {
          throw new Error(
            `${s.failures.length} validation images of ${dir} could not be read (first: ` +
              `${s.failures[0].path}: ${s.failures[0].reason}); pass --val-data DIR`,
          );
        }
        s.prob.forEach((p, i) => (sums[k][i] += p / dirs.length));
      }
    } finally {
      disposeRun(run);
    }
  }
  return sums;
}

/** What {@link buildEnsemble} returns. */
export interface EnsembleResult {
  dir: string;
  members: string[];
  threshold: ThresholdRecord;
  summary: RunSummary;
}

/**
 * Writes the ensemble folder of `o.members` (see the module doc): the members copied, their
 * validation scores averaged, the threshold chosen on that mean with the first member's policy.
 * The members must be finished two-class runs validated on the same images.
 */
export async function buildEnsemble(o: EnsembleOptions): Promise<EnsembleResult> {
  const log = o.log ?? ((l: string) => console.log(l));
  if (o.members.length < 2) throw new Error("an ensemble needs two or more run folders");
  const out = resolve(o.out);
  const sources = o.members.map((m) => resolve(m));
  if (sources.some((s) => s === out || !relative(out, s).startsWith(".."))) {
    throw new Error(`the ensemble folder ${out} cannot hold or be one of its members' folders`);
  }
  const outExists = await Deno.stat(out).then(() => true, () => false);
  if (outExists && !(await ensembleMembers(out))) {
    throw new Error(`${out} exists and is not an ensemble folder: give a new folder as the output`);
  }
  const names = sources.map((s) => basename(s));
  if (new Set(names).size !== names.length) {
    throw new Error(`members need distinct folder names (got ${names.join(", ")})`);
  }
  const runs: RunRecord[] = [];
  for (const s of sources) {
    if (await ensembleMembers(s)) throw new Error(`${s} is an ensemble; list its members instead`);
    for (
      const [f, why] of [["config.json", `is ${s} a finished run folder?`], [
        "summary.json",
        `${s} has not finished training`,
      ]]
    ) {
      if (!(await Deno.stat(join(s, f)).then((st) => st.isFile, () => false))) {
        throw new Error(`${join(s, f)} is missing: ${why}`);
      }
    }
    const run = await readRunRecord(s);
    if ((run.config.classes ?? 2) !== 2) {
      throw new Error(`${s}: a ${run.config.classes}-class run; ensembles are of two-class runs`);
    }
    runs.push(run);
  }
  const first = runs[0].val;
  runs.forEach((r, i) => {
    if (r.val.relPath.join("\n") !== first.relPath.join("\n")) {
      throw new Error(
        `${sources[i]} was validated on other images than ${sources[0]}; an ensemble needs ` +
          "members with the same validation split (same data, manifest and split seed)",
      );
    }
  });
  const y = first.y;
  const p = first.prob.map((_, i) => runs.reduce((s, r) => s + r.val.prob[i], 0) / runs.length);

  const cfg0 = runs[0].config;
  const copies = cfg0.threshold?.perturbedCopies ?? 0;
  const target = cfg0.threshold?.targetSensitivity ?? 0.95;
  let threshold: ThresholdRecord;
  if (copies > 0) {
    const root = o.valData ??
      (isAbsolute(cfg0.data) ? cfg0.data : projectPath(cfg0.data));
    const paths = first.relPath.map((r) => join(root, r));
    log(`scoring ${paths.length} validation images x ${copies} augmented copies per member`);
    const perturbed = await perturbedMeans(sources, paths, copies, cfg0.seed, o.cacheDir);
    threshold = chooseThresholdWithMargin(y, p, perturbed, target);
  } else threshold = chooseThreshold(y, p, target);

  // Write into a fresh folder next to `out`, then swap it in: a failed build leaves `out` as it was.
  const tmp = `${out}.partial`;
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
  const rel = names.map((n) => `members/${n}`);
  for (let i = 0; i < sources.length; i++) await copyMember(sources[i], join(tmp, rel[i]));
  for (const f of ["preprocessing.json", "classes.json", "metrics.csv", "ood.json"]) {
    const src = join(sources[0], f);
    if (await Deno.stat(src).then(() => true, () => false)) {
      await copyFileAtomic(src, join(tmp, f));
    }
  }
  const name = basename(out);
  await writeJsonAtomic(join(tmp, "config.json"), { ...cfg0, name, out: o.out });
  const records = first.relPath.map((relPath, i) => ({
    relPath,
    patientId: first.patient[i],
    y: y[i],
  }));
  await writeFileAtomic(join(tmp, "val_predictions.csv"), valPredictionsCsv(records, p));
  await writeJsonAtomic(join(tmp, "threshold.json"), threshold);
  if (y.includes(0) && y.includes(1)) {
    await writeCalibration(tmp, fitTemperature(y, probsToLogits(p)), "val_predictions.csv");
  }
  const summaries = runs.map((r) => r.summary);
  const sum = (f: (s: RunSummary) => number) => summaries.reduce((a, s) => a + f(s), 0);
  const summary: RunSummary = {
    ...summaries[0],
    model: `ensemble of ${names.length} (${names.join(" + ")})`,
    trainableParams: sum((s) => s.trainableParams),
    totalParams: sum((s) => s.totalParams),
    epochsRun: sum((s) => s.epochsRun),
    stoppedEpoch: sum((s) => s.stoppedEpoch),
    totalTimeS: sum((s) => s.totalTimeS),
    meanEpochTimeS: sum((s) => s.totalTimeS) / Math.max(1, sum((s) => s.epochsRun)),
    peakRssMB: Math.max(...summaries.map((s) => s.peakRssMB)),
    val: epochMetrics(y, p),
  };
  await writeJsonAtomic(join(tmp, "summary.json"), summary);
  await writeJsonAtomic(join(tmp, ENSEMBLE_FILE), { members: rel, combine: "mean" });
  const old = `${out}.old`;
  await Deno.remove(old, { recursive: true }).catch(() => {});
  await Deno.rename(out, old).catch(() => {});
  await Deno.rename(tmp, out);
  await Deno.remove(old, { recursive: true }).catch(() => {});
  log(
    `ensemble of ${names.join(" + ")}: val auc ${formatMetric(summary.val.auc, 4)}, threshold ` +
      `${threshold.threshold.toFixed(4)} (val sens ${
        formatMetric(threshold.atThreshold.sensitivity)
      }, spec ${formatMetric(threshold.atThreshold.specificity)}) -> ${out}`,
  );
  return { dir: out, members: rel.map((r) => join(out, r)), threshold, summary };
}
