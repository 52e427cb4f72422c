/**
 * The one way every task gets its images: a dataset is a list of {@link ImageRecord}s (path,
 * label, patient...) plus the items left out, each named with its kind. Two sources make one:
 * - the folder layout (lib/data/discover.ts: `DIR/{train,val,test}/{NORMAL,PNEUMONIA}` or
 *   `DIR/{NORMAL,PNEUMONIA}`), labels from the folders;
 * - a label table (`--labels FILE`, lib/data/tables.ts: rsna, nih, chexpert or a plain csv) over
 *   the image files under `DIR` at any depth: JPEG, PNG and DICOM, with or without `.dcm`
 *   (files without an image extension are sniffed for the `DICM` preamble); `DICOMDIR` and
 *   dotfiles are ignored. Rows name their file by path (csv, CheXpert), or by file name or
 *   stem (RSNA patientId, NIH Image Index); a row whose name no file has is matched to a DICOM
 *   file by its Patient ID or SOP Instance UID tag (a PACS export names files `IM00001`).
 *
 * Left out and counted ({@link SkipKind}), each item named: label rows whose file is missing
 * (`missing-file`), image files no row names (`no-row`), a row or file repeating an id
 * (`duplicate-id`; the first is kept), labels that are not understood (`unknown-label`), labels
 * outside NORMAL / PNEUMONIA by the policy (`excluded-label`: NIH's other findings, CheXpert's
 * uncertain), rows of one image that disagree (`conflicting-labels`), lateral views (from the
 * table, or a DICOM's View Position), DICOMs without pixel data (`no-pixel-data`), multi-frame
 * DICOMs (`multi-frame`) and DICOMs whose header cannot be read (`unreadable-dicom`). An image
 * is counted once, under the first of these reasons. DICOM headers are read for every DICOM
 * record, whatever the source (the folder layout's `.dcm` files too).
 *
 * @example
 * ```ts
 * import { loadDataset } from "./dataset.ts";
 * const ds = await loadDataset({ data: "archive", labels: "archive/stage_2_train_labels.csv" });
 * console.log(ds.records.length, ds.skipped.length, ds.format); // ..., ..., "rsna"
 * ```
 * @module
 */
import { basename, join, resolve } from "node:path";
import { DicomError, isDicom, readDicomHeader } from "../images/dicom.ts";
import { dicomAgeYears } from "../images/scope.ts";
import { sha256Hex } from "../util/hash.ts";
import { mapLimit } from "./_pool.ts";
import { cmp, discoverDataset } from "./discover.ts";
import { classSubtype, isImageName } from "./names.ts";
import {
  fileStem,
  type LabelPolicy,
  readLabelTable,
  type TableFormat,
  type TableRow,
  viewOf,
} from "./tables.ts";
import type { ImageRecord, Subtype } from "./types.ts";

/** Where a dataset comes from: a folder, and optionally the label table that describes it. */
export interface DataSource {
  /** The data folder (the folder layout's root, or where the table's images are). */
  data: string;
  /** A label table; absent: the folder layout. */
  labels?: string | null;
  /** The table's format; absent: detected from its header. */
  format?: TableFormat | null;
  /** How labels outside NORMAL / PNEUMONIA are treated (lib/data/tables.ts). */
  policy?: Partial<LabelPolicy>;
}

/** Why an item was left out (see the module doc). */
export type SkipKind =
  | "missing-file"
  | "no-row"
  | "duplicate-id"
  | "unknown-label"
  | "excluded-label"
  | "conflicting-labels"
  | "lateral"
  | "no-pixel-data"
  | "multi-frame"
  | "unreadable-dicom";

/** Every skip kind, in the order the audit lists them. */
export const SKIP_KINDS: readonly SkipKind[] = [
  "missing-file",
  "no-row",
  "duplicate-id",
  "unknown-label",
  "excluded-label",
  "conflicting-labels",
  "lateral",
  "no-pixel-data",
  "multi-frame",
  "unreadable-dicom",
] as const;

/** One item left out: its kind, the file or row key, and why. */
export interface Skipped {
  kind: SkipKind;
  /** The file (relative to the data folder) or, for a row without a file, the row's key. */
  item: string;
  detail: string;
}

/** A dataset: the records every task uses, and what was left out. */
export interface Dataset {
  /** Absolute data folder. */
  root: string;
  layout: "kaggle" | "flat" | "table";
  /** The label table (absolute) and its format, for a table source. */
  labels: string | null;
  format: TableFormat | null;
  /** The images, sorted by relPath. */
  records: ImageRecord[];
  /** Items left out, by kind, in {@link SKIP_KINDS} order then by item. */
  skipped: Skipped[];
  warnings: string[];
  /** A short hash of the table's content ("" for the folder layout): part of the manifest key. */
  labelsHash: string;
}

