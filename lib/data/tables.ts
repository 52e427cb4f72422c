/**
 * Label tables: the CSV files that describe a chest X-ray archive (one row per image or per box),
 * read into one list of rows, each with its image key, its NORMAL / PNEUMONIA label (or why it
 * has none), its patient and its view.
 *
 * Formats, detected from the header when not given (`detectFormat`):
 *
 * | format     | file (public set)                  | key column     | label                         | patient        | view                      |
 * | ---------- | ---------------------------------- | -------------- | ----------------------------- | -------------- | ------------------------- |
 * | `rsna`     | `stage_2_train_labels.csv`          | `patientId`    | `Target` 1 PNEUMONIA, 0 NORMAL | `patientId`    | the DICOM's View Position |
 * | `nih`      | `Data_Entry_2017.csv`               | `Image Index`  | `Finding Labels` (below)       | `Patient ID`   | `View Position`           |
 * | `chexpert` | `train.csv`, `valid.csv`            | `Path`         | `Pneumonia` (below)            | `patientNNNNN` in the path | `Frontal/Lateral` |
 * | `csv`      | any                                | `path`         | `label` (below)                | `patient`      | `view` (optional)         |
 *
 * Label mapping ({@link LabelPolicy}, stated here and configurable):
 * - RSNA: one row per box, several rows per `patientId` collapse to one image; `Target` 1 is
 *   PNEUMONIA, 0 NORMAL; rows of one image that disagree make a conflict (the image is left out).
 * - NIH: `Pneumonia` among the `|`-joined findings is PNEUMONIA, `No Finding` is NORMAL; any
 *   other finding list is left out and counted (`otherFindings: "exclude"`, the default), or
 *   counted as NORMAL (`"normal"`: "no pneumonia").
 * - CheXpert: `Pneumonia` 1 is PNEUMONIA, 0 NORMAL; -1 (uncertain) by `uncertain`: `exclude`
 *   (default), `positive` or `negative`; blank (not mentioned) by `blank`: `exclude` (default)
 *   or `negative`.
 * - csv: `label` NORMAL / PNEUMONIA, 0 / 1, negative / positive, normal / pneumonia (any case).
 *
 * Views: PA and AP are frontal; LL, RL, LATERAL, `Lateral` are lateral (left out, counted).
 * An empty view is unknown (kept; a DICOM's View Position tag decides later).
 *
 * CSV is read with polars (lib/util/csv.ts); the mapping is ours.
 * @module
 */
import { basename } from "node:path";
import { readCsv } from "../util/csv.ts";
import type { ClassName } from "./types.ts";

/** The label-table formats. */
export type TableFormat = "rsna" | "nih" | "chexpert" | "csv";
/** Every table format, in the order `detectFormat` tries them. */
export const TABLE_FORMATS: readonly TableFormat[] = ["rsna", "nih", "chexpert", "csv"] as const;

/** How labels outside NORMAL / PNEUMONIA are treated (see the module doc). */
export interface LabelPolicy {
  /** CheXpert -1: left out (default), PNEUMONIA or NORMAL. */
  uncertain: "exclude" | "positive" | "negative";
  /** CheXpert blank: left out (default) or NORMAL. */
  blank: "exclude" | "negative";
  /** NIH findings other than Pneumonia / No Finding: left out (default) or NORMAL. */
  otherFindings: "exclude" | "normal";
}

/** The default label policy. */
export const DEFAULT_POLICY: LabelPolicy = {
  uncertain: "exclude",
  blank: "exclude",
  otherFindings: "exclude",
};

/** Whether a row is a frontal view, a lateral one, or does not say. */
export type View = "frontal" | "lateral" | "unknown";

/** One image as a label table describes it. */
export interface TableRow {
  /** The image key: a path relative to the data folder, or (RSNA) a patientId / file stem. */
  key: string;
  /** True when `key` is a path; false when it is a file's stem (RSNA). */
  keyIsPath: boolean;
  /** The label, or null with `excluded` saying why. */
  label: ClassName | null;
  /** Why the row has no label: `unknown-label`, `excluded-label` or `conflicting-labels`. */
  excluded:
    | { kind: "unknown-label" | "excluded-label" | "conflicting-labels"; detail: string }
    | null;
  patient: string;
  /** Finer label when the table gives one (the csv format's `subtype` column). */
  subtype: string | null;
  view: View;
  /** The view as written (PA, AP, LL, Frontal...). */
  viewText: string | null;
  /** 1-based line numbers in the file (header is line 1); several for RSNA boxes. */
  lines: number[];
  /** The patient's age as written (NIH `Patient Age`, CheXpert `Age`, csv `age`), or null. */
  age: string | null;
}

/** What {@link readLabelTable} gives. */
export interface LabelTable {
  path: string;
  format: TableFormat;
  /** True when the format was detected from the header. */
  detected: boolean;
  /** One row per distinct key, in file order. */
  rows: TableRow[];
  /** Rows that repeat a key (same label: kept once), named by key and line. */
  duplicates: { key: string; line: number; detail: string }[];
  /** How many lines the table has (without the header). */
  lines: number;
}

