/**
 * Train / validation / test splits, by patient, written as a manifest (files are never moved).
 *
 * Rules, in order:
 * 1. No official split folders (flat layout): a seeded, patient-level, class-stratified split,
 *    80/10/10 by default, of all images.
 * 2. Official `train` present but `val` absent or tiny (fewer than 5% of train's images; Kaggle's
 *    val has 16), or `test` absent: train (with that tiny val) is re-split by patient into train
 *    and the missing splits, keeping the fractions' ratios between them. An official split that
 *    is present (a big enough val, a test) is kept as it is.
 * 3. Otherwise the official splits are kept as they are.
 * Every decision that changes the official folders is said in `warnings`.
 *
 * @example
 * ```ts
 * import { loadOrCreateManifest } from "./split.ts";
 * const { manifestPath, records } = await loadOrCreateManifest("data/chest_xray", { seed: 42 });
 * const train = records.filter((r) => r.split === "train");
 * ```
 * @module
 */
import { join } from "node:path";
import { readJson, writeJsonAtomic } from "../util/atomic.ts";
import { sha256Hex } from "../util/hash.ts";
import { makeRng, type Rng, shuffle } from "../util/rng.ts";
import { cmp } from "./discover.ts";
import { type DataSource, loadDataset, type Skipped } from "./dataset.ts";
import { knownSubtype } from "./names.ts";
import { projectPath } from "../util/project.ts";
import type { ClassName, ImageRecord, SplitName, SplitRecord, Subtype } from "./types.ts";

/** Fractions of images for train, val and test; they sum to 1. */
export type Fractions = [number, number, number];

/** Default seed of every split. */
export const DEFAULT_SEED = 42;
/** Default fractions: 80 / 10 / 10. */
export const DEFAULT_FRACTIONS: Fractions = [0.8, 0.1, 0.1];
/** An official val split under this share of train's images is pooled with train and re-split. */
export const MIN_VAL_SHARE = 0.05;
/** Default folder for manifests: `outputs/manifests` in the project root (not the working dir). */
export const DEFAULT_MANIFEST_DIR = projectPath("outputs/manifests");

const SPLITS: readonly SplitName[] = ["train", "val", "test"];

/** Options of {@link makeSplits} and {@link planSplits}. */
export interface SplitOptions {
  /** Seed of the shuffles; default {@link DEFAULT_SEED}. */
  seed?: number;
  /** Train / val / test fractions; default {@link DEFAULT_FRACTIONS}. */
  fractions?: Fractions;
}

/** How the splits were made. */
export type SplitStrategy = "official" | "official+carved" | "stratified";

/** Splits with the reasons behind them. */
export interface SplitPlan {
  /** Every input record, once, with its split; in input order. */
  records: SplitRecord[];
  /** Which rule of the module doc applied. */
  strategy: SplitStrategy;
  /** What was carved, pooled or found amiss (shared patients), in words. */
  warnings: string[];
}

/** Throws unless `f` holds three non-negative numbers summing to 1 with a positive train share. */
export function checkFractions(f: readonly number[]): Fractions {
  if (f.length !== 3 || f.some((x) => !Number.isFinite(x) || x < 0)) {
    throw new RangeError(`fractions must be three non-negative numbers, got [${f.join(", ")}]`);
  }
  const sum = f[0] + f[1] + f[2];
  if (Math.abs(sum - 1) > 1e-6) {
    throw new RangeError(`fractions must sum to 1, got [${f.join(", ")}] (sum ${sum})`);
  }
  if (f[0] <= 0) throw new RangeError(`the train fraction must be positive, got ${f[0]}`);
  return [f[0], f[1], f[2]];
}

/** Groups records by patient, keys sorted. */
function byPatient<T extends ImageRecord>(records: readonly T[]): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const r of records) {
    const g = groups.get(r.patientId);
    if (g) g.push(r);
    else groups.set(r.patientId, [r]);
  }
  return new Map([...groups.entries()].sort((a, b) => cmp(a[0], b[0])));
}

/**
 * Assigns whole patients to splits so that each class (stratum) gets close to `fractions` of its
 * images. Patients of one stratum are shuffled, then walked in order, each going to the split in
 * whose share of the cumulative image count its middle falls. When a stratum has at least as many
 * patients as there are non-empty fractions, each of those splits gets at least one patient.
 * Returns relPath -> split. Written by hand: no library we use does grouped stratified splits.
 */