/** How many skipped items of each kind (every kind present, 0 when none). */
export function skippedCounts(skipped: readonly Skipped[]): Record<SkipKind, number> {
  const out = Object.fromEntries(SKIP_KINDS.map((k) => [k, 0])) as Record<SkipKind, number>;
  for (const s of skipped) out[s.kind]++;
  return out;
}

/** Normalises a `DataSource | string` (a string is a folder-layout root). */
export function toSource(src: DataSource | string): DataSource {
  return typeof src === "string" ? { data: src } : src;
}

/** A human name of the source: the folder, plus the table and format. */
export function describeSource(src: DataSource | string): string {
  const s = toSource(src);
  return s.labels ? `${s.data} (labels ${s.labels}${s.format ? `, ${s.format}` : ""})` : s.data;
}

/** Reads the dataset (see the module doc). Errors name the folder or file and what was expected. */
export async function loadDataset(src: DataSource | string): Promise<Dataset> {
  const s = toSource(src);
  if (!s.labels) {
    const found = await discoverDataset(s.data);
    const skipped: Skipped[] = [];
    const records = await dicomChecks(found.records, skipped);
    return {
      root: found.root,
      layout: found.layout,
      labels: null,
      format: null,
      records,
      skipped: sortSkipped(skipped),
      warnings: found.warnings,
      labelsHash: "",
    };
  }
  return await tableDataset(s);
}

/** Skipped items in kind order, then by item. */
function sortSkipped(skipped: Skipped[]): Skipped[] {
  const rank = (k: SkipKind) => SKIP_KINDS.indexOf(k);
  return skipped.sort((a, b) => rank(a.kind) - rank(b.kind) || cmp(a.item, b.item));
}

/** What the walk found under the data folder. */
interface Walk {
  /** The folder walked (absolute). */
  root: string;
  /** relPath of every image or DICOM file, sorted. */
  images: string[];
  /** relPaths known to be DICOM (sniffed or named .dcm). */
  dicom: Set<string>;
  /** Other files (not images), counted. */
  others: number;
}

/** A file name with no extension, or a numeric one (DICOM UIDs as names): sniffed for DICM. */
function sniffable(name: string): boolean {
  const dot = name.lastIndexOf(".");
  return dot < 0 || /^\.\d+$/.test(name.slice(dot));
}

/** Reads the first `n` bytes of a file. */
async function readHead(path: string, n: number): Promise<Uint8Array> {
  const f = await Deno.open(path, { read: true });
  try {
    const buf = new Uint8Array(n);
    let got = 0;
    while (got < n) {
      const k = await f.read(buf.subarray(got));
      if (k === null) break;
      got += k;
    }
    return buf.subarray(0, got);
  } finally {
    f.close();
  }
}

/** Walks `root` at any depth for image files (see the module doc). */
async function walkImages(root: string, skipPaths: Set<string>): Promise<Walk> {
  const images: string[] = [], dicom = new Set<string>(), toSniff: string[] = [];
  let others = 0;
  const stack = [""];
  while (stack.length) {
    const rel = stack.pop()!;
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(join(root, rel)));
    } catch (err) {
      throw new Error(`Cannot list folder ${join(root, rel)}: ${(err as Error).message}`);
    }
    for (const e of entries) {
      if (e.name.startsWith(".")) continue;
      const r = rel ? `${rel}/${e.name}` : e.name;
      let isDir = e.isDirectory, isFile = e.isFile;
      if (e.isSymlink) {
        const st = await Deno.stat(join(root, r)).catch(() => null);
        isDir = st?.isDirectory ?? false;
        isFile = st?.isFile ?? false;
      }
      if (isDir) stack.push(r);
      else if (!isFile || e.name.toUpperCase() === "DICOMDIR" || skipPaths.has(join(root, r))) {
        continue;
      } else if (isImageName(e.name) || /\.dicom$/i.test(e.name)) {
        images.push(r);
        if (/\.dcm$|\.dicom$/i.test(e.name)) dicom.add(r);
      } else if (sniffable(e.name)) toSniff.push(r);
      else others++;
    }
  }
  await mapLimit(toSniff, 16, async (r) => {
    const head = await readHead(join(root, r), 132).catch(() => new Uint8Array());
    if (isDicom(head)) {
      images.push(r);
      dicom.add(r);
    } else others++;
  });
  images.sort(cmp);
  return { root, images, dicom, others };
}

