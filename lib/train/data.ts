/**
 * Training data: the patient-level split from the manifest (lib/data/split.ts), the uint8 image
 * cache (lib/images/cache.ts), and
 * float32 batches made on the fly (never a float32 copy of the whole dataset).
 * @module
 */
import { join } from "node:path";
import { balance } from "../data/balance.ts";
import { loadOrCreateManifest } from "../data/split.ts";
import type { SplitRecord } from "../data/types.ts";
import { applyChestRegionBatch, type ChestRegionMode } from "../images/chest_region.ts";
import { loadImages } from "../images/cache.ts";
import { applyIntensityBatch, type IntensityMode } from "../images/intensity.ts";
import { makeRng, shuffle } from "../util/rng.ts";
import { chestRegionOf, dataSourceOf, intensityOf, type TrainConfig } from "./config.ts";
import { type Skipped, skippedCounts } from "../data/dataset.ts";
import { openPackedImages } from "../images/packed.ts";
import { progressLine } from "../util/progress.ts";
import type { SplitData, TrainData } from "./batch.ts";
import { listUnlabelled, type UnlabelledImages } from "./pseudo.ts";

/**
 * Above this many bytes of decoded pixels (train + val) training streams them from the packed
 * decode cache on disk (lib/images/packed.ts) instead of holding them in memory: 768 MiB, so a
 * run stays within 2 GB of memory at any dataset size. The Kaggle set at 224 px x 3 channels
 * (0.82 GiB) stays in memory.
 */
export const STREAM_ABOVE_BYTES = 2 ** 30;

/** The warning that says what the dataset left out, by kind (none when nothing was). */
function skippedWarning(skipped: readonly Skipped[]): string[] {
  if (!skipped.length) return [];
  const counts = Object.entries(skippedCounts(skipped)).filter(([, n]) => n > 0);
  return [
    `the dataset left out ${skipped.length} item(s) (${
      counts.map(([k, n]) => `${k} ${n}`).join(", ")
    }); deno task audit names each`,
  ];
}

/** Class index of a record: binary y, or the subtype for 3 classes (-1: subtype unknown). */
export function classIndex(r: SplitRecord, classes: 2 | 3): number {
  if (classes === 2) return r.y;
  if (r.y === 0) return 0;
  if ((r as { subtypeKnown?: boolean }).subtypeKnown === false) return -1;
  return r.subtype === "virus" ? 2 : 1;
}

/** Seeded, class-stratified subsample of `fraction` of the records (all when fraction = 1). */
export function takeFraction<T extends { y: 0 | 1 }>(
  records: T[],
  fraction: number,
  seed: number,
): T[] {
  if (fraction >= 1) return records;
  const rng = makeRng(seed + 17);
  const out: T[] = [];
  for (const y of [0, 1]) {
    const cls = shuffle(records.filter((r) => r.y === y), rng);
    out.push(...cls.slice(0, Math.max(1, Math.round(cls.length * fraction))));
  }
  return out;
}

/** Builds a SplitData from records and a pixel block holding one image per distinct path. */
export function makeSplitData(
  records: SplitRecord[],
  classes: 2 | 3,
  pixels: Uint8Array,
  slotOf: Map<string, number>,
  imageBytes: number,
): SplitData {
  const kept = records.filter((r) => slotOf.has(r.path) && classIndex(r, classes) >= 0);
  return {
    records: kept,
    labels: Int32Array.from(kept, (r) => classIndex(r, classes)),
    pixels,
    slot: Int32Array.from(kept, (r) => slotOf.get(r.path)!),
    imageBytes,
  };
}

/**
 * The run's image path: reads `paths` through the image cache at size x size x channels, then
 * crops or masks them to the chest region (`chestRegion`, default "none") and normalises their
 * intensity (`intensity`, default "none"; lib/images/intensity.ts) in place. Training,
 * validation and every prediction from a run read images through this, so a run sees the same
 * pixels when it is rebuilt. Failed images stay zero (`ok[i]` false), as in `loadImages`.
 */
export async function loadRunImages(
  paths: string[],
  opts: {
    size: number;
    channels: 1 | 3;
    chestRegion?: ChestRegionMode;
    intensity?: IntensityMode;
    cacheDir?: string;
  },
): ReturnType<typeof loadImages> {
  const loaded = await loadImages(paths, {
    size: opts.size,
    channels: opts.channels,
    cacheDir: opts.cacheDir,
  });
  const mode = opts.chestRegion ?? "none";
  // loadImages returns a fresh block per call, so the cache itself is never altered.
  if (mode !== "none") await applyChestRegionBatch(loaded.data, opts.size, opts.channels, mode);
  const intensity = opts.intensity ?? "none";
  if (intensity !== "none") {
    applyIntensityBatch(loaded.data, opts.size, opts.channels, intensity);
  }
  return loaded;
}

/**
 * Loads the manifest split, applies fraction and balance, and reads the images (cached), cropped
 * or masked to the chest region when `cfg.chestRegion` says so.
 */
