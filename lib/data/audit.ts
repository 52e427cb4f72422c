/**
 * Dataset audit: what is in a chest X-ray folder, and what is wrong with it.
 *
 * {@link auditDataset} discovers the dataset, then reads every file once with bounded
 * concurrency: its header and pixel data (`probeImage`, so truncated files are caught) and its
 * SHA-256. A file that cannot be read is listed with the reason and skipped; it never stops the
 * audit. The report holds, as nodejs-polars tables: counts per split, class and subtype; split
 * sizes with percentages and class ratio (for the folders on disk and for the split the project
 * will use, see lib/data/split.ts); the image size distribution; and lists of unreadable files,
 * exact duplicates and patients found in more than one split.
 *
 * @example
 * ```ts
 * import { auditDataset } from "./audit.ts";
 * import { formatAudit, writeAudit } from "./audit_output.ts";
 * const report = await auditDataset("data/chest_xray");
 * console.log(formatAudit(report));
 * await writeAudit(report, "outputs/audit");
 * ```
 * @module
 */
import pl from "nodejs-polars";
import { ImageError, probeImage } from "../images/load.ts";
import { metadataWarnings } from "../images/scope.ts";
import { sha256Hex } from "../util/hash.ts";
import { mapLimit } from "./_pool.ts";
import { ProbeCache, type ProbeOutcome } from "./_probe_cache.ts";
import { projectPath } from "../util/project.ts";
import { cmp } from "./discover.ts";
import {
  type DataSource,
  loadDataset,
  type SkipKind,
  type Skipped,
  skippedCounts,
} from "./dataset.ts";
import { knownSubtype } from "./names.ts";
import {
  DEFAULT_FRACTIONS,
  DEFAULT_SEED,
  type Fractions,
  planSplits,
  sharedPatients,
  type SplitStrategy,
} from "./split.ts";
import type { ImageRecord, SplitRecord } from "./types.ts";

/** Probe cache the audit CLI uses: `outputs/cache/audit/probe.json` in the project root. */
export const DEFAULT_PROBE_CACHE = projectPath("outputs/cache/audit/probe.json");

/** Default number of files read at once. */
export const DEFAULT_CONCURRENCY = 8;

/** Options of {@link auditDataset}. */
export interface AuditOptions {
  /** Seed and fractions of the planned split (see lib/data/split.ts). */
  seed?: number;
  fractions?: Fractions;
  /** Files read at once; default {@link DEFAULT_CONCURRENCY}. */
  concurrency?: number;
  /** Decode pixel data to catch truncated files (default true); false reads headers only. */
  verify?: boolean;
  /**
   * JSON file caching probe outcomes by content hash, so that a rerun decodes nothing (the CLI
   * uses {@link DEFAULT_PROBE_CACHE}); default none.
   */
  probeCache?: string | null;
  /** Called after each file. */
  onProgress?: (done: number, total: number) => void;
}

/** What the audit learned about one file: where it stands in the dataset and what probing gave. */
export interface FileCheck extends ProbeOutcome {
  relPath: string;
  /** Split folder on disk, or "all" in the flat layout. */
  split: string;
  /** Split the project will use (manifest rules, same seed and fractions). */
  plannedSplit: string;
  label: string;
  /** Subtype, "unknown" when the name does not say. */
  subtype: string;
  patient: string;
  bytes: number | null;
  sha256: string | null;
}

/** A group of files with identical content. */
export interface DuplicateGroup {
  sha256: string;
  files: string[];
  /** Distinct classes among the copies (two means a label conflict). */
  labels: string[];
  /** Distinct split folders among the copies (two or more means leakage). */
  splits: string[];
  /** Distinct patients among the copies (two or more: the patient split cannot keep them together). */
  patients: string[];
  /** Distinct planned splits among the copies (two or more means leakage in training). */
  plannedSplits: string[];
}

/**
 * The out-of-scope summary of a dataset, from what its label table and DICOM headers say (the
 * `dicom_*` checks of lib/images/scope.ts: age outside 1-5 years, not a radiograph, not the
 * chest), plus the lateral views the dataset left out. The pixel checks (colour, exposure,
 * asymmetry, feature distance) need a run and are `predict`'s and the page's.
 */