/** The record of a table row matched to a file. */
function tableRecord(root: string, relPath: string, row: TableRow): ImageRecord {
  const label = row.label!;
  const given = row.subtype?.toLowerCase();
  const known = given === "normal" || given === "bacteria" || given === "virus";
  const implied = classSubtype(label);
  const subtype: Subtype = known && (given === "normal") === (label === "NORMAL")
    ? given as Subtype
    : implied ?? "bacteria";
  const rec: ImageRecord = {
    path: join(root, relPath),
    relPath,
    label,
    y: label === "NORMAL" ? 0 : 1,
    subtype,
    patientId: row.patient,
    parsed: true,
    officialSplit: null,
  };
  if (implied === null && !(known && given !== "normal")) rec.subtypeKnown = false;
  if (row.age !== null || row.viewText !== null) {
    rec.meta = { ageText: row.age, ageYears: ageYears(row.age), viewPosition: row.viewText };
  }
  return rec;
}

/** A row's key as a relative path (forward slashes, no leading `./`). */
function normPath(key: string): string {
  return key.replaceAll("\\", "/").replace(/^(\.\/)+/, "").replace(/^\/+/, "");
}

/** Reads a table source (see the module doc). */
async function tableDataset(s: DataSource): Promise<Dataset> {
  const root = resolve(s.data);
  const st = await Deno.stat(root).catch(() => null);
  if (!st?.isDirectory) {
    throw new Error(`Data folder not found or not a folder: ${root} (the images of ${s.labels})`);
  }
  const labelsPath = resolve(s.labels!);
  const table = await readLabelTable(labelsPath, {
    format: s.format ?? undefined,
    policy: s.policy,
  });
  const labelsHash = sha256Hex(await Deno.readFile(labelsPath)).slice(0, 16);
  const walk = await walkImages(root, new Set([labelsPath]));
  const skipped: Skipped[] = [];
  const warnings: string[] = [];
  if (table.detected) warnings.push(`${labelsPath}: ${table.format} format (from the header)`);
  for (const d of table.duplicates) {
    skipped.push({ kind: "duplicate-id", item: d.key, detail: `line ${d.line} ${d.detail}` });
  }
  // Files by path, and by name and stem for the tables that name files, not paths (RSNA, NIH).
  const byPath = new Set(walk.images);
  const byName = new Map<string, string[]>();
  const add = (k: string, r: string) => {
    const l = byName.get(k);
    if (l) l.push(r);
    else byName.set(k, [r]);
  };
  for (const r of walk.images) {
    add(basename(r), r);
    const stem = fileStem(r);
    if (stem !== basename(r)) add(stem, r);
  }
  await matchByTags(table.rows, walk, byName);
  const top = basename(root);
  const used = new Set<string>();
  const candidates: { rec: ImageRecord; row: TableRow }[] = [];
  for (const row of table.rows) {
    let rel: string | null = null;
    if (row.keyIsPath) {
      const p = normPath(row.key);
      if (byPath.has(p)) rel = p;
      // CheXpert paths start with the data folder's own name (CheXpert-v1.0-small/train/...).
      else if (p.startsWith(top + "/") && byPath.has(p.slice(top.length + 1))) {
        rel = p.slice(top.length + 1);
      }
    } else {
      const files = [...new Set(byName.get(row.key) ?? [])];
      if (files.length) {
        rel = files[0];
        for (const extra of files.slice(1)) {
          used.add(extra);
          skipped.push({
            kind: "duplicate-id",
            item: extra,
            detail: `a second file for id ${row.key} (kept ${files[0]})`,
          });
        }
      }
    }
    const lines = `line${row.lines.length > 1 ? "s" : ""} ${row.lines.join(", ")}`;
    if (rel === null) {
      skipped.push({
        kind: "missing-file",
        item: row.key,
        detail: `${lines}: no file ${
          row.keyIsPath ? "at this path" : "with this name"
        } under ${root}`,
      });
      continue;
    }
    if (used.has(rel)) {
      skipped.push({
        kind: "duplicate-id",
        item: rel,
        detail: `${lines} name a file already used`,
      });
      continue;
    }
    used.add(rel);
    if (row.excluded) {
      skipped.push({
        kind: row.excluded.kind,
        item: rel,
        detail: `${lines}: ${row.excluded.detail}`,
      });
      continue;
    }
    if (row.view === "lateral") {
      skipped.push({ kind: "lateral", item: rel, detail: `${lines}: view ${row.viewText}` });
      continue;
    }
    candidates.push({ rec: tableRecord(root, rel, row), row });
  }
  for (const r of walk.images) {
    if (!used.has(r)) {
      skipped.push({
        kind: "no-row",
        item: r,
        detail: `no row of ${basename(labelsPath)} names it`,
      });
    }
  }
  if (walk.others) {
    warnings.push(`${walk.others} other file(s) under ${root} are not images (ignored)`);
  }
  const records = await dicomChecks(
    candidates.map((c) => c.rec),
    skipped,
    (r) => walk.dicom.has(r.relPath),
  );
  records.sort((a, b) => cmp(a.relPath, b.relPath));
  return {
    root,
    layout: "table",
    labels: labelsPath,
    format: table.format,
    records,
    skipped: sortSkipped(skipped),
    warnings,
    labelsHash,
  };
}

