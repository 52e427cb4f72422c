/**
 * Shared types of the data layer: what one image of the dataset is, and how splits are named.
 *
 * Every other module (image loading, training, evaluation, reports) speaks in these types.
 * @module
 */

/** The two diagnostic classes, spelled as the Kaggle folder names. */
export type ClassName = "NORMAL" | "PNEUMONIA";

/** The class names in index order: `y = 0` is NORMAL, `y = 1` is PNEUMONIA. */
export const CLASS_NAMES: readonly ClassName[] = ["NORMAL", "PNEUMONIA"] as const;

/** Finer label parsed from the file name (pneumonia is bacterial or viral). */
export type Subtype = "normal" | "bacteria" | "virus";

/** Split names, as the Kaggle folders. */
export type SplitName = "train" | "val" | "test";

/** One image file of the dataset, with everything parsed from its path. */
export interface ImageRecord {
  /** Absolute path of the image file. */
  path: string;
  /** Path relative to the dataset root (stable across machines; used in manifests). */
  relPath: string;
  /** Class from the folder name. */
  label: ClassName;
  /** 0 = NORMAL, 1 = PNEUMONIA. */
  y: 0 | 1;
  /** Subtype from the file name (normal, bacteria or virus). */
  subtype: Subtype;
  /**
   * False when the subtype is not known: a PNEUMONIA file whose name says neither bacteria nor
   * virus (`subtype` then holds the placeholder "bacteria"). Absent or true: `subtype` is real.
   * `knownSubtype(record)` in lib/data/names.ts gives "unknown" for these.
   */
  subtypeKnown?: boolean;
  /**
   * Patient id parsed from the file name (`person12`, `IM-0115`, `NORMAL2-IM-0115`); a name that
   * fits no known pattern is its own patient: `file:<relPath>`.
   */
  patientId: string;
  /** True when the file name fitted a known pattern. */
  parsed: boolean;
  /** The official split folder the file sits in, or null for a single folder of classes. */
  officialSplit: SplitName | null;
  /**
   * What a label table or the DICOM header says of the image (age, modality, body part, view),
   * for the audit's out-of-scope summary (lib/images/scope.ts `metadataWarnings`); absent when
   * nothing is known.
   */
  meta?: RecordMetadata;
}

/** Metadata of an image from its label table or DICOM header (every field optional). */
export interface RecordMetadata {
  modality?: string | null;
  bodyPart?: string | null;
  viewPosition?: string | null;
  /** Patient age in years. */
  ageYears?: number | null;
  /** The age as written (`004Y`, `58`). */
  ageText?: string | null;
}

/** An image record assigned to a split. */
export interface SplitRecord extends ImageRecord {
  split: SplitName;
}