export async function loadTrainData(
  cfg: TrainConfig,
  log: (msg: string) => void = () => {},
  opts: { streamAboveBytes?: number } = {},
): Promise<TrainData> {
  const { manifestPath, records, skipped } = await loadOrCreateManifest(dataSourceOf(cfg), {
    outDir: join(cfg.outputsDir, "manifests"),
  });
  let train = records.filter((r) => r.split === "train");
  const val = records.filter((r) => r.split === "val");
  if (train.length === 0 || val.length === 0) {
    throw new Error(
      `The manifest ${manifestPath} has ${train.length} train and ${val.length} val images; ` +
        `training needs both (dataset ${cfg.data})`,
    );
  }
  train = takeFraction(train, cfg.fraction, cfg.seed);
  const bal = balance(train, cfg.balance, cfg.seed);
  train = bal.records;
  const cw = bal.classWeights;
  const classWeights = cw === null
    ? null
    : cfg.classes === 2
    ? [cw[0], cw[1]]
    : [cw[0], cw[1], cw[1]];
  const paths = [...new Set([...train, ...val].map((r) => r.path))];
  const t0 = performance.now();
  const chestRegion = chestRegionOf(cfg), intensity = intensityOf(cfg);
  const bytes = cfg.size * cfg.size * cfg.channels;
  const limit = opts.streamAboveBytes ?? STREAM_ABOVE_BYTES;
  if (paths.length * bytes > limit) {
    // Too large for memory: the packed decode cache on disk, read batch by batch.
    const tick = progressLine(
      `decode cache (${cfg.size}x${cfg.size}x${cfg.channels})`,
      paths.length,
      log,
    );
    const packed = await openPackedImages(paths, {
      size: cfg.size,
      channels: cfg.channels,
      chestRegion,
      intensity,
      dir: join(cfg.outputsDir, "cache", "packed"),
      onProgress: (d) => tick(d),
    });
    log(
      `packed ${paths.length} images at ${cfg.size}x${cfg.size}x${cfg.channels} on disk ` +
        `(${packed.decoded} decoded now, ${((paths.length * bytes) / 2 ** 30).toFixed(2)} GiB in ` +
        `${packed.file}; streamed, not held in memory) in ` +
        `${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    const slotOf = new Map<string, number>();
    paths.forEach((p, i) => packed.ok[i] && slotOf.set(p, i));
    const warnings = packed.failures.map((f) => `skipped unreadable image ${f.path}: ${f.reason}`);
    warnings.push(...skippedWarning(skipped));
    const empty = new Uint8Array(0);
    const split = (r: SplitRecord[]) => ({
      ...makeSplitData(r, cfg.classes, empty, slotOf, bytes),
      source: packed,
    });
    return {
      train: split(train),
      val: split(val),
      classWeights,
      manifestPath,
      warnings,
    };
  }
  const loaded = await loadRunImages(paths, {
    size: cfg.size,
    channels: cfg.channels,
    chestRegion,
    intensity,
    cacheDir: join(cfg.outputsDir, "cache", "images"),
  });
  log(
    `loaded ${paths.length} images at ${cfg.size}x${cfg.size}x${cfg.channels}` +
      (chestRegion === "none" ? "" : ` (chest region: ${chestRegion})`) +
      (intensity === "none" ? "" : ` (intensity: ${intensity})`) +
      ` in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  const slotOf = new Map<string, number>();
  paths.forEach((p, i) => loaded.ok[i] && slotOf.set(p, i));
  const warnings = loaded.failures.map((f) => `skipped unreadable image ${f.path}: ${f.reason}`);
  warnings.push(...skippedWarning(skipped));
  return {
    train: makeSplitData(train, cfg.classes, loaded.data, slotOf, bytes),
    val: makeSplitData(val, cfg.classes, loaded.data, slotOf, bytes),
    classWeights,
    manifestPath,
    warnings,
  };
}

/**
 * The unlabelled images of a pseudo-labelling run (`cfg.pseudo.unlabelled`), read through the
 * run's image path like its training images; their folder names are never read (lib/train/pseudo.ts).
 */
export async function loadUnlabelled(
  cfg: TrainConfig,
  log: (msg: string) => void = () => {},
): Promise<UnlabelledImages> {
  if (!cfg.pseudo) throw new Error(`run "${cfg.name}" has no unlabelled folder (config pseudo)`);
  const files = await listUnlabelled(cfg.pseudo.unlabelled);
  const loaded = await loadRunImages(files.map((f) => f.path), {
    size: cfg.size,
    channels: cfg.channels,
    chestRegion: chestRegionOf(cfg),
    intensity: intensityOf(cfg),
    cacheDir: join(cfg.outputsDir, "cache", "images"),
  });
  for (const f of loaded.failures) {
    log(`warning: skipped unreadable unlabelled image ${f.path}: ${f.reason}`);
  }
  log(
    `unlabelled: ${
      loaded.ok.filter(Boolean).length
    } images from ${cfg.pseudo.unlabelled} (labels ignored)`,
  );
  return {
    files,
    pixels: loaded.data,
    ok: loaded.ok,
    imageBytes: cfg.size * cfg.size * cfg.channels,
  };
}