export interface OutOfScope {
  /** Images with at least one warning, and their share of the dataset's images. */
  images: number;
  share: number;
  /** Images per warning code (`dicom_age`, `dicom_modality`, `dicom_body_part`). */
  byCode: Record<string, number>;
  /** Images whose age is known (from the table or the DICOM header). */
  ageKnown: number;
  /** Lateral views left out of the dataset (counted in `skipped` too). */
  lateralLeftOut: number;
  /** The first flagged images with their codes. */
  examples: { relPath: string; codes: string[] }[];
}

/** The out-of-scope summary of the records (see {@link OutOfScope}). */
export function outOfScope(
  records: readonly ImageRecord[],
  lateralLeftOut: number,
): OutOfScope {
  const byCode: Record<string, number> = {};
  const examples: OutOfScope["examples"] = [];
  let images = 0, ageKnown = 0;
  for (const r of records) {
    if (r.meta?.ageYears != null) ageKnown++;
    const codes = metadataWarnings(r.meta ?? {}).map((w) => w.code)
      .filter((c) => c !== "dicom_lateral");
    if (!codes.length) continue;
    images++;
    for (const c of codes) byCode[c] = (byCode[c] ?? 0) + 1;
    if (examples.length < 10) examples.push({ relPath: r.relPath, codes });
  }
  const share = records.length ? Math.round(10000 * images / records.length) / 10000 : 0;
  return { images, share, byCode, ageKnown, lateralLeftOut, examples };
}

/** The audit's result; every table is a nodejs-polars DataFrame. */
export interface AuditReport {
  root: string;
  layout: "kaggle" | "flat" | "table";
  /** The label table (absolute) and its format, for a table source; null for the folders. */
  labels: string | null;
  format: string | null;
  /** Items the dataset left out (label rows, files, views, DICOMs), each named with its kind. */
  skipped: Skipped[];
  /** How many of each kind (every kind, 0 when none). */
  skippedCounts: Record<SkipKind, number>;
  /** How much of the dataset the pediatric model should not be trusted on (see {@link OutOfScope}). */
  outOfScope: OutOfScope;
  /** ISO time the audit ran. */
  created: string;
  /** Seconds the audit took (discovery + reading every file). */
  seconds: number;
  concurrency: number;
  /** The probe cache used, with how many files it answered (hits) and how many were probed. */
  probeCache: { path: string; hits: number; misses: number } | null;
  total: number;
  readable: number;
  /** Images per split folder, class and subtype, with patients (`split,label,subtype,images,patients`). */
  counts: pl.DataFrame;
  /** Split folders: `split,images,percent,NORMAL,PNEUMONIA,ratio` plus a `total` row. */
  splits: pl.DataFrame;
  /** The split the project will use (see {@link plannedStrategy}). */
  planned: pl.DataFrame;
  plannedStrategy: SplitStrategy;
  plannedSeed: number;
  plannedFractions: Fractions;
  /** PNEUMONIA images per NORMAL image, whole dataset. */
  classRatio: number;
  /** Readable images per `width,height,channels,format`, most common first. */
  sizes: pl.DataFrame;
  /** File size in bytes of readable images: min, median, mean, max. */
  fileBytes: { min: number; median: number; mean: number; max: number } | null;
  unreadable: { relPath: string; reason: string }[];
  duplicates: DuplicateGroup[];
  /** Patients found in more than one split folder. */
  sharedPatients: { patient: string; splits: string[] }[];
  /** Patients in more than one planned split (0 unless official folders already share some). */
  plannedSharedPatients: number;
  /** Discovery and split warnings. */
  warnings: string[];
  /** One row per file (`FileCheck` fields). */
  files: pl.DataFrame;
}

const SPLIT_ORDER = ["train", "val", "test", "all"];

/** Distinct split names in train, val, test order. */
function splitSet(splits: string[]): string[] {
  return [...new Set(splits)].sort((a, b) => SPLIT_ORDER.indexOf(a) - SPLIT_ORDER.indexOf(b));
}

