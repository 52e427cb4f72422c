/**
 * Leakage audit of a split: patients and near-duplicate images shared between train, val and
 * test, by perceptual hash (`phash.ts`) with a thumbnail-correlation confirmation, and the
 * near-duplicate pairs inside each split.
 *
 * @example
 * ```ts
 * import { datasetLeakage } from "./leakage.ts";
 * const r = await datasetLeakage("data/chest_xray", { maxDistance: 4 });
 * r.audit.sharedPatients.count; r.audit.nearDuplicates.pairs;
 * ```
 * @module
 */

import type { SplitName, SplitRecord } from "../data/types.ts";
import { loadOrCreateManifest } from "../data/split.ts";
import type { DataSource } from "../data/dataset.ts";
import { makeRng } from "../util/rng.ts";
import {
  hammingDistance,
  hashImagesWithThumbnails,
  type PHash,
  popcount32,
  thumbnailConfirm,
} from "./phash.ts";

/** A pair of near-duplicate images in different splits. */
export interface NearDuplicatePair {
  a: string;
  b: string;
  splitA: SplitName;
  splitB: SplitName;
  patientA: string;
  patientB: string;
  distance: number;
  /** Whether the confirmation test (if any) accepted the pair; null without one. */
  confirmed: boolean | null;
}

/** Result of `leakageAudit`. */
export interface LeakageAudit {
  images: number;
  /** Images without a hash (unreadable), left out of the near-duplicate search. */
  unhashed: number;
  /** Patients with images in more than one split, and examples. */
  sharedPatients: { count: number; examples: { patientId: string; splits: SplitName[] }[] };
  maxDistance: number;
  nearDuplicates: {
    /** Cross-split pairs with distance <= maxDistance. */
    pairs: number;
    /** Of these, pairs of the same patient (already counted as a shared patient). */
    samePatient: number;
    /** Pairs of different patient ids: a duplicate the patient split cannot see. */
    differentPatients: number;
    /** Pairs per split pair ("train-val", "train-test", "val-test"). */
    bySplits: Record<string, number>;
    /** Images of val/test that have a near duplicate in train. */
    evalImagesWithTrainTwin: number;
    /** Candidate pairs the confirmation test accepted (null without one), and of different patients. */
    confirmed: number | null;
    confirmedDifferentPatients: number | null;
    /** Val/test images with a confirmed duplicate in train (null without a confirmation test). */
    evalImagesWithConfirmedTrainTwin: number | null;
    /** Pairs within one split (same split) at distance <= k, and how many were confirmed. */
    withinSplit: {
      pairs: number;
      confirmed: number | null;
      samePatient: number;
      /** Confirmed pairs first (or all pairs without a test), closest first, at most maxExamples. */
      examples: NearDuplicatePair[];
    };
    /** Closest pairs first, at most `maxExamples`. */
    examples: NearDuplicatePair[];
  };
}

const ORDER: SplitName[] = ["train", "val", "test"];

/**
 * Patients and near-duplicate images (pHash distance <= maxDistance, default 4) shared between
 * splits, plus the near-duplicate pairs inside each split. Candidate pairs can be checked by a
 * second test (`confirm`, e.g. `thumbnailConfirm`). Brute force over all pairs (13.6 million for
 * the Kaggle training folder: about a second). `hashes[i]` belongs to `records[i]`.
 */
