/**
 * A finished run folder written by hand around a given model, for tests that score images with a
 * run: the model, 32x32 grayscale preprocessing, classes, a stored threshold, the config and, when
 * `data` and `valScore` are given, a val_predictions.csv over the data folder's val/ images with
 * the scores `valScore` makes up.
 */
import { join } from "node:path";
import type * as tfl from "@tensorflow/tfjs-layers";
import { discoverDataset } from "../../lib/data/discover.ts";
import type { ImageRecord } from "../../lib/data/types.ts";
import { saveModel } from "../../lib/models/io.ts";
import { writeFileAtomic, writeJsonAtomic } from "../../lib/util/atomic.ts";

/** Writes the run folder `dir` for `model` (which it does not dispose). */
export async function writeRunFolder(
  dir: string,
  model: tfl.LayersModel,
  o: { data?: string; threshold: number; valScore?: (r: ImageRecord, i: number) => number },
): Promise<void> {
  await saveModel(model, join(dir, "model"));
  await writeJsonAtomic(join(dir, "preprocessing.json"), {
    size: 32,
    channels: 1,
    scale: 1 / 255,
    mean: 0,
    std: 1,
  });
  await writeJsonAtomic(join(dir, "classes.json"), ["NORMAL", "PNEUMONIA"]);
  await writeJsonAtomic(join(dir, "threshold.json"), {
    threshold: o.threshold,
    policy: "test",
    targetSensitivity: 0.95,
  });
  await writeJsonAtomic(join(dir, "config.json"), {
    classes: 2,
    ...(o.data ? { data: o.data, balance: "weights" } : {}),
    threshold: { targetSensitivity: 0.95 },
  });
  if (!o.data || !o.valScore) return;
  const valScore = o.valScore;
  const val = (await discoverDataset(o.data)).records.filter((r) => r.officialSplit === "val");
  const rows = val.map((r, i) => `${r.relPath},${r.patientId},${r.y},${valScore(r, i)}`);
  await writeFileAtomic(
    join(dir, "val_predictions.csv"),
    ["relPath,patient,y,prob", ...rows].join("\n") + "\n",
  );
}
