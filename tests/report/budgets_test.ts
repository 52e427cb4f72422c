import assert from "node:assert/strict";
import { join } from "node:path";
import {
  BUDGET_NAMES,
  type BudgetName,
  CHAPTER_BUDGETS,
  PROFILE_NAMES,
  PROFILES,
  PROJECT_ROOT,
} from "../../lib/report/settings.ts";
import { chapterSettings, notebookParameterNames, profileParams } from "../../lib/report/params.ts";
import { cellSource, readNotebook } from "../../lib/report/runner.ts";
import { chapterConfig, type RunSpec } from "../../lib/chapters/_training.ts";
import { EVAL_RUN } from "../../lib/chapters/_eval_context.ts";
import { CHEST_RUN } from "../../lib/chapters/13_chest_region.ts";
import { THREE_RUN } from "../../lib/chapters/14_three_classes.ts";
import { budgetInEffect, budgetNote } from "../../lib/chapters/_budget.ts";
import { getModelSpec } from "../../lib/models/registry.ts";
import type { ReportSettings } from "../../lib/report/settings.ts";

const NOTEBOOKS = join(PROJECT_ROOT, "notebooks");
const notebooks = [...Deno.readDirSync(NOTEBOOKS)]
  .filter((e) => e.name.endsWith(".ipynb"))
  .map((e) => e.name)
  .sort();

/** The settings a notebook runs with under a profile (what the report runner injects). */
function settingsFor(profile: (typeof PROFILE_NAMES)[number], id: string, names: string[]) {
  const all = profileParams(PROFILES[profile], id);
  const params = Object.fromEntries(
    Object.entries(all).filter(([k]) => k === "profile" || names.includes(k)),
  );
  return { params, s: chapterSettings(params) };
}

/** What each training chapter trains under its settings (the run specs its library calls use). */
const CHAPTER_RUNS: Record<string, (model: string, s: ReportSettings) => RunSpec[]> = {
  "02": (m, s) =>
    s.profile.baselineFractions.map((fraction, i) => ({ name: `dense_${i}`, model: m, fraction })),
  "03": (m) => [{ name: m, model: m }],
  "04": (m) => [{ name: m, model: m }],
  "06": (m) => [{ name: m, model: m }],
  "09": (m) => [{ name: "balance_down", model: m, balance: "down" }],
  "10": () => [EVAL_RUN],
  "11": () => [EVAL_RUN],
  "12": () => [EVAL_RUN],
  "13": () => [EVAL_RUN, { ...EVAL_RUN, name: CHEST_RUN, chestRegion: "crop" }],
  "14": () => [{ ...EVAL_RUN, name: THREE_RUN, classes: 3 }],
  "16": () => [EVAL_RUN],
};

Deno.test("the full profile trains the seed's models at the seed's settings", () => {
  const b = PROFILES.full.budgets;
  for (const name of ["baseline", "cnn", "cnnReg", "transfer"] as const) {
    assert.equal(b[name].epochs, 40, `${name} epochs`);
    assert.equal(b[name].patience, 8, `${name} patience`);
    assert.equal(b[name].fraction, name === "baseline" ? 0.75 : 1, `${name} share`);
    if (name !== "transfer") assert.equal(b[name].size, 150, `${name} size`);
  }
  assert.deepEqual(b.baseline.fractions, [0.25, 0.75]);
  assert.equal(b.transfer.size, null, "transfer: the base's own input size");
  assert.deepEqual(
    [b.baseline.model, b.cnn.model, b.cnnReg.model, b.transfer.model],
    ["dense_baseline", "cnn", "cnn_reg", "transfer"],
  );
  // The profile's flat values are the seed's models' (the conclusions quote them).
  assert.deepEqual(
    [PROFILES.full.size, PROFILES.full.epochs, PROFILES.full.patience, PROFILES.full.modelFraction],
    [150, 40, 8, 1],
  );
});

Deno.test("every profile has every budget, each valid for its model, with a reason", () => {
  for (const p of PROFILE_NAMES) {
    assert.deepEqual(Object.keys(PROFILES[p].budgets).sort(), [...BUDGET_NAMES].sort(), p);
    for (const name of BUDGET_NAMES) {
      const b = PROFILES[p].budgets[name];
      const where = `${p}.${name}`;
      const spec = getModelSpec(b.model);
      assert.ok(b.size === null || b.size >= spec.minSize, `${where}: size ${b.size}`);
      assert.ok(b.fraction > 0 && b.fraction <= 1, `${where}: share ${b.fraction}`);
      assert.ok(Number.isInteger(b.epochs) && b.epochs >= 1, `${where}: epochs`);
      assert.ok(Number.isInteger(b.patience) && b.patience >= 1, `${where}: patience`);
      assert.ok(b.why.length > 20, `${where}: a reason`);
      assert.equal(b.fractions !== undefined, name === "baseline", `${where}: fractions`);
    }
  }
});