/** Reads one file: hash, then probe (or the cache); failures become a reason, never an exception. */
async function checkFile(
  r: ImageRecord,
  verify: boolean,
  cache: ProbeCache,
): Promise<Omit<FileCheck, "plannedSplit">> {
  const base = {
    relPath: r.relPath,
    split: r.officialSplit ?? "all",
    label: r.label,
    subtype: knownSubtype(r),
    patient: r.patientId,
  };
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(r.path);
  } catch (err) {
    const reason = `cannot read file (${(err as Error).message})`;
    return { ...base, ...failed(reason), bytes: null, sha256: null };
  }
  // Empty files all share one hash; they are no duplicates of each other and cost nothing.
  const sha = bytes.length > 0 ? sha256Hex(bytes) : null;
  let outcome = sha === null ? undefined : cache.get(sha, verify);
  if (outcome === undefined) {
    outcome = await probeImage(r.path, { verify }).then(
      (p): ProbeOutcome => ({
        ok: true,
        reason: null,
        width: p.width,
        height: p.height,
        channels: p.channels,
        format: p.format,
      }),
      (err) =>
        failed(err instanceof ImageError ? err.reason : (err as Error).message ?? String(err)),
    );
    if (sha !== null) cache.set(sha, verify, outcome);
  }
  return { ...base, ...outcome, bytes: bytes.length, sha256: sha };
}

/** An unreadable file's outcome. */
function failed(reason: string): ProbeOutcome {
  return { ok: false, reason, width: null, height: null, channels: null, format: null };
}

/** Split table (images, percent, per class, PNEUMONIA:NORMAL ratio) from a split column. */
function splitTable(files: pl.DataFrame, column: string, total: number): pl.DataFrame {
  const rows: Record<string, string | number>[] = [];
  const groups = files.groupBy(column).agg(
    pl.len().alias("images"),
    pl.col("label").eq(pl.lit("NORMAL")).sum().alias("NORMAL"),
    pl.col("label").eq(pl.lit("PNEUMONIA")).sum().alias("PNEUMONIA"),
  ).toRecords() as Record<string, any>[];
  groups.sort((a, b) => SPLIT_ORDER.indexOf(a[column]) - SPLIT_ORDER.indexOf(b[column]));
  const row = (split: string, images: number, n: number, p: number) => ({
    split,
    images,
    percent: total ? Math.round(10000 * images / total) / 100 : 0,
    NORMAL: n,
    PNEUMONIA: p,
    ratio: n ? Math.round(1000 * p / n) / 1000 : Number.NaN,
  });
  for (const g of groups) {
    rows.push(row(g[column], Number(g.images), Number(g.NORMAL), Number(g.PNEUMONIA)));
  }
  if (groups.length > 1) {
    const sum = (k: string) => groups.reduce((s, g) => s + Number(g[k]), 0);
    rows.push(row("total", total, sum("NORMAL"), sum("PNEUMONIA")));
  }
  return pl.readRecords(rows).withColumns(
    pl.col(["images", "NORMAL", "PNEUMONIA"]).cast(pl.Int64),
  );
}

/** Builds the per-file DataFrame with stable column types, even when empty of some values. */
function filesFrame(checks: FileCheck[]): pl.DataFrame {
  const col = <K extends keyof FileCheck>(k: K) => checks.map((c) => c[k]);
  return pl.DataFrame([
    pl.Series("relPath", col("relPath"), pl.Utf8),
    pl.Series("split", col("split"), pl.Utf8),
    pl.Series("plannedSplit", col("plannedSplit"), pl.Utf8),
    pl.Series("label", col("label"), pl.Utf8),
    pl.Series("subtype", col("subtype"), pl.Utf8),
    pl.Series("patient", col("patient"), pl.Utf8),
    pl.Series("ok", col("ok"), pl.Bool),
    pl.Series("reason", col("reason"), pl.Utf8),
    pl.Series("width", col("width"), pl.Int64),
    pl.Series("height", col("height"), pl.Int64),
    pl.Series("channels", col("channels"), pl.Int64),
    pl.Series("format", col("format"), pl.Utf8),
    pl.Series("bytes", col("bytes"), pl.Int64),
    pl.Series("sha256", col("sha256"), pl.Utf8),
  ]);
}

/**
 * Audits the dataset under `root` (see the module doc). Throws only for what stops discovery
 * (missing root, wrong layout, empty class folder); bad files are reported, not thrown.
 */
