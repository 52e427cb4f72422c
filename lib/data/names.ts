/**
 * Subtype and patient id from the Kermany chest X-ray file names.
 *
 * The dataset encodes the patient and, for pneumonia, the cause in each file name:
 *
 * | name                              | subtype  | patient          |
 * | --------------------------------- | -------- | ---------------- |
 * | `person12_bacteria_45.jpeg`       | bacteria | `person12`       |
 * | `person3_virus_9.jpeg`            | virus    | `person3`        |
 * | `person1661_virus_2872_2.jpeg`    | virus    | `person1661`     |
 * | `IM-0115-0001.jpeg`               | normal   | `IM-0115`        |
 * | `IM-0115-0001-0002.jpeg`          | normal   | `IM-0115`        |
 * | `NORMAL2-IM-0115-0001.jpeg`       | normal   | `NORMAL2-IM-0115`|
 * | `NORMAL2-IM-0115-0001-0002.jpeg`  | normal   | `NORMAL2-IM-0115`|
 *
 * The `NORMAL2-` prefix marks a second numbering series, so `NORMAL2-IM-0115` and `IM-0115` are
 * different patients. Any other name gives `{ subtype: null, patientId: null }`; the caller makes
 * such a file its own patient (`file:<relPath>`) and counts it in a warning.
 *
 * @example
 * ```ts
 * import { parseFileName } from "./names.ts";
 * parseFileName("person12_bacteria_45.jpeg"); // { subtype: "bacteria", patientId: "person12" }
 * parseFileName("scan.png"); // { subtype: null, patientId: null }
 * ```
 * @module
 */
import { basename } from "node:path";
import type { ClassName, ImageRecord, Subtype } from "./types.ts";

/** What {@link parseFileName} reads from a file name. */
export interface ParsedName {
  /** Subtype the name encodes, or null when the name fits no known pattern. */
  subtype: Subtype | null;
  /** Patient id the name encodes, or null when the name fits no known pattern. */
  patientId: string | null;
}

/** Image file extensions the data layer accepts (lowercase, with the dot); .dcm is DICOM. */
export const IMAGE_EXTENSIONS: readonly string[] = [".jpeg", ".jpg", ".png", ".dcm"] as const;

const EXT = String.raw`\.(?:jpe?g|png|dcm)`;
/** `personN_bacteria_M[_K].ext` and `personN_virus_M[_K].ext`. */
const PERSON = new RegExp(String.raw`^(person\d+)_(bacteria|virus)_\d+(?:_\d+)?${EXT}$`, "i");
/** `[NORMALk-]IM-XXXX-YYYY[-ZZZZ].ext`. */
const IM = new RegExp(String.raw`^((?:NORMAL\d*-)?IM-\d+)-\d+(?:-\d+)?${EXT}$`, "i");

/**
 * Parses the subtype and patient id from a file name (a path is accepted; only its last part is
 * read). Matching ignores case; the patient id keeps the spelling of the file name, except that
 * the `person` and `IM`/`NORMAL` words are normalised (`Person12` -> `person12`).
 */
export function parseFileName(name: string): ParsedName {
  const base = basename(name);
  const person = PERSON.exec(base);
  if (person) {
    return {
      subtype: person[2].toLowerCase() as Subtype,
      patientId: person[1].toLowerCase(),
    };
  }
  const im = IM.exec(base);
  if (im) return { subtype: "normal", patientId: im[1].toUpperCase() };
  return { subtype: null, patientId: null };
}

/** True when the file name ends in one of {@link IMAGE_EXTENSIONS} (any case). */
export function isImageName(name: string): boolean {
  const lower = name.toLowerCase();
  return IMAGE_EXTENSIONS.some((ext) => lower.endsWith(ext));
}

/** The subtype a class implies when the name does not say (only NORMAL implies one). */
export function classSubtype(label: ClassName): Subtype | null {
  return label === "NORMAL" ? "normal" : null;
}

/**
 * The subtype of a record as far as it is known: `"unknown"` for a PNEUMONIA image whose file
 * name says neither bacteria nor virus (its `subtype` field then holds a placeholder, see
 * {@link ImageRecord.subtype}). Use this, not `record.subtype`, for per-subtype figures.
 */
export function knownSubtype(
  record: Pick<ImageRecord, "subtype" | "subtypeKnown">,
): Subtype | "unknown" {
  return record.subtypeKnown === false ? "unknown" : record.subtype;
}