export function stratifiedPatientSplit(
  records: readonly ImageRecord[],
  fractions: Fractions,
  seed: number,
): Map<string, SplitName> {
  const f = checkFractions(fractions);
  const rng: Rng = makeRng(seed);
  const strata = new Map<string, ImageRecord[][]>();
  for (const group of byPatient(records).values()) {
    // A patient's stratum is the set of classes among its images (normally a single class).
    const key = [...new Set(group.map((r) => r.label))].sort().join("+");
    const list = strata.get(key);
    if (list) list.push(group);
    else strata.set(key, [group]);
  }
  const out = new Map<string, SplitName>();
  for (const key of [...strata.keys()].sort(cmp)) {
    const patients = shuffle(strata.get(key)!, rng);
    const total = patients.reduce((s, p) => s + p.length, 0);
    const bounds = [f[0] * total, (f[0] + f[1]) * total];
    const assigned: SplitName[] = [];
    let seen = 0;
    for (const p of patients) {
      const mid = seen + p.length / 2;
      assigned.push(mid < bounds[0] ? "train" : mid < bounds[1] ? "val" : "test");
      seen += p.length;
    }
    ensureEachSplit(patients, assigned, f);
    patients.forEach((p, i) => p.forEach((r) => out.set(r.relPath, assigned[i])));
  }
  return out;
}

/** Moves single patients so that every split with a positive fraction has one, when possible. */
function ensureEachSplit(patients: ImageRecord[][], assigned: SplitName[], f: Fractions): void {
  const wanted = SPLITS.filter((_, i) => f[i] > 0);
  if (patients.length < wanted.length) return;
  for (const s of wanted) {
    if (assigned.includes(s)) continue;
    // Take from the split with the most patients its smallest patient (the last one on ties).
    const counts = SPLITS.map((x) => assigned.filter((a) => a === x).length);
    const donor = SPLITS[counts.indexOf(Math.max(...counts))];
    let best = -1;
    assigned.forEach((a, i) => {
      if (a === donor && (best < 0 || patients[i].length <= patients[best].length)) best = i;
    });
    assigned[best] = s;
  }
}

/** Patients that occur in more than one split. */
export function sharedPatients(records: readonly SplitRecord[]): Map<string, SplitName[]> {
  const where = new Map<string, Set<SplitName>>();
  for (const r of records) {
    const s = where.get(r.patientId) ?? new Set<SplitName>();
    s.add(r.split);
    where.set(r.patientId, s);
  }
  const out = new Map<string, SplitName[]>();
  for (const [p, s] of where) {
    if (s.size > 1) out.set(p, SPLITS.filter((x) => s.has(x)));
  }
  return out;
}

/** Counts images per split, in words ("train 4173, val 521, test 522"). */
function describeCounts(records: readonly SplitRecord[]): string {
  return SPLITS.map((s) => `${s} ${records.filter((r) => r.split === s).length}`).join(", ");
}

