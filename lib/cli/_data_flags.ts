/**
 * The flags that name a dataset, shared by every command that reads one (audit, train, evaluate,
 * predict, ensemble, ood): `--data DIR` with, for an archive described by a table, `--labels FILE
 * [--format rsna|nih|chexpert|csv]` and the label policy (lib/data/tables.ts). One place, so
 * every task reads a dataset the same way (lib/data/dataset.ts).
 *
 * @example
 * ```ts
 * import { DATA_FLAGS, dataSource } from "./_data_flags.ts";
 * const SPEC = { name: "x", synopsis: [""], flags: { data: { type: "string", help: "" }, ...DATA_FLAGS } } as const;
 * // const src = dataSource(values.data!, values);
 * ```
 * @module
 */
import type { DataSource } from "../data/dataset.ts";
import { TABLE_FORMATS, type TableFormat } from "../data/tables.ts";
import { UsageError } from "./_args.ts";

/** `--labels`, `--format`, `--uncertain`, `--blank`, `--other-findings`. */
export const DATA_FLAGS = {
  labels: {
    type: "string",
    arg: "FILE",
    help: "label table of the images under --data (any depth; JPEG, PNG, DICOM with or " +
      "without .dcm): RSNA stage_2_train_labels.csv, NIH Data_Entry_2017.csv, CheXpert " +
      "train.csv, or a csv with path,label,patient",
  },
  format: {
    type: "string",
    choices: TABLE_FORMATS,
    help: "the --labels table's format (default: detected from its header)",
  },
  uncertain: {
    type: "string",
    choices: ["exclude", "positive", "negative"],
    help: "CheXpert Pneumonia -1 (uncertain): left out and counted, PNEUMONIA or NORMAL " +
      "(default exclude)",
  },
  blank: {
    type: "string",
    choices: ["exclude", "negative"],
    help: "CheXpert Pneumonia blank: left out and counted, or NORMAL (default exclude)",
  },
  "other-findings": {
    type: "string",
    choices: ["exclude", "normal"],
    help: "NIH findings that are neither Pneumonia nor No Finding: left out and counted, or " +
      "NORMAL (default exclude)",
  },
} as const;

/** The values of {@link DATA_FLAGS} as parsed. */
export interface DataFlagValues {
  labels?: string;
  format?: string;
  uncertain?: string;
  blank?: string;
  "other-findings"?: string;
}

/** The data source of `--data` and the table flags; the policy flags need `--labels`. */
export function dataSource(data: string, v: DataFlagValues): DataSource {
  const policyGiven = v.uncertain ?? v.blank ?? v["other-findings"] ?? v.format;
  if (!v.labels && policyGiven !== undefined) {
    throw new UsageError(
      "--format, --uncertain, --blank and --other-findings describe a label table: add --labels",
    );
  }
  if (!v.labels) return { data };
  const policy: DataSource["policy"] = {};
  if (v.uncertain) policy.uncertain = v.uncertain as "exclude" | "positive" | "negative";
  if (v.blank) policy.blank = v.blank as "exclude" | "negative";
  if (v["other-findings"]) policy.otherFindings = v["other-findings"] as "exclude" | "normal";
  return {
    data,
    labels: v.labels,
    format: (v.format as TableFormat | undefined) ?? null,
    policy,
  };
}
