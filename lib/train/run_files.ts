/**
 * Small readers of a run folder's JSON files that need neither TF.js nor sharp (the screening
 * server reads runs with only read permission).
 * @module
 */
import { join } from "node:path";
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