/** Header columns that identify each format (all must be present). */
const SIGNATURES: Record<TableFormat, string[]> = {
  rsna: ["patientId", "Target"],
  nih: ["Image Index", "Finding Labels"],
  chexpert: ["Path", "Frontal/Lateral"],
  csv: ["path", "label"],
};

/** The format whose signature columns the header holds, or null. */
export function detectFormat(columns: readonly string[]): TableFormat | null {
  const have = new Set(columns.map((c) => c.trim()));
  const lower = new Set(columns.map((c) => c.trim().toLowerCase()));
  for (const f of TABLE_FORMATS) {
    const sig = SIGNATURES[f];
    if (f === "csv" ? sig.every((c) => lower.has(c)) : sig.every((c) => have.has(c))) return f;
  }
  return null;
}

/** PA / AP frontal, LL / RL / LATERAL lateral (table text or DICOM View Position). */
export function viewOf(text: string | null | undefined): View {
  const t = (text ?? "").trim().toUpperCase();
  if (t === "") return "unknown";
  if (["PA", "AP", "FRONTAL", "AP AXIAL", "PA AXIAL"].includes(t)) return "frontal";
  if (["LL", "RL", "LAT", "LATERAL", "LLD", "RLD", "LATERAL DECUBITUS"].includes(t)) {
    return "lateral";
  }
  return "unknown";
}

/** Plain-csv label words. */
const CSV_LABELS: Record<string, ClassName> = {
  normal: "NORMAL",
  "0": "NORMAL",
  negative: "NORMAL",
  pneumonia: "PNEUMONIA",
  "1": "PNEUMONIA",
  positive: "PNEUMONIA",
};

type Mapped = Pick<TableRow, "label" | "excluded">;
const ok = (label: ClassName): Mapped => ({ label, excluded: null });
const unknown = (detail: string): Mapped => ({
  label: null,
  excluded: { kind: "unknown-label", detail },
});
const excluded = (detail: string): Mapped => ({
  label: null,
  excluded: { kind: "excluded-label", detail },
});

/** NIH findings -> label. */
export function nihLabel(findings: string, policy: LabelPolicy): Mapped {
  const list = findings.split("|").map((f) => f.trim()).filter(Boolean);
  if (list.length === 0) return unknown(`Finding Labels is empty`);
  if (list.includes("Pneumonia")) return ok("PNEUMONIA");
  if (list.length === 1 && list[0] === "No Finding") return ok("NORMAL");
  if (list.includes("No Finding")) return unknown(`"${findings}" has No Finding with findings`);
  if (policy.otherFindings === "normal") return ok("NORMAL");
  return excluded(`findings "${findings}" are neither Pneumonia nor No Finding`);
}

/** CheXpert Pneumonia value -> label. */
export function chexpertLabel(value: string, policy: LabelPolicy): Mapped {
  const v = value.trim();
  const n = v === "" ? null : Number(v);
  if (n === 1) return ok("PNEUMONIA");
  if (n === 0) return ok("NORMAL");
  if (n === -1) {
    if (policy.uncertain === "positive") return ok("PNEUMONIA");
    if (policy.uncertain === "negative") return ok("NORMAL");
    return excluded("Pneumonia is -1 (uncertain; --uncertain exclude)");
  }
  if (n === null) {
    return policy.blank === "negative" ? ok("NORMAL") : excluded("Pneumonia is blank");
  }
  return unknown(`Pneumonia is "${v}" (expected 1, 0, -1 or blank)`);
}

/** The CheXpert patient in a path (`.../patient00001/study1/...`), else the study folder. */
function chexpertPatient(path: string): string {
  const m = /(?:^|\/)(patient\d+)\//.exec(path);
  return m ? m[1] : path.split("/").slice(0, -1).join("/") || path;
}

/** A column's value, by name, any case for the plain csv. */
function column(row: Record<string, string>, name: string, anyCase: boolean): string | undefined {
  if (!anyCase) return row[name];
  const k = Object.keys(row).find((c) => c.trim().toLowerCase() === name);
  return k === undefined ? undefined : row[k];
}

/**
 * Reads a label table (see the module doc). Throws, naming the file, when it cannot be read,
 * when `format` is not given and the header fits no format, or when a given format's columns
 * are missing. Bad rows never throw: they come back labelled null with the reason.
 */