Deno.test("each training notebook names its budget, and its parameters cell declares its values", async () => {
  for (const file of notebooks) {
    const id = file.slice(0, 2);
    const nb = await readNotebook(join(NOTEBOOKS, file));
    const names = notebookParameterNames(nb, file);
    const code = nb.cells.map(cellSource).join("\n");
    const named = code.match(/setupChapter\(params, \{ budget: "(\w+)" \}\)/)?.[1];
    assert.equal(named, CHAPTER_BUDGETS[id], `${file}: setupChapter's budget`);
    const trains = names.includes("epochs");
    assert.equal(trains, id in CHAPTER_BUDGETS, `${file}: declares epochs iff it has a budget`);
    if (!trains) continue;
    for (const k of ["epochs", "patience"]) assert.ok(names.includes(k), `${file}: ${k}`);
    const b = PROFILES.full.budgets[CHAPTER_BUDGETS[id]];
    if (b.size !== null) assert.ok(names.includes("size"), `${file}: size`);
    assert.ok(names.includes(b.fractions ? "fractions" : "fraction"), `${file}: share`);
  }
});

Deno.test("each chapter trains with its budget from the table, at every profile", async () => {
  for (const profile of PROFILE_NAMES) {
    for (const file of notebooks) {
      const id = file.slice(0, 2);
      const runs = CHAPTER_RUNS[id];
      if (!runs) continue;
      const name = CHAPTER_BUDGETS[id];
      const b = PROFILES[profile].budgets[name];
      const nb = await readNotebook(join(NOTEBOOKS, file));
      const { params, s } = settingsFor(profile, id, notebookParameterNames(nb, file));
      const model = typeof params.model === "string" ? params.model : b.model;
      assert.equal(model, b.model, `${profile} ${file}: model`);
      runs(model, s).forEach((spec, i) => {
        const c = chapterConfig(s, spec);
        const where = `${profile} ${file} ${spec.name}`;
        assert.equal(c.model, b.model, `${where}: model`);
        assert.equal(c.size, Math.max(b.size!, getModelSpec(b.model).minSize), `${where}: size`);
        assert.equal(c.fraction, b.fractions?.[i] ?? b.fraction, `${where}: share`);
        assert.equal(c.epochs, b.epochs, `${where}: epochs`);
        assert.equal(c.earlyStopping.patience, b.patience, `${where}: patience`);
      });
      assert.deepEqual(budgetInEffect(s, name), {
        model: b.model,
        size: b.size,
        fraction: b.fraction,
        ...(b.fractions ? { fractions: b.fractions } : {}),
        epochs: b.epochs,
        patience: b.patience,
      }, `${profile} ${file}: budget in effect`);
    }
  }
});

Deno.test("the chapters that evaluate compact get chapter 6's run config, so they reuse it", async () => {
  for (const profile of PROFILE_NAMES) {
    const config = async (id: string) => {
      const file = notebooks.find((f) => f.startsWith(id))!;
      const nb = await readNotebook(join(NOTEBOOKS, file));
      const { s } = settingsFor(profile, id, notebookParameterNames(nb, file));
      return chapterConfig(s, EVAL_RUN);
    };
    const six = await config("06");
    for (const id of ["10", "11", "12", "13", "16"]) {
      assert.deepEqual(await config(id), six, `${profile}: notebook ${id} = notebook 06`);
    }
  }
});

Deno.test("budgetNote: the profile's budget with its reason, or the cell's values and the profile's", () => {
  const names = ["size", "fraction", "epochs", "patience", "model"];
  const pick = (id: string, over: Record<string, unknown> = {}) => {
    const all = { ...profileParams(PROFILES.full, id), ...over };
    return chapterSettings(
      Object.fromEntries(
        Object.entries(all).filter(([k]) => k === "profile" || names.includes(k)),
      ) as never,
    );
  };
  const note = budgetNote(pick("09"), "balance");
  const b = PROFILES.full.budgets.balance;
  assert.match(note, /^\*\*Training budget\*\* \(profile full\): `compact` at 64 px/);
  assert.ok(note.includes(`up to ${b.epochs} epochs`) && note.endsWith(b.why), note);
  const changed = budgetNote(pick("09", { epochs: 2 }), "balance");
  assert.match(changed, /set in the parameters cell, `compact` at 64 px .* up to 2 epochs/);
  assert.ok(changed.includes(`up to ${b.epochs} epochs`), changed);
  const seed = budgetNote(pick("04"), "cnnReg" satisfies BudgetName);
  assert.match(seed, /`cnn_reg` at 150 px on the whole training split, up to 40 epochs/);
  assert.match(seed, /early stopping after 8 epochs/);
});
