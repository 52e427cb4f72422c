/**
 * Notebook parameters, papermill-style. Each chapter notebook opens with one code cell tagged
 * `parameters` (cell metadata `tags: ["parameters"]`) that holds plain values:
 *
 * ```ts
 * const params = {
 *   data: "data/chest_xray", // dataset folder
 *   size: 64, // input side in pixels
 * };
 * ```
 *
 * A reader changes a value there and reruns the notebook. The report runner leaves that cell as it
 * is and, in the executed copy only, adds a cell tagged `injected-parameters` right after it,
 * `void Object.assign(params, {...})` (void: the kernel shows no value), with the profile's
 * values, the report's options (data, out, seed, base) and `--set` overrides, limited to the names
 * the cell declares.
 * {@link chapterSettings} turns the values into the settings the chapter functions take.
 * @module
 */
import { isAbsolute, resolve } from "node:path";
import { escapeHtml } from "../charts/_render.ts";
import type { Notebook, NotebookCell } from "./runner.ts";
import { cellSource } from "./runner.ts";
import {
  CHAPTER_BUDGETS,
  type ChapterTraining,
  type Params,
  type ParamValue,
  type Profile,
  PROFILE_NAMES,
  type ProfileName,
  PROFILES,
  PROJECT_ROOT,
  type ReportSettings,
  siteFor,
} from "./settings.ts";

/** Tag of the cell a reader edits. */
export const PARAMETERS_TAG = "parameters";

/** Tag of the cell the report runner adds after it. */
export const INJECTED_TAG = "injected-parameters";

/** What each parameter means; a name not listed here is an error in a parameters cell. */
export const PARAMETER_DOCS: Readonly<Record<string, string>> = {
  profile: "label of the profile whose values the report runner injected",
  data: "dataset folder (Kaggle layout or class folders), relative to the project",
  out: "report folder: run folders in out/runs, results in out/results",
  seed: "seed of the split's subsets, weight initialisation, shuffling and bootstrap",
  model: "registered model to train (deno task train --list)",
  size: "input side in pixels (raised to the model's minimum)",
  fraction: "share of the training split used for training",
  fractions: "the two shares of the training split of the dense baseline",
  epochs: "most epochs of training",
  patience: "early stopping: epochs without a better validation accuracy",
  balance: "class balancing: none, down, up or weights",
  batch: "batch size (null: the model's own)",
  optimizer: "adam, sgd or rmsprop (null: the model's own)",
  lr: "learning rate (null: the model's own)",
  augment: "seeded augmentation while training (null: the model's own)",
  base: "frozen TF.js base of the transfer model (null: none)",
  trainVariant: "also train the edited architecture of the chapter",
  site: 'labelled second-site sample, class folders or Kaggle layout ("none": none; null: the ' +
    "chest_xray_site folder beside the data when there is one)",
  labels: "label table of the images in data (RSNA, NIH, CheXpert or path,label,patient csv; " +
    "format from its header), relative to the project (null: the folder layout)",
  siteLabels: "label table of the site's images (null: the site's class folders)",
};

/** Index of the notebook's parameters cell; none or several is an error naming the file. */
export function parametersCellIndex(nb: Notebook, file = "notebook"): number {
  const tagged = nb.cells.flatMap((c, i) => (cellTags(c).includes(PARAMETERS_TAG) ? [i] : []));
  if (tagged.length !== 1) {
    throw new Error(
      `${file}: expected exactly one code cell tagged "${PARAMETERS_TAG}", found ${tagged.length}`,
    );
  }
  return tagged[0];
}

/** The cell's metadata tags. */
export function cellTags(cell: NotebookCell): string[] {
  const tags = (cell.metadata as { tags?: unknown } | undefined)?.tags;
  return Array.isArray(tags) ? tags.map(String) : [];
}

/** The names a parameters cell declares: the keys of its `const params = { ... }` literal. */
export function parameterNames(source: string): string[] {
  const body = source.match(/const params = \{([\s\S]*)\};?/)?.[1];
  if (body === undefined) {
    throw new Error("a parameters cell must declare `const params = { name: value, ... };`");
  }
  // Keys of the literal: drop string contents and comments first, then read every `name:`.
  const bare = body.replace(/"(?:[^"\\\n]|\\.)*"/g, '""').replace(/\/\/.*$/gm, "");
  return [...bare.matchAll(/([A-Za-z_]\w*)\s*:/g)].map((m) => m[1]);
}

/** One `--set` override: `name=value`, or `NN.name=value` for notebook NN only. */
export interface SetOverride {
  name: string;
  /** Notebook prefix (e.g. "09"), or null for every notebook that declares the name. */
  notebook: string | null;
  value: ParamValue;
}