export function leakageAudit(
  records: readonly SplitRecord[],
  hashes: readonly (PHash | null)[],
  opts: {
    maxDistance?: number;
    maxExamples?: number;
    /** Second test for candidate pairs (indices into records), e.g. `thumbnailConfirm`. */
    confirm?: (i: number, j: number) => boolean;
  } = {},
): LeakageAudit {
  if (records.length !== hashes.length) {
    throw new RangeError(`leakageAudit: ${records.length} records but ${hashes.length} hashes`);
  }
  const k = opts.maxDistance ?? 4, maxExamples = opts.maxExamples ?? 20;
  const where = new Map<string, Set<SplitName>>();
  for (const r of records) {
    const s = where.get(r.patientId) ?? new Set<SplitName>();
    s.add(r.split);
    where.set(r.patientId, s);
  }
  const shared = [...where].filter(([, s]) => s.size > 1)
    .map(([patientId, s]) => ({ patientId, splits: ORDER.filter((x) => s.has(x)) }));

  const idx = records.map((_, i) => i).filter((i) => hashes[i] !== null);
  const his = Uint32Array.from(idx, (i) => hashes[i]![0]);
  const los = Uint32Array.from(idx, (i) => hashes[i]![1]);
  const split = idx.map((i) => ORDER.indexOf(records[i].split));
  // Examples kept per distance (closest first), at most maxExamples each: the pair count can be
  // large at a loose k, so only counts are complete.
  const buckets: NearDuplicatePair[][] = Array.from({ length: k + 1 }, () => []);
  let nPairs = 0;
  const bySplits: Record<string, number> = { "train-val": 0, "train-test": 0, "val-test": 0 };
  const evalTwin = new Set<number>();
  let samePatient = 0, confirmed = 0, confirmedDiff = 0;
  const confirmedTwin = new Set<number>();
  const within = { pairs: 0, confirmed: 0, samePatient: 0 };
  const withinExamples: NearDuplicatePair[] = [];
  for (let p = 0; p < idx.length; p++) {
    for (let q = p + 1; q < idx.length; q++) {
      const d = popcount32((his[p] ^ his[q]) >>> 0) + popcount32((los[p] ^ los[q]) >>> 0);
      if (d > k) continue;
      const [i, j] = split[p] <= split[q] ? [idx[p], idx[q]] : [idx[q], idx[p]];
      const ri = records[i], rj = records[j];
      const ok = opts.confirm ? opts.confirm(i, j) : null;
      if (split[p] === split[q]) {
        within.pairs++;
        if (ok) within.confirmed++;
        if (ri.patientId === rj.patientId) within.samePatient++;
        if (withinExamples.length < maxExamples && ok !== false) {
          withinExamples.push(pairOf(ri, rj, d, ok));
        }
        continue;
      }
      bySplits[`${ri.split}-${rj.split}`]++;
      if (ri.patientId === rj.patientId) samePatient++;
      if (ri.split === "train") evalTwin.add(j);
      if (ok) {
        confirmed++;
        if (ri.patientId !== rj.patientId) confirmedDiff++;
        if (ri.split === "train") confirmedTwin.add(j);
      }
      nPairs++;
      if (buckets[d].length >= maxExamples) continue;
      buckets[d].push(pairOf(ri, rj, d, ok));
    }
  }
  const examples = buckets.flat().slice(0, maxExamples);
  return {
    images: records.length,
    unhashed: records.length - idx.length,
    sharedPatients: { count: shared.length, examples: shared.slice(0, maxExamples) },
    maxDistance: k,
    nearDuplicates: {
      pairs: nPairs,
      samePatient,
      differentPatients: nPairs - samePatient,
      bySplits,
      evalImagesWithTrainTwin: evalTwin.size,
      confirmed: opts.confirm ? confirmed : null,
      confirmedDifferentPatients: opts.confirm ? confirmedDiff : null,
      evalImagesWithConfirmedTrainTwin: opts.confirm ? confirmedTwin.size : null,
      withinSplit: {
        ...within,
        confirmed: opts.confirm ? within.confirmed : null,
        examples: withinExamples.sort((x, y) => x.distance - y.distance),
      },
      examples,
    },
  };
}

/** The example entry for images `a` and `b` at pHash distance `distance`. */
function pairOf(
  a: SplitRecord,
  b: SplitRecord,
  distance: number,
  confirmed: boolean | null,
): NearDuplicatePair {
  return {
    a: a.relPath,
    b: b.relPath,
    splitA: a.split,
    splitB: b.split,
    patientA: a.patientId,
    patientB: b.patientId,
    distance,
    confirmed,
  };
}

