/**
 * Small readers of a run folder's JSON files that need neither TF.js nor sharp (the screening
 * server reads runs with only read permission).
 * @module
 */
import { isAbsolute, join, relative, resolve } from "node:path";
import type { ChestRegionMode } from "../images/chest_region.ts";
import type { IntensityMode } from "../images/intensity.ts";
import type { Preprocessing } from "../models/types.ts";
import { readJson } from "../util/atomic.ts";
import type { TrainConfig } from "./config.ts";

/**
 * A run's preprocessing.json: the pixel scaling plus the chest-region mode and the intensity
 * normalisation applied right after loading (runs saved before the fields existed mean "none").
 */
export type RunPreprocessing = Preprocessing & {
  chestRegion?: ChestRegionMode;
  intensity?: IntensityMode;
};

/**
 * The chest-region mode a run folder was trained with: preprocessing.json's `chestRegion`, else
 * config.json's, else `chest_region.json` (written by chapter 13 before the engine had the
 * option), else "none" (older runs).
 */
export async function readRunChestRegion(dir: string): Promise<ChestRegionMode> {
  const pre = await readJson<RunPreprocessing>(join(dir, "preprocessing.json"));
  if (pre.chestRegion) return pre.chestRegion;
  const cfg = await readJson<TrainConfig>(join(dir, "config.json")).catch(() => null);
  if (cfg?.chestRegion) return cfg.chestRegion;
  const legacy = await readJson<{ mode: ChestRegionMode }>(join(dir, "chest_region.json"))
    .catch(() => null);
  return legacy?.mode ?? "none";
}

/**
 * A run's val_predictions.csv: relPath, patient, y and P(pneumonia) per validation image (fields
 * quoted as RFC 4180 asks when they hold a comma, quote or newline).
 */
export function valPredictionsCsv(
  records: readonly { relPath: string; patientId: string; y: number }[],
  p: readonly number[],
): string {
  const q = (s: string) => (/[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s);
  const rows = records.map((r, i) => `${q(r.relPath)},${q(r.patientId)},${r.y},${p[i]}`);
  return ["relPath,patient,y,prob", ...rows].join("\n") + "\n";
}

/** The file that makes a run folder an ensemble. */
export const ENSEMBLE_FILE = "ensemble.json";

/** `ensemble.json`. */
export interface EnsembleFile {
  /** Member run folders, relative to the ensemble folder. */
  members: string[];
  /** How member scores combine: the mean of P(pneumonia). */
  combine: "mean";
}

/** The member folders (absolute) of an ensemble folder, or null when `dir` is a single run. */
export async function ensembleMembers(dir: string): Promise<string[] | null> {
  const path = join(dir, ENSEMBLE_FILE);
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw new Error(`Cannot read ${path}: ${(err as Error).message}`);
  }
  let file: EnsembleFile;
  try {
    file = JSON.parse(text);
  } catch (err) {
    throw new Error(`${path} is not valid JSON: ${(err as Error).message}`);
  }
  if (
    typeof file !== "object" || file === null || !Array.isArray(file.members) ||
    file.members.length < 2 ||
    !file.members.every((m) => typeof m === "string" && m !== "" && !isAbsolute(m))
  ) {
    throw new Error(
      `${path}: expected { "members": [two or more folder paths relative ` +
        `to it], "combine": "mean" }`,
    );
  }
  if (file.combine !== "mean") {
    throw new Error(`${path}: combine "${file.combine}" (only "mean" exists)`);
  }
  const members = file.members.map((m) => resolve(dir, m));
  const outside = members.find((m) => relative(resolve(dir), m).startsWith(".."));
  if (outside) {
    throw new Error(
      `${path}: member ${outside} is outside the ensemble folder (expected members/NAME)`,
    );
  }
  return members;
}

/**
 * The weight files a TF.js model.json lists (its weightsManifest), each checked to be a plain
 * file name next to model.json (what the screening site serves and an ensemble copies).
 */
export async function modelWeightFiles(modelJson: string): Promise<string[]> {
  const manifest = (await readJson<{ weightsManifest?: { paths: string[] }[] }>(modelJson))
    .weightsManifest ?? [];
  const paths = manifest.flatMap((g) => g.paths);
  const bad = paths.find((p) => !/^[\w.-]+$/.test(p) || p.startsWith("."));
  if (bad !== undefined) {
    throw new Error(
      `${modelJson}: weight file "${bad}" is not a plain file name next to model.json`,
    );
  }
  return paths;
}