/**
 * Parses `--set` items. The value is read as JSON when it parses (`0.5`, `true`, `null`,
 * `[0.25,0.75]`, `"text"`) and as a string otherwise (`down`).
 */
export function parseSets(items: readonly string[]): SetOverride[] {
  return items.map((item) => {
    const m = item.match(/^(?:(\d+)\.)?([A-Za-z_]\w*)=(.*)$/s);
    if (!m) throw new Error(`--set "${item}": expected name=value or NN.name=value`);
    if (!(m[2] in PARAMETER_DOCS)) {
      throw new Error(
        `--set "${item}": unknown parameter "${m[2]}"; known: ${
          Object.keys(PARAMETER_DOCS).join(", ")
        }`,
      );
    }
    let value: ParamValue;
    try {
      value = JSON.parse(m[3]);
    } catch {
      value = m[3];
    }
    return { name: m[2], notebook: m[1] ?? null, value };
  });
}

/**
 * The values a profile gives a notebook's parameters: its chapter's budget
 * ({@link CHAPTER_BUDGETS}: model, size, share, epochs, patience; the transfer budget's size is
 * the base's own, so none is given), or the seed's models' values for a chapter without one.
 */
export function profileParams(p: Profile, notebookId: string): Params {
  const name = CHAPTER_BUDGETS[notebookId];
  const common: Params = { profile: p.name, balance: "none", trainVariant: p.name === "ci" };
  if (!name) {
    return {
      ...common,
      size: p.size,
      fraction: p.modelFraction,
      fractions: [...p.baselineFractions],
      epochs: p.epochs,
      patience: p.patience,
    };
  }
  const b = p.budgets[name];
  return {
    ...common,
    model: b.model,
    ...(b.size === null ? {} : { size: b.size }),
    fraction: b.fraction,
    fractions: [...(b.fractions ?? p.baselineFractions)],
    epochs: b.epochs,
    patience: b.patience,
  };
}

/**
 * What the runner injects into one notebook: the profile's values, then `report` (data, out,
 * seed, base), then the `--set` overrides, keeping only names the cell declares (and the
 * profile's label).
 */
export function notebookOverrides(
  names: readonly string[],
  o: { profile: Profile; notebookId: string; report: Params; sets: readonly SetOverride[] },
): Params {
  const all: Params = { ...profileParams(o.profile, o.notebookId), ...o.report };
  for (const s of o.sets) {
    if (s.notebook === null || s.notebook === o.notebookId) all[s.name] = s.value;
  }
  return Object.fromEntries(
    Object.entries(all).filter(([k]) => k === "profile" || names.includes(k)),
  );
}

/** A copy of `nb` with `values` injected after its parameters cell (replacing an earlier one). */
export function injectParameters(nb: Notebook, values: Params, file = "notebook"): Notebook {
  const cells = nb.cells.filter((c) => !cellTags(c).includes(INJECTED_TAG));
  const at = parametersCellIndex({ ...nb, cells }, file);
  const lines = Object.entries(values).map(([k, v]) => `  ${k}: ${JSON.stringify(v)},`);
  const injected: NotebookCell = {
    cell_type: "code",
    source: `// Parameters injected by the report runner\nvoid Object.assign(params, {\n${
      lines.join("\n")
    }\n});\n`,
    metadata: { tags: [INJECTED_TAG] },
    outputs: [],
    execution_count: null,
  };
  return { ...nb, cells: [...cells.slice(0, at + 1), injected, ...cells.slice(at + 1)] };
}

/** The parameter names of a notebook, read from its parameters cell. */
export function notebookParameterNames(nb: Notebook, file = "notebook"): string[] {
  const names = parameterNames(cellSource(nb.cells[parametersCellIndex(nb, file)]));
  const unknown = names.filter((n) => !(n in PARAMETER_DOCS));
  if (unknown.length) {
    throw new Error(`${file}: unknown parameter(s) ${unknown.join(", ")} in the parameters cell`);
  }
  return names;
}

function bad(name: string, value: unknown, expected: string): never {
  throw new Error(`parameter ${name} = ${JSON.stringify(value)}: expected ${expected}`);
}

function num(p: Params, name: string, ok: (x: number) => boolean, expected: string) {
  const v = p[name];
  if (typeof v !== "number" || !ok(v)) bad(name, v, expected);
  return v;
}

function oneOf<T extends string>(p: Params, name: string, options: readonly T[]): T | undefined {
  const v = p[name];
  if (v === undefined || v === null) return undefined;
  if (!options.includes(v as T)) bad(name, v, options.join(", ") + " or null");
  return v as T;
}

/**
 * The chapter settings made from a parameters cell's values: names the cell leaves out take the
 * quick profile's values; a wrong value is an error naming the parameter and what it expects.
 */
