/**
 * Out-of-scope screening of image files on the command line: for each file, the statistics,
 * DICOM tags and feature distance that `scope.ts` checks, and the warnings. `deno task predict`
 * adds these to every prediction; the browser page runs the same checks on its own decoding.
 *
 * @example
 * ```ts
 * import { screenFiles } from "./screen.ts";
 * const rows = await screenFiles(run, ["a.jpeg", "b.dcm"], await readOod(run.dir));
 * rows[0]?.warnings; // [{ code: "colour", message: "colour image ..." }]
 * ```
 * @module
 */
import type { DicomInfo } from "../images/dicom.ts";
import { decodeRaw, readImageBytes } from "../images/load.ts";
import { toModelInput } from "../images/prepare.ts";
import type { LoadedRun } from "../train/run.ts";
import { applyChestRegion } from "../images/chest_region.ts";
import { mahalanobis } from "../metrics/ood.ts";
import { featuresOf } from "../train/ood.ts";
import {
  type ImageStats,
  imageStats,
  type OodFile,
  type ScopeWarning,
  scopeWarnings,
} from "../images/scope.ts";

/** What the checks found for one file. */
export interface Screening {
  stats: ImageStats;
  /** Feature distance from the training images (null without `ood.json`). */
  distance: number | null;
  dicom: DicomInfo | null;
  warnings: ScopeWarning[];
}

/** Files screened at once: their model inputs are held together for the feature pass. */
export const SCREEN_CHUNK = 1024;

/**
 * Screens `paths` with the run (its preprocessing, chest region included, and model features);
 * null for a file that cannot be read (the caller reports why). Works through `chunk` files at a
 * time (default {@link SCREEN_CHUNK}), so any number of files takes bounded memory.
 */
export async function screenFiles(
  run: Pick<LoadedRun, "model" | "preprocessing">,
  paths: readonly string[],
  ood: OodFile | null,
  chunk = SCREEN_CHUNK,
): Promise<(Screening | null)[]> {
  const out: (Screening | null)[] = [];
  for (let start = 0; start < paths.length; start += chunk) {
    out.push(...await screenChunk(run, paths.slice(start, start + chunk), ood));
  }
  return out;
}

/** {@link screenFiles} of one chunk of files. */
async function screenChunk(
  run: Pick<LoadedRun, "model" | "preprocessing">,
  paths: readonly string[],
  ood: OodFile | null,
): Promise<(Screening | null)[]> {
  const { size, channels, chestRegion } = run.preprocessing;
  const bytes = size * size * channels;
  const found: { i: number; input: Uint8Array; stats: ImageStats; dicom: DicomInfo | null }[] = [];
  for (let i = 0; i < paths.length; i++) {
    try {
      const { raw, dicom } = await decodeRaw(await readImageBytes(paths[i]), paths[i]);
      const input = await applyChestRegion(
        toModelInput(raw, size, channels),
        size,
        channels,
        chestRegion,
      );
      found.push({ i, input, stats: imageStats(raw, input, size, channels), dicom });
    } catch {
      // Unreadable: the prediction path reports the reason.
    }
  }
  let distances: number[] = found.map(() => NaN);
  if (ood && found.length) {
    const packed = new Uint8Array(found.length * bytes);
    found.forEach((f, k) => packed.set(f.input, k * bytes));
    const { features, dim } = await featuresOf(
      run.model,
      run.preprocessing,
      packed,
      found.length,
    );
    distances = found.map((_, k) =>
      mahalanobis(ood.features, features.subarray(k * dim, (k + 1) * dim))
    );
  }
  const out: (Screening | null)[] = paths.map(() => null);
  found.forEach((f, k) => {
    const distance = ood ? distances[k] : null;
    out[f.i] = {
      stats: f.stats,
      distance,
      dicom: f.dicom,
      warnings: scopeWarnings({ stats: f.stats, distance, dicom: f.dicom, size }, ood),
    };
  });
  return out;
}
