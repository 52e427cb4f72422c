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
import {
  budgetNote,
  chapterConfig,
  learnedNothingNote,
  OVERFIT_GAP,
  type RunSpec,
  trainingDiagnosis,
  trainOrReuse,
} from "./_training.ts";
import { sha256Hex } from "../util/hash.ts";
import { formatMetric, formatSigned } from "../metrics/format.ts";

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

/**
 * Chapters 3, 4 and 6: a registered model (the parameters cell's `model`) on the chapter's share
 * of the training split, in the run folder of the same name.
 */
export function trainModel(s: ReportSettings, model: string): Promise<RunRecord> {
  return trainOrReuse(s, { name: model, model });
}

/** Seconds for people: one decimal under 10 s, whole seconds above. */
const secs = (x: number) => `${x < 10 ? x.toFixed(1) : Math.round(x)} s`;

/** How the baseline changed from 25% to 75% of the data, in words. */
export function baselineDelta(a: RunRecord, b: RunRecord): string {
  const f = (x: number) => formatMetric(x);
  const keys = ["accuracy", "recall", "precision", "f1", "auc"] as const;
  const parts = keys.map((k) => {
    const delta = b.summary.val[k] - a.summary.val[k];
    return `${k} ${f(a.summary.val[k])} -> ${f(b.summary.val[k])} (${formatSigned(delta)})`;
  });
  const nothing = [a, b].filter((r) => trainingDiagnosis(r).learnedNothing);
  const caveat = nothing.length === 2
    ? " Neither run learned anything (each gives every image one score), so this comparison " +
      "cannot say whether more data helps the dense baseline at these settings."
    : nothing.length === 1
    ? ` ${nothing[0].name} learned nothing (one score for every image), so the difference is ` +
      "between a model and none, not an effect of the data."
    : "";
  return `With ${b.summary.trainImages} instead of ${a.summary.trainImages} training images, the ` +
    `dense baseline's validation ${parts.join(", ")}; ` +
    `training took ${secs(b.summary.totalTimeS)} instead of ${secs(a.summary.totalTimeS)}.` +
    caveat;
}

/**
 * Whether a run overfits, in words that follow its numbers: the train/validation accuracy gap at
 * the last epoch, where validation loss was lowest, and whether the run was cut off by its epoch
 * limit while still improving (undertrained: then overfitting cannot be judged yet).
 */
export function overfitNote(run: RunRecord): string {
  const d = trainingDiagnosis(run);
  const f = (x: number) => formatMetric(x);
  const gap = formatSigned(d.accuracyGap);
  const facts = `At the last epoch (${d.lastEpoch}) train accuracy is ${f(d.trainAccuracy)} and ` +
    `validation ${f(d.valAccuracy)} (gap ${gap}); validation loss was lowest at epoch ` +
    `${d.bestLossEpoch} (${f(d.bestValLoss)}, last ${f(d.lastValLoss)}). The kept model is epoch ` +
    `${run.summary.bestEpoch}.`;
  const verdict = d.overfitting
    ? `**${run.name} overfits:** ` +
      (d.accuracyGap > OVERFIT_GAP
        ? `train accuracy runs ahead of validation by more than ${OVERFIT_GAP}.`
        : "validation loss rose again while training loss kept falling.")
    : `**No sign of overfitting in ${run.name}:** train and validation accuracy stay within ` +
      `${OVERFIT_GAP} and validation loss did not climb back.`;
  const under = d.undertrained
    ? ` **Undertrained:** the run stopped at its limit of ${d.maxEpochs} epochs while validation ` +
      "was still improving, so it says little yet about overfitting or about what " +
      `regularisation changes. ${budgetNote(run)}`
    : d.converged
    ? ""
    : ` ${budgetNote(run)}`;
  const nothing = d.learnedNothing ? `**${learnedNothingNote(run)}.** ` : "";
  return `${nothing}${verdict} ${facts}${under}`;
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
 * Chapter 5: trains `transfer` on the base given by the settings (`base` in the parameters cell,
 * or --base),
 * at the base's own input size; without a base, skips and says how to provide one.
 */
export async function trainTransfer(s: ReportSettings): Promise<TransferOutcome> {
  if (!s.transferBase) {
    return {
      status: "skipped",
      reason: "no pretrained base was given (`base` in the parameters cell, or --base)",
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

/** The input [size, size, channels] a chapter trains `model` with (size raised to the minimum). */
export function inputShape(s: ReportSettings, model: string): [number, number, number] {
  const c = chapterConfig(s, { name: model, model });
  return [c.size, c.size, c.channels];
}

/**
 * Trains (or reuses) a model registered from a notebook cell with the chapter's settings, changed
 * by `settings` (fraction, epochs, balance, size; a transfer model's channels and base). The run
 * folder is named after the architecture's values (`<name>_<hash>`), so an edited architecture is
 * a new run and an unchanged one is reused.
 */
export function trainEdited(
  s: ReportSettings,
  arch: { name: string },
  settings: {
    fraction?: number;
    epochs?: number;
    balance?: string;
    size?: number;
    channels?: 1 | 3;
    basePath?: string;
  } = {},
): Promise<RunRecord> {
  const tag = sha256Hex(JSON.stringify(arch)).slice(0, 8);
  return trainOrReuse(s, {
    ...settings,
    balance: settings.balance as RunSpec["balance"],
    name: `${arch.name}_${tag}`,
    model: arch.name,
  });
}
