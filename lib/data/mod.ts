/**
 * The data layer: find the chest X-ray images, read class, subtype and patient from their paths,
 * split them by patient into train / val / test (a manifest, never moving files), balance the
 * classes, audit the dataset, and write a seeded synthetic one for tests and demos.
 *
 * @example Splits for training
 * ```ts
 * import { balance, loadOrCreateManifest } from "./mod.ts";
 *
 * const { manifestPath, records, warnings } = await loadOrCreateManifest("data/chest_xray", {
 *   seed: 42,
 * });
 * const train = records.filter((r) => r.split === "train");
 * const { records: balanced, classWeights } = balance(train, "weights", 42);
 * console.log(manifestPath, balanced.length, classWeights, warnings);
 * ```
 *
 * @example Audit
 * ```ts
 * import { auditDataset, formatAudit, writeAudit } from "./mod.ts";
 *
 * const report = await auditDataset("data/chest_xray", { concurrency: 8 });
 * console.log(formatAudit(report));
 * await writeAudit(report, "outputs/audit");
 * ```
 * @module
 */
export type { ClassName, ImageRecord, SplitName, SplitRecord, Subtype } from "./types.ts";
export { CLASS_NAMES } from "./types.ts";
export {
  classSubtype,
  IMAGE_EXTENSIONS,
  isImageName,
  knownSubtype,
  type ParsedName,
  parseFileName,
} from "./names.ts";
export { discoverDataset, type Discovery } from "./discover.ts";
export {
  checkFractions,
  DEFAULT_FRACTIONS,
  DEFAULT_MANIFEST_DIR,
  DEFAULT_SEED,
  type Fractions,
  type LoadedManifest,
  loadOrCreateManifest,
  makeSplits,
  type Manifest,
  type ManifestEntry,
  manifestKey,
  type ManifestMeta,
  type ManifestOptions,
  MIN_VAL_SHARE,
  planSplits,
  readManifest,
  sharedPatients,
  type SplitOptions,
  type SplitPlan,
  type SplitStrategy,
  stratifiedPatientSplit,
  writeManifest,
} from "./split.ts";
export {
  balance,
  BALANCE_MODES,
  type Balanced,
  type BalanceMode,
  classCounts,
  type ClassWeights,
  classWeights,
} from "./balance.ts";
export {
  auditDataset,
  type AuditOptions,
  type AuditReport,
  DEFAULT_CONCURRENCY,
  DEFAULT_PROBE_CACHE,
  type DuplicateGroup,
  type FileCheck,
} from "./audit.ts";
export { auditToJson, DEFAULT_AUDIT_DIR, formatAudit, writeAudit } from "./audit_output.ts";
export {
  renderChest,
  shiftImage,
  type SyntheticOptions,
  writeSyntheticDataset,
} from "./synthetic.ts";
