/**
 * `deno task select --candidates DIR,DIR,... --site DIR [--incumbent DIR] [--folds 5] [--seed S]
 * [--prior-comparisons N] [--json] [--out FILE]`: scores the incumbent (default the committed reference) and every
 * candidate run on a labelled site sample (once; scores cached in outputs/cache/site_scores),
 * then prints per run the site ROC-AUC with its patient-bootstrap interval, the paired gain over
 * the incumbent with DeLong's p and the Holm-adjusted p, the paired patient-bootstrap interval of
 * the gain, validation ROC-AUC, the cross-validated calibrated sensitivity and specificity (each
 * fold's threshold from the other folds' labels), the strict ones, each candidate's verdict by
 * the pre-registered rule (docs/site-selection-rule.md, lib/eval/site_cv.ts) and the
 * selection-adjusted estimate of the whole procedure (nested cross-validation).
 * `--write-folds FILE` also writes the fold of every site image (relPath,patient,y,fold), for a
 * recipe that trains on site labels per fold.
 * @module
 */
import { type BackendChoice, initBackend } from "../backend/select.ts";
import { foldsCsv, patientFolds } from "../eval/site_cv.ts";
import { formatSelection, selectOnSite } from "../eval/site_select.ts";
import { writeFileAtomic } from "../util/atomic.ts";
import { projectPath } from "../util/project.ts";
import { splitRecords } from "./_eval_data.ts";
import { type CliSpec, helpText, parseCli, runCli, UsageError } from "./_args.ts";

/** The select command's flags. */
export const SELECT_CLI = {
  name: "select",
  synopsis: [
    "--candidates DIR,DIR,... --site DIR [--incumbent DIR] [--folds 5] [--seed S] " +
    "[--prior-comparisons N] [--json] [--out FILE]",
    "--site DIR --write-folds FILE [--folds 5] [--seed S]",
  ],
  about: "Compares candidate runs with the incumbent on a labelled site sample by the " +
    "pre-registered rule (docs/site-selection-rule.md): patient cross-validation, DeLong with " +
    "Holm, a paired patient bootstrap, a validation guard and a selection-adjusted estimate.",
  flags: {
    incumbent: {
      type: "string",
      arg: "DIR",
      default: projectPath("outputs/reference"),
      shownDefault: "outputs/reference",
      help: "the run (or ensemble folder) a candidate must beat",
    },
    candidates: { type: "string", arg: "DIR,DIR,...", help: "candidate run folders" },
    site: { type: "string", arg: "DIR", help: "labelled site folder (Kaggle layout or classes)" },
    split: {
      type: "string",
      choices: ["train", "val", "test"],
      default: "test",
      help: "split of --site scored",
    },
    folds: { type: "number", arg: "K", integer: true, min: 2, default: 5, help: "patient folds" },
    seed: {
      type: "number",
      arg: "S",
      integer: true,
      default: 0,
      help: "seed of folds, bootstraps",
    },
    "n-boot": {
      type: "number",
      arg: "N",
      integer: true,
      min: 1,
      default: 1000,
      help: "bootstrap resamples",
    },
    alpha: { type: "number", arg: "X", default: 0.05, help: "significance level of the rule" },
    "prior-comparisons": {
      type: "number",
      arg: "N",
      integer: true,
      min: 0,
      default: 0,
      help: "comparisons already made on this site sample (reported with the running total)",
    },
    json: { type: "boolean", help: "print one JSON object" },
    out: { type: "string", arg: "FILE", help: "also write the JSON result to FILE" },
    "write-folds": {
      type: "string",
      arg: "FILE",
      help: "write the fold of every site image (relPath,patient,y,fold)",
    },
    "no-cache": { type: "boolean", help: "score every run afresh (no site score cache)" },
    backend: { type: "string", arg: "NAME", help: "TF.js backend (wasm, cpu, ...)" },
  },
} as const satisfies CliSpec;

/** Runs the select command with `args`. */
export async function main(args: string[]): Promise<void> {
  const { values: v, help } = parseCli(SELECT_CLI, args);
  if (help) return console.log(helpText(SELECT_CLI));
  if (!v.site) throw new UsageError("--site DIR is required");
  if (!(v.alpha > 0 && v.alpha < 1)) {
    throw new UsageError(`--alpha must be in (0, 1), got ${v.alpha}`);
  }
  const { records, source, fromManifest } = await splitRecords(v.site, v.split);
  if (fromManifest) console.error(`select: ${v.site} has no ${v.split}/ folder; using ${source}`);
  if (v["write-folds"]) {
    const folds = patientFolds(records, v.folds, v.seed);
    await writeFileAtomic(v["write-folds"], foldsCsv(records, folds));
    console.error(`select: folds of ${records.length} site images written to ${v["write-folds"]}`);
    if (!v.candidates) return;
  }
  if (!v.candidates) throw new UsageError("--candidates DIR,DIR,... is required");
  const candidates = v.candidates.split(",").map((c) => c.trim()).filter(Boolean);
  await initBackend({ prefer: v.backend as BackendChoice | undefined });
  const r = await selectOnSite({
    incumbent: v.incumbent,
    candidates,
    records,
    source,
    folds: v.folds,
    seed: v.seed,
    nBoot: v["n-boot"],
    alpha: v.alpha,
    priorComparisons: v["prior-comparisons"],
    cacheDir: v["no-cache"] ? null : undefined,
    log: (m) => console.error(m),
  });
  if (v.out) await writeFileAtomic(v.out, JSON.stringify(r, null, 2) + "\n");
  console.log(v.json ? JSON.stringify(r) : formatSelection(r));
}

if (import.meta.main) await runCli("select", () => main(Deno.args), SELECT_CLI);
