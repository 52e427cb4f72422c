/**
 * Chapters 2 to 5: the seed's models trained with the profile's settings (or reused from their
 * run folders): the dense baseline on 25% and 75% of the training split, the CNN, the CNN with
 * dropout and L2, and transfer learning when a local pretrained base is given.
 * @module
 */
import { NO_BASE_HELP } from "../models/transfer.ts";
import { modelJsonPath } from "../models/io.ts";
import { readBaseInfo } from "../models/extract_base.ts";
import { readJson } from "../util/atomic.ts";
import type { RunRecord } from "./_context.ts";
import type { ReportSettings } from "../report/settings.ts";
import { trainOrReuse } from "./_training.ts";

/** Run names of the model chapters, shared with the comparison chapter. */
export const CHAPTER_RUNS = {
  dense25: "dense_baseline_25",
  dense75: "dense_baseline_75",
  cnn: "cnn",
  cnnReg: "cnn_reg",
  transfer: "transfer",
  compact: "compact",
} as const;

/** Chapter 2: the dense baseline on the profile's first or second fraction (25% / 75%). */
export function trainBaseline(s: ReportSettings, which: 0 | 1): Promise<RunRecord> {
  const fraction = s.profile.baselineFractions[which];
  return trainOrReuse(s, {
    name: which === 0 ? CHAPTER_RUNS.dense25 : CHAPTER_RUNS.dense75,
    model: "dense_baseline",
    fraction,
  });
}

/** Chapters 3, 4 and 6: a model of the zoo on the profile's share of the training split. */
export function trainModel(
  s: ReportSettings,
  model: "cnn" | "cnn_reg" | "compact",
): Promise<RunRecord> {
  return trainOrReuse(s, { name: model, model });
}

/** How the baseline changed from 25% to 75% of the data, in words. */
export function baselineDelta(a: RunRecord, b: RunRecord): string {
  const f = (x: number) => x.toFixed(3);
  const keys = ["accuracy", "recall", "precision", "f1", "auc"] as const;
  const parts = keys.map((k) => {
    const delta = b.summary.val[k] - a.summary.val[k];
    return `${k} ${f(a.summary.val[k])} -> ${f(b.summary.val[k])} (${delta >= 0 ? "+" : ""}${
      f(delta)
    })`;
  });
  return `With ${b.summary.trainImages} instead of ${a.summary.trainImages} training images, the ` +
    `dense baseline's validation ${parts.join(", ")}; ` +
    `training took ${b.summary.totalTimeS.toFixed(0)} s instead of ${
      a.summary.totalTimeS.toFixed(0)
    } s.`;
}

/** How much a model overfits: last-epoch train minus validation accuracy, in words. */
export function overfitNote(run: RunRecord): string {
  const last = run.history[run.history.length - 1];
  const gap = last.train.accuracy - last.val.accuracy;
  const best = run.history.find((h) => h.epoch === run.summary.bestEpoch) ?? last;
  return `${run.name}: at the last epoch (${last.epoch}) train accuracy ${
    last.train.accuracy.toFixed(3)
  } ` +
    `vs validation ${last.val.accuracy.toFixed(3)} (gap ${gap >= 0 ? "+" : ""}${
      gap.toFixed(3)
    }); ` +
    `the kept model is epoch ${run.summary.bestEpoch} (validation accuracy ` +
    `${best.val.accuracy.toFixed(3)}, loss ${best.val.loss.toFixed(3)}).`;
}

/** What the transfer chapter did: trained a run, or skipped with the reason and the help text. */
export type TransferOutcome =
  | { status: "trained"; run: RunRecord; base: string; description: string | null }
  | { status: "skipped"; reason: string; help: string };

/** The input side and channels a TF.js layers model.json declares. */
export async function baseInputShape(path: string): Promise<{ size: number; channels: 1 | 3 }> {
  const file = modelJsonPath(path);
  const json = await readJson<
    {
      modelTopology?: {
        config?: { layers?: { config?: { batch_input_shape?: (number | null)[] } }[] };
      };
    }
  >(file);
  const shape = json.modelTopology?.config?.layers?.[0]?.config?.batch_input_shape;
  if (!shape || shape.length !== 4 || !shape[1] || !(shape[3] === 1 || shape[3] === 3)) {
    throw new Error(
      `${file}: expected an input layer with batch_input_shape [null, size, size, 1|3], got ${
        JSON.stringify(shape)
      }`,
    );
  }
  return { size: shape[1], channels: shape[3] as 1 | 3 };
}

/**
 * Chapter 5: trains `transfer` on the base given by the settings (XRAY_TRANSFER_BASE / --base),
 * at the base's own input size; without a base, skips and says how to provide one.
 */
export async function trainTransfer(s: ReportSettings): Promise<TransferOutcome> {
  if (!s.transferBase) {
    return {
      status: "skipped",
      reason: "no pretrained base was given (XRAY_TRANSFER_BASE or --base)",
      help: NO_BASE_HELP,
    };
  }
  let shape;
  try {
    shape = await baseInputShape(s.transferBase);
  } catch (err) {
    return { status: "skipped", reason: (err as Error).message, help: NO_BASE_HELP };
  }
  const run = await trainOrReuse(s, {
    name: CHAPTER_RUNS.transfer,
    model: "transfer",
    basePath: s.transferBase,
    size: shape.size,
    channels: shape.channels,
  });
  const info = await readBaseInfo(s.transferBase);
  return { status: "trained", run, base: s.transferBase, description: info?.description ?? null };
}

/** The transfer chapter's outcome in words. */
export function transferNote(t: TransferOutcome): string {
  if (t.status === "skipped") {
    return `**Transfer learning skipped:** ${t.reason}. The other chapters do not need it.\n\n${t.help}`;
  }
  const what = t.description
    ? `The base: ${t.description}`
    : "The base's maker did not say what its weights are (no description in its base.json).";
  return `Trained \`transfer\` on the frozen base \`${t.base}\` ` +
    `(${t.run.summary.trainableParams} trainable of ${t.run.summary.totalParams} parameters). ` +
    what;
}
