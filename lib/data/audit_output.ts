/**
 * Output of a dataset audit: terminal tables, one JSON object, and files (audit.json + CSVs).
 *
 * @example
 * ```ts
 * import { auditDataset } from "./audit.ts";
 * import { auditToJson, formatAudit, writeAudit } from "./audit_output.ts";
 * const report = await auditDataset("data/chest_xray");
 * console.log(formatAudit(report));
 * const written = await writeAudit(report, "outputs/audit"); // paths of the files written
 * const obj = auditToJson(report); // what --json prints
 * ```
 * @module
 */
import { join } from "node:path";
import pl from "nodejs-polars";
import { writeFileAtomic, writeJsonAtomic } from "../util/atomic.ts";
import type { AuditReport } from "./audit.ts";
import { projectPath, shortPath } from "../util/project.ts";

/** Default output folder of the audit: `outputs/audit` in the project root. */
export const DEFAULT_AUDIT_DIR = projectPath("outputs/audit");

/** A DataFrame of string columns from rows, with the given columns even when there is no row. */
function listFrame(columns: string[], rows: string[][]): pl.DataFrame {
  return pl.DataFrame(columns.map((c, i) => pl.Series(c, rows.map((r) => r[i]), pl.Utf8)));
}

/** Unreadable files as a table (`relPath,reason`). */
export function unreadableFrame(report: AuditReport): pl.DataFrame {
  return listFrame(["relPath", "reason"], report.unreadable.map((u) => [u.relPath, u.reason]));
}

/**
 * Duplicate groups as a table (`sha256,copies,labels,splits,patients,plannedSplits,files`; lists
 * joined by `|`).
 */
export function duplicatesFrame(report: AuditReport): pl.DataFrame {
  const rows = report.duplicates.map((d) => [
    d.sha256,
    String(d.files.length),
    d.labels.join("|"),
    d.splits.join("|"),
    d.patients.join("|"),
    d.plannedSplits.join("|"),
    d.files.join("|"),
  ]);
  const cols = ["sha256", "copies", "labels", "splits", "patients", "plannedSplits", "files"];
  return listFrame(cols, rows).withColumns(pl.col("copies").cast(pl.Int64));
}

/** Items left out of the dataset as a table (`kind,item,detail`). */
export function skippedFrame(report: AuditReport): pl.DataFrame {
  return listFrame(
    ["kind", "item", "detail"],
    report.skipped.map((s) => [s.kind, s.item, s.detail]),
  );
}

/** Patients in more than one split folder as a table (`patient,splits`). */
export function sharedPatientsFrame(report: AuditReport): pl.DataFrame {
  return listFrame(
    ["patient", "splits"],
    report.sharedPatients.map((s) => [s.patient, s.splits.join("|")]),
  );
}

/** The report as one plain JSON-ready object (tables as arrays of rows; per-file rows left out). */
export function auditToJson(report: AuditReport): Record<string, unknown> {
  const { counts, splits, planned, sizes, files: _files, ...rest } = report;
  return {
    ...rest,
    counts: counts.toRecords(),
    splits: splits.toRecords(),
    planned: planned.toRecords(),
    sizes: sizes.toRecords(),
  };
}

/** Words for the out-of-scope codes (lib/images/scope.ts). */
const SCOPE_NAMES: Record<string, string> = {
  dicom_age: "age outside 1-5 years",
  dicom_modality: "not a radiograph",
  dicom_body_part: "not the chest",
};

/** Unreadable files, duplicate groups and shared patients listed on the terminal (all in CSVs). */
const LIST_SHOWN = 30;

const fmtInt = (n: number) => n.toLocaleString("en-US");

/** A heading line with an underline. */
function heading(text: string): string {
  return `\n${text}\n${"-".repeat(text.length)}`;
}