/** Splits records by the rules of the module doc, with the reasons. */
export function planSplits(records: readonly ImageRecord[], opts: SplitOptions = {}): SplitPlan {
  const seed = opts.seed ?? DEFAULT_SEED;
  const f = checkFractions(opts.fractions ?? DEFAULT_FRACTIONS);
  const warnings: string[] = [];
  const count = (s: SplitName) => records.filter((r) => r.officialSplit === s).length;
  const nTrain = count("train"), nVal = count("val"), nTest = count("test");
  const official = records.some((r) => r.officialSplit !== null);
  if (official && records.some((r) => r.officialSplit === null)) {
    throw new Error("records mix official splits with records that have none (officialSplit null)");
  }
  let strategy: SplitStrategy;
  let out: SplitRecord[];
  if (!official) {
    strategy = "stratified";
    const map = stratifiedPatientSplit(records, f, seed);
    out = records.map((r) => ({ ...r, split: map.get(r.relPath)! }));
  } else if (nTrain > 0 && (nVal < MIN_VAL_SHARE * nTrain || nTest === 0)) {
    strategy = "official+carved";
    const carveVal = nVal < MIN_VAL_SHARE * nTrain;
    const carveTest = nTest === 0;
    // The pool: train, plus a val split too small to keep. Kept official splits stay as they are.
    const kept = (r: ImageRecord) =>
      (r.officialSplit === "val" && !carveVal) || (r.officialSplit === "test" && !carveTest);
    const pool = records.filter((r) => !kept(r));
    const parts = [f[0], carveVal ? f[1] : 0, carveTest ? f[2] : 0];
    const sum = parts[0] + parts[1] + parts[2];
    const poolF = parts.map((x) => x / sum) as Fractions;
    const map = stratifiedPatientSplit(pool, poolF, seed);
    out = records.map((r) => ({ ...r, split: kept(r) ? r.officialSplit! : map.get(r.relPath)! }));
    const why: string[] = [];
    if (nVal === 0) why.push("There is no official val split");
    else if (carveVal) {
      why.push(
        `The official val split has ${nVal} images (${(100 * nVal / nTrain).toFixed(1)}% of ` +
          `train's ${nTrain}, under ${100 * MIN_VAL_SHARE}%); it was pooled with train`,
      );
    }
    if (carveTest) why.push(`${why.length ? "there" : "There"} is no official test split`);
    const into = ["train", carveVal ? "val" : "", carveTest ? "test" : ""].filter(Boolean);
    const keptNames = [!carveVal ? "val" : "", !carveTest ? "test" : ""].filter(Boolean);
    warnings.push(
      `${why.join("; ")}; re-split by patient into ${into.join("/")}` +
        (keptNames.length ? ` (the official ${keptNames.join(" and ")} split is kept)` : "") +
        `, seed ${seed}, fractions ${poolF.map((x) => x.toFixed(3)).join("/")}: ` +
        describeCounts(out),
    );
  } else {
    strategy = "official";
    out = records.map((r) => ({ ...r, split: r.officialSplit! }));
    if (nTrain === 0) {
      warnings.push("There is no train split; the official splits are kept as they are");
    }
  }
  const shared = sharedPatients(out);
  if (shared.size > 0) {
    const ex = [...shared.entries()].slice(0, 5).map(([p, s]) => `${p} (${s.join("+")})`);
    warnings.push(
      `${shared.size} patient(s) appear in more than one split (official folders are kept as ` +
        `they are): ${ex.join(", ")}${shared.size > 5 ? " ..." : ""}`,
    );
  }
  return { records: out, strategy, warnings };
}

/** Splits records (see the module doc); every record appears once, in input order. */
export function makeSplits(records: ImageRecord[], opts?: SplitOptions): SplitRecord[] {
  return planSplits(records, opts).records;
}

/** One manifest line: what is needed to rebuild a split without moving files. */
export interface ManifestEntry {
  relPath: string;
  split: SplitName;
  label: ClassName;
  subtype: Subtype | "unknown";
  patient: string;
}

/** What a manifest records besides its entries. */
export interface ManifestMeta {
  /** Hash of the file list, seed and fractions (the manifest's file name). */
  key: string;
  seed: number;
  fractions: Fractions;
  strategy: SplitStrategy;
  /** Absolute dataset root when the manifest was made (information only). */
  dataRoot: string;
  layout: "kaggle" | "flat" | "table";
  /** The label table (absolute) and its format, for a table source. */
  labels?: string | null;
  format?: string | null;
  /** Images per split. */
  counts: Record<SplitName, number>;
  /** Discovery and split warnings. */
  warnings: string[];
}

/** A split manifest as stored on disk. */
export interface Manifest {
  version: 1;
  /** ISO time of creation. */
  created: string;
  meta: ManifestMeta;
  records: ManifestEntry[];
}

/** The manifest key: first 16 hex of sha256 over the sorted relPaths, the seed and fractions. */
export function manifestKey(
  records: readonly Pick<ImageRecord, "relPath">[],
  seed: number,
  fractions: Fractions,
): string {
  const files = records.map((r) => r.relPath).sort(cmp);
  return sha256Hex(JSON.stringify({ files, seed, fractions })).slice(0, 16);
}

/** Writes a manifest atomically (creating folders). */
export async function writeManifest(
  path: string,
  splits: readonly SplitRecord[],
  meta: Omit<ManifestMeta, "counts">,
): Promise<Manifest> {
  const counts = { train: 0, val: 0, test: 0 } as Record<SplitName, number>;
  for (const r of splits) counts[r.split]++;
  const manifest: Manifest = {
    version: 1,
    created: new Date().toISOString(),
    meta: { ...meta, counts },
    records: [...splits].sort((a, b) => cmp(a.relPath, b.relPath)).map((r) => ({
      relPath: r.relPath,
      split: r.split,
      label: r.label,
      subtype: knownSubtype(r),
      patient: r.patientId,
    })),
  };
  await writeJsonAtomic(path, manifest);
  return manifest;
}