export function chapterSettings(params: Params): ReportSettings {
  const unknown = Object.keys(params).filter((k) => !(k in PARAMETER_DOCS));
  if (unknown.length) {
    throw new Error(
      `unknown parameter(s) ${unknown.join(", ")}; known: ${
        Object.keys(PARAMETER_DOCS).join(", ")
      }`,
    );
  }
  const label = oneOf(params, "profile", PROFILE_NAMES) ?? "quick";
  const q = PROFILES[label as ProfileName];
  const p: Params = {
    ...profileParams(q, ""),
    data: "data/chest_xray",
    out: "outputs/report",
    seed: 42,
    ...params,
  };
  const int1 = (x: number) => Number.isInteger(x) && x >= 1;
  const share = (x: number) => x > 0 && x <= 1;
  const fractions = p.fractions;
  if (!Array.isArray(fractions) || fractions.length !== 2 || !fractions.every(share)) {
    bad("fractions", fractions, "two shares in (0, 1], e.g. [0.25, 0.75]");
  }
  const fraction = num(p, "fraction", share, "a share in (0, 1]");
  const epochs = num(p, "epochs", int1, "an integer >= 1");
  const profile: Profile = {
    ...q,
    size: num(p, "size", int1, "an integer >= 1"),
    epochs,
    patience: num(p, "patience", int1, "an integer >= 1"),
    baselineFractions: [fractions[0], fractions[1]],
    modelFraction: fraction,
  };
  const seed = num(p, "seed", Number.isInteger, "an integer");
  for (const k of ["data", "out"]) if (typeof p[k] !== "string" || !p[k]) bad(k, p[k], "a path");
  if (p.base !== undefined && p.base !== null && typeof p.base !== "string") {
    bad("base", p.base, "a path or null");
  }
  for (const k of ["site", "labels", "siteLabels"]) {
    if (p[k] !== undefined && p[k] !== null && typeof p[k] !== "string") {
      bad(k, p[k], "a path or null");
    }
  }
  const train: ChapterTraining = {
    balance: oneOf(p, "balance", ["none", "down", "up", "weights"] as const) ?? "none",
    optimizer: oneOf(p, "optimizer", ["adam", "sgd", "rmsprop"] as const),
  };
  if (p.batch != null) train.batchSize = num(p, "batch", int1, "an integer >= 1 or null");
  if (p.lr != null) train.learningRate = num(p, "lr", (x) => x > 0, "a number > 0 or null");
  if (p.augment != null) {
    if (typeof p.augment !== "boolean") bad("augment", p.augment, "true, false or null");
    train.augment = p.augment;
  }
  const abs = (x: string) => (isAbsolute(x) ? x : resolve(PROJECT_ROOT, x));
  const out = abs(p.out as string);
  return {
    root: PROJECT_ROOT,
    data: abs(p.data as string),
    profile,
    seed,
    out,
    runsDir: resolve(out, "runs"),
    outputsDir: resolve(PROJECT_ROOT, "outputs"),
    transferBase: typeof p.base === "string" ? abs(p.base) : null,
    fresh: false,
    params: { ...params },
    train,
    site: siteFor(p.site as string | null | undefined, abs(p.data as string)),
    labels: typeof p.labels === "string" && p.labels ? abs(p.labels) : null,
    siteLabels: typeof p.siteLabels === "string" && p.siteLabels ? abs(p.siteLabels) : null,
  };
}

/**
 * A small HTML block that states the values a chapter ran with, one `name: value` each, in the
 * order of the parameters cell (data and out shortened to the project-relative path).
 */
export function settingsBlock(s: ReportSettings): string {
  const p = s.params ?? {};
  const rel = (x: string) =>
    x.startsWith(PROJECT_ROOT + "/") ? x.slice(PROJECT_ROOT.length + 1) : x;
  const items = Object.entries(p).filter(([k]) => k !== "profile").map(([k, v]) => {
    const shown = ["data", "out", "base", "labels", "siteLabels", "site"].includes(k)
      ? (typeof v === "string" ? rel(v) : String(v))
      : typeof v === "string"
      ? v
      : JSON.stringify(v);
    return `<code title="${escapeHtml(PARAMETER_DOCS[k] ?? "")}">${escapeHtml(k)}: ${
      escapeHtml(shown)
    }</code>`;
  });
  const label = typeof p.profile === "string"
    ? `profile ${escapeHtml(p.profile)}`
    : "as set in the notebook";
  const style = "font-size:12px;background:#f3f6fa;border:1px solid #d5dde8;border-radius:4px;" +
    "padding:.4em .6em;margin:.4em 0";
  return `<div class="xr-settings" style="${style}"><strong>Settings used</strong> (${label}): ` +
    items.join(" &middot; ") + `</div>`;
}