/** Human-readable audit: headings and polars tables. */
export function formatAudit(report: AuditReport): string {
  const out: string[] = [];
  const source = report.labels
    ? `${report.root} with the ${report.format} label table ${report.labels}`
    : `${report.root} (${report.layout} layout)`;
  out.push(
    `Dataset audit of ${source}: ${fmtInt(report.total)} images, ` +
      `${fmtInt(report.readable)} readable, ${report.seconds.toFixed(2)} s ` +
      `(${report.concurrency} files at a time)`,
  );
  if (report.probeCache) {
    const c = report.probeCache;
    out.push(
      `Probe cache ${shortPath(c.path)}: ${fmtInt(c.hits)} files known, ${fmtInt(c.misses)} probed`,
    );
  }
  out.push(heading(`Left out of the dataset: ${fmtInt(report.skipped.length)} item(s)`));
  const kinds = Object.entries(report.skippedCounts).filter(([, n]) => n > 0);
  if (kinds.length) out.push(kinds.map(([k, n]) => `${k} ${fmtInt(n)}`).join(", "));
  // Lines, not a polars table: items and reasons must be whole.
  for (const s of report.skipped.slice(0, LIST_SHOWN)) {
    out.push(`- ${s.kind}: ${s.item}: ${s.detail}`);
  }
  if (report.skipped.length > LIST_SHOWN) {
    out.push(`  ... ${report.skipped.length - LIST_SHOWN} more in skipped.csv`);
  }
  const o = report.outOfScope;
  out.push(
    heading(
      `Out of scope for the pediatric model: ${fmtInt(o.images)} of ${fmtInt(report.total)} ` +
        `images (${(100 * o.share).toFixed(1)}%)`,
    ),
  );
  const codes = Object.entries(o.byCode).map(([c, n]) => `${SCOPE_NAMES[c] ?? c} ${fmtInt(n)}`);
  out.push(
    (codes.length ? codes.join(", ") + "; " : "") +
      `age known for ${fmtInt(o.ageKnown)} images; lateral views left out: ` +
      `${fmtInt(o.lateralLeftOut)}`,
  );
  for (const e of o.examples) out.push(`- ${e.relPath}: ${e.codes.join(", ")}`);
  out.push(heading("Images per split folder, class and subtype"), report.counts.toString());
  out.push(
    heading(`Split folders (PNEUMONIA:NORMAL = ${report.classRatio.toFixed(3)} overall)`),
    report.splits.toString(),
  );
  const f = report.plannedFractions.map((x) => Math.round(100 * x)).join("/");
  out.push(
    heading(
      `Split used for training (${report.plannedStrategy}, seed ${report.plannedSeed}, ${f}; ` +
        `patients in two splits: ${report.plannedSharedPatients})`,
    ),
    report.planned.toString(),
  );
  out.push(heading("Image sizes (readable images)"), report.sizes.toString());
  if (report.fileBytes) {
    const b = report.fileBytes;
    out.push(
      `File size in bytes: min ${fmtInt(b.min)}, median ${fmtInt(b.median)}, mean ` +
        `${fmtInt(b.mean)}, max ${fmtInt(b.max)}`,
    );
  }
  out.push(heading(`Unreadable files: ${report.unreadable.length} (skipped)`));
  // Lines, not a polars table: polars cuts long strings, and paths and reasons must be whole.
  for (const u of report.unreadable.slice(0, LIST_SHOWN)) out.push(`- ${u.relPath}: ${u.reason}`);
  if (report.unreadable.length > LIST_SHOWN) {
    out.push(`  ... ${report.unreadable.length - LIST_SHOWN} more in unreadable.csv`);
  }
  const copies = report.duplicates.reduce((s, d) => s + d.files.length, 0);
  const conflicts = report.duplicates.filter((d) => d.labels.length > 1).length;
  const crossSplit = report.duplicates.filter((d) => d.splits.length > 1).length;
  const crossPatient = report.duplicates.filter((d) => d.patients.length > 1).length;
  const crossPlanned = report.duplicates.filter((d) => d.plannedSplits.length > 1).length;
  out.push(
    heading(
      `Exact duplicates (same SHA-256): ${report.duplicates.length} group(s), ${copies} files; ` +
        `${conflicts} with both labels, ${crossPatient} across patients, ${crossSplit} across ` +
        `split folders, ${crossPlanned} across the training split`,
    ),
  );
  for (const d of report.duplicates.slice(0, LIST_SHOWN)) {
    out.push(`- ${d.files.join(" = ")} (${d.patients.join(", ")}; ${d.plannedSplits.join("+")})`);
  }
  if (report.duplicates.length > LIST_SHOWN) {
    out.push(`  ... ${report.duplicates.length - LIST_SHOWN} more in duplicates.csv`);
  }
  out.push(heading(`Patients in more than one split folder: ${report.sharedPatients.length}`));
  for (const p of report.sharedPatients.slice(0, LIST_SHOWN)) {
    out.push(`- ${p.patient}: ${p.splits.join(", ")}`);
  }
  if (report.sharedPatients.length > LIST_SHOWN) {
    out.push(`  ... ${report.sharedPatients.length - LIST_SHOWN} more in shared_patients.csv`);
  }
  if (report.warnings.length) {
    out.push(
      heading(`Warnings: ${report.warnings.length}`),
      ...report.warnings.map((w) => `- ${w}`),
    );
  }
  return out.join("\n");
}

/** CSV text of a DataFrame. */
function csv(df: pl.DataFrame): string {
  return df.writeCSV().toString();
}

/**
 * Writes audit.json and the CSVs (counts, splits, planned_splits, sizes, unreadable, duplicates,
 * skipped, shared_patients, files) into `outDir`, each atomically. Returns the paths written.
 */
export async function writeAudit(
  report: AuditReport,
  outDir = DEFAULT_AUDIT_DIR,
): Promise<string[]> {
  const items: [string, string | Record<string, unknown>][] = [
    ["audit.json", auditToJson(report)],
    ["counts.csv", csv(report.counts)],
    ["splits.csv", csv(report.splits)],
    ["planned_splits.csv", csv(report.planned)],
    ["sizes.csv", csv(report.sizes)],
    ["unreadable.csv", csv(unreadableFrame(report))],
    ["skipped.csv", csv(skippedFrame(report))],
    ["duplicates.csv", csv(duplicatesFrame(report))],
    ["shared_patients.csv", csv(sharedPatientsFrame(report))],
    ["files.csv", csv(report.files)],
  ];
  const paths: string[] = [];
  for (const [name, data] of items) {
    const path = join(outDir, name);
    if (typeof data === "string") await writeFileAtomic(path, data);
    else await writeJsonAtomic(path, data);
    paths.push(path);
  }
  return paths;
}