export async function auditDataset(
  root: DataSource | string,
  opts: AuditOptions = {},
): Promise<AuditReport> {
  const t0 = performance.now();
  const concurrency = opts.concurrency ?? DEFAULT_CONCURRENCY;
  const seed = opts.seed ?? DEFAULT_SEED;
  const fractions = opts.fractions ?? DEFAULT_FRACTIONS;
  const found = await loadDataset(root);
  const plan = planSplits(found.records, { seed, fractions });
  const planned = new Map(plan.records.map((r) => [r.relPath, r.split]));
  const cache = await ProbeCache.open(opts.probeCache ?? null);
  const raw = await mapLimit(
    found.records,
    concurrency,
    (r) => checkFile(r, opts.verify ?? true, cache),
    opts.onProgress,
  );
  await cache.save();
  const checks: FileCheck[] = raw.map((c) => ({ ...c, plannedSplit: planned.get(c.relPath)! }));
  const files = filesFrame(checks);
  const good = files.filter(pl.col("ok"));
  // Not `nGood`: nodejs-polars exposes columns as properties, and "height" is a column.
  const nGood = checks.filter((c) => c.ok).length;

  const order = pl.Series("_o", checks.map((c) => SPLIT_ORDER.indexOf(c.split)), pl.Int32);
  const counts = files
    .withColumns(order)
    .groupBy(["_o", "split", "label", "subtype"])
    .agg(
      pl.len().cast(pl.Int64).alias("images"),
      pl.col("patient").nUnique().cast(pl.Int64).alias("patients"),
    )
    .sort(["_o", "label", "subtype"])
    .drop("_o");

  const sizes = nGood
    ? good.groupBy(["width", "height", "channels", "format"])
      .agg(pl.len().cast(pl.Int64).alias("images"))
      .withColumns(pl.col("images").mul(-1).alias("_n"))
      .sort(["_n", "width", "height"])
      .drop("_n")
    : pl.DataFrame({ width: [], height: [], channels: [], format: [], images: [] });

  const byteCol = good.getColumn("bytes");
  const fileBytes = nGood
    ? {
      min: Number(byteCol.min()),
      median: Number(byteCol.median()),
      mean: Math.round(Number(byteCol.mean())),
      max: Number(byteCol.max()),
    }
    : null;

  const dupes = new Map<string, FileCheck[]>();
  for (const c of checks) {
    if (c.sha256 === null) continue;
    const g = dupes.get(c.sha256);
    if (g) g.push(c);
    else dupes.set(c.sha256, [c]);
  }
  const duplicates: DuplicateGroup[] = [...dupes.entries()]
    .filter(([, g]) => g.length > 1)
    .map(([sha256, g]) => ({
      sha256,
      files: g.map((c) => c.relPath),
      labels: [...new Set(g.map((c) => c.label))].sort(),
      splits: splitSet(g.map((c) => c.split)),
      patients: [...new Set(g.map((c) => c.patient))].sort(cmp),
      plannedSplits: splitSet(g.map((c) => c.plannedSplit)),
    }))
    .sort((a, b) => cmp(a.files[0], b.files[0]));

  const onDisk: SplitRecord[] = found.layout === "kaggle"
    ? found.records.map((r) => ({ ...r, split: r.officialSplit! }))
    : [];
  const shared = [...sharedPatients(onDisk).entries()].map(([patient, splits]) => ({
    patient,
    splits,
  }));

  const nNormal = checks.filter((c) => c.label === "NORMAL").length;
  return {
    root: found.root,
    layout: found.layout,
    labels: found.labels,
    format: found.format,
    skipped: found.skipped,
    skippedCounts: skippedCounts(found.skipped),
    outOfScope: outOfScope(found.records, skippedCounts(found.skipped).lateral),
    created: new Date().toISOString(),
    seconds: Math.round((performance.now() - t0) / 10) / 100,
    concurrency,
    probeCache: cache.path === null
      ? null
      : { path: cache.path, hits: cache.hits, misses: cache.misses },
    total: checks.length,
    readable: nGood,
    counts,
    splits: splitTable(files, "split", checks.length),
    planned: splitTable(files, "plannedSplit", checks.length),
    plannedStrategy: plan.strategy,
    plannedSeed: seed,
    plannedFractions: fractions,
    classRatio: nNormal
      ? Math.round(1000 * (checks.length - nNormal) / nNormal) / 1000
      : Number.NaN,
    sizes,
    fileBytes,
    unreadable: checks.filter((c) => !c.ok).map((c) => ({ relPath: c.relPath, reason: c.reason! })),
    duplicates,
    sharedPatients: shared,
    plannedSharedPatients: sharedPatients(plan.records).size,
    warnings: [...found.warnings, ...plan.warnings],
    files,
  };
}
