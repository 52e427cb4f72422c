/**
 * Which images `evaluate` scores: `all` (every labelled frontal image of the dataset), the split
 * folder in the Kaggle layout (DIR/test/NORMAL ...), or, when the dataset has no such folder (a
 * flat folder, a label table), the manifest's patient-level split of that name.
 * @module
 */
import { type DataSource, describeSource, loadDataset, toSource } from "../data/dataset.ts";
import { loadOrCreateManifest } from "../data/split.ts";
import type { ImageRecord, SplitName } from "../data/types.ts";

/** A split name, or every image. */
export type EvalSplit = SplitName | "all";

/** Records of `split` under `data`, and where they came from (one line for stderr). */
export async function splitRecords(
  data: DataSource | string,
  split: EvalSplit,
): Promise<{ records: ImageRecord[]; source: string; fromManifest: boolean }> {
  const src = toSource(data);
  const name = describeSource(src);
  const found = await loadDataset(src);
  if (split === "all") {
    return { records: found.records, source: `every image of ${name}`, fromManifest: false };
  }
  const official = found.records.filter((r) => r.officialSplit === split);
  if (official.length > 0) {
    return {
      records: official,
      source: `${src.data}/${split} (Kaggle layout)`,
      fromManifest: false,
    };
  }
  const { manifestPath, records } = await loadOrCreateManifest(src);
  const inSplit = records.filter((r) => r.split === split);
  if (inSplit.length === 0) {
    throw new Error(
      `No "${split}" images in ${name}: no ${split}/ folder, and the manifest ` +
        `${manifestPath} has no ${split} split`,
    );
  }
  return {
    records: inSplit,
    source: `the manifest's patient-level "${split}" split (${manifestPath})`,
    fromManifest: true,
  };
}