/**
 * Histogram of pHash distances (0..64) over `samples` random pairs of distinct patients and over
 * all pairs of images of the same patient (up to `samples`): shows what distance "near duplicate"
 * means on this data before choosing k.
 */
export function distanceProfile(
  records: readonly { patientId: string }[],
  hashes: readonly (PHash | null)[],
  rng: () => number,
  samples = 20000,
): { differentPatients: number[]; samePatient: number[] } {
  const diff = new Array(65).fill(0), same = new Array(65).fill(0);
  const idx = records.map((_, i) => i).filter((i) => hashes[i] !== null);
  for (let s = 0, tries = 0; s < samples && tries < samples * 10 && idx.length > 1; tries++) {
    const i = idx[Math.floor(rng() * idx.length)], j = idx[Math.floor(rng() * idx.length)];
    if (records[i].patientId === records[j].patientId) continue;
    diff[hammingDistance(hashes[i]!, hashes[j]!)]++;
    s++;
  }
  const byPatient = new Map<string, number[]>();
  for (const i of idx) {
    const list = byPatient.get(records[i].patientId) ?? [];
    list.push(i);
    byPatient.set(records[i].patientId, list);
  }
  let n = 0;
  outer: for (const list of byPatient.values()) {
    for (let a = 0; a < list.length; a++) {
      for (let b = a + 1; b < list.length; b++) {
        same[hammingDistance(hashes[list[a]]!, hashes[list[b]]!)]++;
        if (++n >= samples) break outer;
      }
    }
  }
  return { differentPatients: diff, samePatient: same };
}

/** Everything the leakage chapter shows, for one dataset folder. */
export interface DatasetLeakage {
  dataRoot: string;
  manifestPath: string;
  audit: LeakageAudit;
  /** Near-duplicate pair counts at several distances, to show how the choice of k matters. */
  pairsByDistance: {
    maxDistance: number;
    pairs: number;
    differentPatients: number;
    confirmed: number;
  }[];
  profile: { differentPatients: number[]; samePatient: number[] };
  seconds: number;
}

/**
 * Runs the leakage audit on a dataset folder with the project's patient-level manifest
 * (`loadOrCreateManifest` of the data layer): hashes every image (cached), audits at
 * `maxDistance` with the thumbnail-correlation confirmation, and counts pairs at 0, 2, 4, 6, 8
 * and 10 as well.
 */
export async function datasetLeakage(
  dataRoot: DataSource | string,
  opts: {
    maxDistance?: number;
    minCorrelation?: number;
    seed?: number;
    manifestDir?: string;
    cacheDir?: string | null;
  } = {},
): Promise<DatasetLeakage> {
  const t0 = performance.now();
  const { manifestPath, records } = await loadOrCreateManifest(dataRoot, {
    outDir: opts.manifestDir,
  });
  const { hashes, thumbnails } = await hashImagesWithThumbnails(records.map((r) => r.path), {
    cacheDir: opts.cacheDir,
  });
  const confirm = thumbnailConfirm(thumbnails, opts.minCorrelation ?? 0.99);
  const audit = leakageAudit(records, hashes, { maxDistance: opts.maxDistance ?? 4, confirm });
  const pairsByDistance = [0, 2, 4, 6, 8, 10].map((k) => {
    const a = leakageAudit(records, hashes, { maxDistance: k, maxExamples: 0, confirm });
    return {
      maxDistance: k,
      pairs: a.nearDuplicates.pairs,
      differentPatients: a.nearDuplicates.differentPatients,
      confirmed: a.nearDuplicates.confirmed!,
    };
  });
  return {
    dataRoot: typeof dataRoot === "string" ? dataRoot : dataRoot.data,
    manifestPath,
    audit,
    pairsByDistance,
    profile: distanceProfile(records, hashes, makeRng(opts.seed ?? 0)),
    seconds: (performance.now() - t0) / 1000,
  };
}