/** Age in years from a DICOM Age String (`004Y`, `018M`) or a plain number of years; else null. */
export function ageYears(text: string | null | undefined): number | null {
  const t = (text ?? "").trim();
  if (t === "") return null;
  const d = dicomAgeYears(t);
  if (d !== null) return d;
  const n = Number(t);
  return Number.isFinite(n) && n >= 0 ? n : null;
}

/**
 * A PACS export names its files by UID or counter (`IM00001`), not by the table's id: when rows
 * that name a file (RSNA patientId, NIH Image Index) have no file of that name, the DICOM files
 * whose name no row uses are matched by their Patient ID (0010,0020) or SOP Instance UID
 * (0008,0018) tag, read from their headers. Adds the matches to `byName`.
 */
async function matchByTags(
  rows: readonly TableRow[],
  walk: Walk,
  byName: Map<string, string[]>,
): Promise<void> {
  const unmatched = new Set(
    rows.filter((r) => !r.keyIsPath && !byName.has(r.key)).map((r) => r.key),
  );
  if (unmatched.size === 0) return;
  const keys = new Set(rows.map((r) => r.key));
  const loose = [...walk.dicom].filter((r) => !keys.has(basename(r)) && !keys.has(fileStem(r)));
  const ids = await mapLimit(loose, 16, async (r) => {
    try {
      let head = await readHead(join(walk.root, r), HEAD_BYTES);
      let h = readDicomHeader(head, head.length < HEAD_BYTES);
      if (h === null) {
        head = await Deno.readFile(join(walk.root, r));
        h = readDicomHeader(head, true);
      }
      return [h?.patientId, h?.sopInstanceUid];
    } catch {
      return [];
    }
  });
  loose.forEach((r, i) => {
    for (const id of new Set(ids[i])) {
      if (!id || !unmatched.has(id)) continue;
      const list = byName.get(id);
      if (list) list.push(r);
      else byName.set(id, [r]);
    }
  });
}

/** Bytes read first for a DICOM header (more when the pixel data starts later). */
const HEAD_BYTES = 16 * 1024;

/**
 * Reads the header of every DICOM record; keeps the one-frame images with pixel data that are
 * not lateral views, adds the others to `skipped`. Other records pass unread.
 */
async function dicomChecks(
  records: ImageRecord[],
  skipped: Skipped[],
  isDicomRecord: (r: ImageRecord) => boolean = (r) => /\.dcm$|\.dicom$/i.test(r.relPath),
): Promise<ImageRecord[]> {
  const verdicts = await mapLimit(records, 16, async (r): Promise<Skipped | null> => {
    if (!isDicomRecord(r)) return null;
    try {
      let head = await readHead(r.path, HEAD_BYTES);
      let h = readDicomHeader(head, head.length < HEAD_BYTES);
      if (h === null) {
        head = await Deno.readFile(r.path);
        h = readDicomHeader(head, true)!;
      }
      if (!h.hasPixels) {
        return { kind: "no-pixel-data", item: r.relPath, detail: "no Pixel Data (7FE0,0010)" };
      }
      if (h.frames > 1) {
        return { kind: "multi-frame", item: r.relPath, detail: `${h.frames} frames` };
      }
      if (viewOf(h.viewPosition) === "lateral") {
        return { kind: "lateral", item: r.relPath, detail: `View Position ${h.viewPosition}` };
      }
      // The table's age wins over the header's (exports often blank the header's).
      const age = r.meta?.ageText ?? h.patientAge;
      r.meta = {
        ...r.meta,
        modality: h.modality,
        bodyPart: h.bodyPart,
        viewPosition: r.meta?.viewPosition ?? h.viewPosition,
        ageText: age,
        ageYears: ageYears(age),
      };
      return null;
    } catch (err) {
      const reason = err instanceof DicomError ? err.reason : (err as Error).message;
      return { kind: "unreadable-dicom", item: r.relPath, detail: reason };
    }
  });
  const kept: ImageRecord[] = [];
  records.forEach((r, i) => {
    const v = verdicts[i];
    if (v) skipped.push(v);
    else kept.push(r);
  });
  return kept;
}
