/**
 * Which images `evaluate` scores: the split folder in the Kaggle layout (DIR/test/NORMAL ...),
 * or, when the dataset has no such folder, the manifest's patient-level split of that name.
 * @module
 */
import { discoverDataset } from "../data/discover.ts";
import { loadOrCreateManifest } from "../data/split.ts";
import type { ImageRecord, SplitName } from "../data/types.ts";

/** Records of `split` under `data`, and where they came from (one line for stderr). */
export async function splitRecords(
  data: string,
  split: SplitName,
): Promise<{ records: ImageRecord[]; source: string; fromManifest: boolean }> {
  const found = await discoverDataset(data);
  const official = found.records.filter((r) => r.officialSplit === split);
  if (official.length > 0) {
    return { records: official, source: `${data}/${split} (Kaggle layout)`, fromManifest: false };
  }
  const { manifestPath, records } = await loadOrCreateManifest(data);
  const inSplit = records.filter((r) => r.split === split);
  if (inSplit.length === 0) {
    throw new Error(
      `No "${split}" images under ${data}: no ${split}/ folder, and the manifest ` +
        `${manifestPath} has no ${split} split`,
    );
  }
  return {
    records: inSplit,
    source: `the manifest's patient-level "${split}" split (${manifestPath})`,
    fromManifest: true,
  };
}