export async function readLabelTable(
  path: string,
  opts: { format?: TableFormat; policy?: Partial<LabelPolicy> } = {},
): Promise<LabelTable> {
  const policy = { ...DEFAULT_POLICY, ...opts.policy };
  const records = await readCsv(path);
  const columns = records.length ? Object.keys(records[0]) : await headerOf(path);
  const found = detectFormat(columns);
  const format = opts.format ?? found;
  if (format === null) {
    throw new Error(
      `${path}: cannot tell the label table's format from its header (${columns.join(", ")}); ` +
        `expected the columns of one of: ${
          TABLE_FORMATS.map((f) => `${f} (${SIGNATURES[f].join(", ")})`).join("; ")
        }, or pass --format`,
    );
  }
  const lower = new Set(columns.map((c) => c.trim().toLowerCase()));
  const missing = SIGNATURES[format].filter((c) =>
    format === "csv" ? !lower.has(c) : !columns.includes(c)
  );
  if (missing.length) {
    throw new Error(
      `${path}: a ${format} label table needs the column(s) ${missing.join(", ")}; the header ` +
        `has ${columns.join(", ")}`,
    );
  }
  const byKey = new Map<string, TableRow>();
  const duplicates: LabelTable["duplicates"] = [];
  records.forEach((rec, i) => {
    const line = i + 2;
    const row = parseRow(format, rec, line, policy);
    if (row === null) return;
    const prev = byKey.get(row.key);
    if (!prev) {
      byKey.set(row.key, row);
      return;
    }
    prev.lines.push(line);
    // RSNA: several box rows of one positive image are expected; anything else repeats the key.
    const boxRow = format === "rsna" && prev.label === "PNEUMONIA" && row.label === "PNEUMONIA";
    if (prev.label !== row.label && prev.excluded?.kind !== "unknown-label") {
      const a = prev.label ?? prev.excluded?.kind, b = row.label ?? row.excluded?.kind;
      prev.label = null;
      prev.excluded = {
        kind: "conflicting-labels",
        detail: `lines ${prev.lines.join(", ")} disagree (${a} vs ${b})`,
      };
    } else if (!boxRow) {
      duplicates.push({
        key: row.key,
        line,
        detail: `repeats line ${prev.lines[0]}`,
      });
    }
  });
  return {
    path,
    format,
    detected: opts.format === undefined,
    rows: [...byKey.values()],
    duplicates,
    lines: records.length,
  };
}

/** The header of a table without rows. */
async function headerOf(path: string): Promise<string[]> {
  const text = await Deno.readTextFile(path);
  return (text.split(/\r?\n/)[0] ?? "").split(",").map((c) => c.replace(/^"|"$/g, ""));
}

/** One CSV record -> a row (null for a record without a key: counted by the caller as unknown). */
function parseRow(
  format: TableFormat,
  rec: Record<string, string>,
  line: number,
  policy: LabelPolicy,
): TableRow {
  const base = { lines: [line], subtype: null as string | null, age: null as string | null };
  switch (format) {
    case "rsna": {
      const key = rec.patientId.trim();
      const t = rec.Target.trim();
      const m = t === "1" ? ok("PNEUMONIA") : t === "0" ? ok("NORMAL") : unknown(
        `Target is "${t}" (expected 1 or 0)`,
      );
      return {
        ...base,
        key,
        keyIsPath: false,
        ...m,
        patient: key,
        view: "unknown",
        viewText: null,
      };
    }
    case "nih": {
      const key = rec["Image Index"].trim();
      const viewText = rec["View Position"]?.trim() || null;
      return {
        ...base,
        key,
        keyIsPath: false,
        ...nihLabel(rec["Finding Labels"], policy),
        patient: (rec["Patient ID"] ?? "").trim() || `file:${key}`,
        age: rec["Patient Age"]?.trim() || null,
        view: viewOf(viewText),
        viewText,
      };
    }
    case "chexpert": {
      const key = rec.Path.trim();
      const viewText = rec["Frontal/Lateral"]?.trim() || null;
      const m = rec.Pneumonia === undefined
        ? unknown("no Pneumonia column")
        : chexpertLabel(rec.Pneumonia, policy);
      return {
        ...base,
        key,
        keyIsPath: true,
        ...m,
        patient: chexpertPatient(key),
        age: rec.Age?.trim() || null,
        view: viewOf(viewText),
        viewText,
      };
    }
    case "csv": {
      const key = (column(rec, "path", true) ?? "").trim();
      const raw = (column(rec, "label", true) ?? "").trim();
      const label = CSV_LABELS[raw.toLowerCase()];
      const viewText = column(rec, "view", true)?.trim() || null;
      return {
        ...base,
        key,
        keyIsPath: true,
        ...(label ? ok(label) : unknown(
          `label is "${raw}" (expected NORMAL or PNEUMONIA, 0 or 1, negative or positive)`,
        )),
        patient: (column(rec, "patient", true) ?? "").trim() || `file:${key}`,
        subtype: column(rec, "subtype", true)?.trim() || null,
        age: column(rec, "age", true)?.trim() || null,
        view: viewOf(viewText),
        viewText,
      };
    }
  }
}

/** The file stem used as an RSNA / NIH key: the name without a `.dcm` (or image) extension. */
export function fileStem(path: string): string {
  return basename(path).replace(/\.(dcm|dicom|png|jpe?g)$/i, "");
}