/** Reads and checks a manifest; errors name the file and what is wrong. */
export async function readManifest(path: string): Promise<Manifest> {
  const m = await readJson<Manifest>(path);
  if (m?.version !== 1 || !Array.isArray(m.records) || typeof m.meta !== "object") {
    throw new Error(`${path} is not a split manifest (expected {version: 1, meta, records})`);
  }
  for (const [i, r] of m.records.entries()) {
    if (typeof r?.relPath !== "string" || !SPLITS.includes(r.split)) {
      throw new Error(
        `${path}: record ${i} is malformed (expected relPath and split train|val|test), got ` +
          JSON.stringify(r),
      );
    }
  }
  return m;
}

/** Options of {@link loadOrCreateManifest}. */
export interface ManifestOptions extends SplitOptions {
  /** Folder of manifests; default {@link DEFAULT_MANIFEST_DIR}. */
  outDir?: string;
}

/** What {@link loadOrCreateManifest} returns. */
export interface LoadedManifest {
  manifestPath: string;
  /** Discovered records with their manifest split, sorted by relPath. */
  records: SplitRecord[];
  /** True when the manifest was written now, false when an existing one was reused. */
  created: boolean;
  strategy: SplitStrategy;
  /** Discovery and split warnings. */
  warnings: string[];
  /** Items the dataset left out, by kind (lib/data/dataset.ts). */
  skipped: Skipped[];
}

/**
 * The manifest key of a dataset: {@link manifestKey} for the folder layout (unchanged, so old
 * manifests stay valid); for a label table the labels and patients count too (one folder can
 * have several tables).
 */
function datasetKey(
  records: readonly ImageRecord[],
  labelsHash: string,
  seed: number,
  fractions: Fractions,
): string {
  if (labelsHash === "") return manifestKey(records, seed, fractions);
  const files = records.map((r) => `${r.relPath}\t${r.label}\t${r.patientId}`).sort(cmp);
  return sha256Hex(JSON.stringify({ files, labelsHash, seed, fractions })).slice(0, 16);
}

/**
 * Reads the dataset (a folder, or a folder with a label table: lib/data/dataset.ts), then reuses the manifest for this file list, seed and fractions when it
 * exists (and its file list matches), or makes and writes one under `outDir`.
 */
export async function loadOrCreateManifest(
  source: DataSource | string,
  opts: ManifestOptions = {},
): Promise<LoadedManifest> {
  const seed = opts.seed ?? DEFAULT_SEED;
  const fractions = checkFractions(opts.fractions ?? DEFAULT_FRACTIONS);
  const found = await loadDataset(source);
  const key = datasetKey(found.records, found.labelsHash, seed, fractions);
  const manifestPath = join(opts.outDir ?? DEFAULT_MANIFEST_DIR, `${key}.json`);
  const existing = await readManifest(manifestPath).catch(() => null);
  if (existing && sameFiles(existing, found.records)) {
    const split = new Map(existing.records.map((r) => [r.relPath, r.split]));
    return {
      manifestPath,
      records: found.records.map((r) => ({ ...r, split: split.get(r.relPath)! })),
      created: false,
      strategy: existing.meta.strategy,
      warnings: existing.meta.warnings ?? [],
      skipped: found.skipped,
    };
  }
  const plan = planSplits(found.records, { seed, fractions });
  const warnings = [...found.warnings, ...plan.warnings];
  await writeManifest(manifestPath, plan.records, {
    key,
    seed,
    fractions,
    strategy: plan.strategy,
    dataRoot: found.root,
    layout: found.layout,
    labels: found.labels,
    format: found.format,
    warnings,
  });
  return {
    manifestPath,
    records: plan.records,
    created: true,
    strategy: plan.strategy,
    warnings,
    skipped: found.skipped,
  };
}

/** True when a manifest lists exactly these files. */
function sameFiles(m: Manifest, records: readonly ImageRecord[]): boolean {
  if (m.records.length !== records.length) return false;
  const have = new Set(m.records.map((r) => r.relPath));
  return records.every((r) => have.has(r.relPath));
}
