/**
 * A chapter's training budget in words: what it trains, on how much data, for how long, and why
 * that budget answers the chapter's question (the profile table's `why`, lib/report/settings.ts).
 * Shown under the settings of every chapter that trains (`setupChapter(params, { budget })`).
 * @module
 */
import type { ReportSettings } from "../report/settings.ts";
import { type Budget, type BudgetName, PROFILES } from "../report/settings.ts";

/** "the whole training split", "30% of the training split". */
function share(f: number): string {
  return f >= 1 ? "the whole training split" : `${percent(f)} of the training split`;
}

function percent(f: number): string {
  return `${+(100 * f).toFixed(1)}%`;
}

/** The budget's values in words, without the reason. */
export function budgetWords(b: Omit<Budget, "why">): string {
  const size = b.size === null ? "at the pretrained base's input size" : `at ${b.size} px`;
  const data = b.fractions
    ? `on ${percent(b.fractions[0])} then ${share(b.fractions[1])}`
    : `on ${share(b.fraction)}`;
  return `\`${b.model}\` ${size} ${data}, up to ${b.epochs} epochs, early stopping after ` +
    `${b.patience} epochs without a better validation accuracy`;
}

/** The budget a chapter runs with: its profile's, changed by its parameters cell's values. */
export function budgetInEffect(s: ReportSettings, name: BudgetName): Omit<Budget, "why"> {
  const table = PROFILES[s.profile.name].budgets[name];
  const model = s.params?.model;
  return {
    model: typeof model === "string" ? model : table.model,
    size: table.size === null ? null : s.profile.size,
    fraction: name === "baseline" ? s.profile.baselineFractions[1] : s.profile.modelFraction,
    ...(name === "baseline" ? { fractions: s.profile.baselineFractions } : {}),
    epochs: s.profile.epochs,
    patience: s.profile.patience,
  };
}

/**
 * The chapter's budget in Markdown: the profile's budget with its reason when the chapter runs
 * with it, else the values in effect and the profile's budget they replace.
 */
export function budgetNote(s: ReportSettings, name: BudgetName): string {
  const table = PROFILES[s.profile.name].budgets[name];
  const now = budgetInEffect(s, name);
  const same = budgetWords(now) === budgetWords(table);
  return same
    ? `**Training budget** (profile ${s.profile.name}): ${budgetWords(now)}. Why: ${table.why}`
    : `**Training budget**: set in the parameters cell, ${budgetWords(now)}; the ` +
      `${s.profile.name} profile's is ${budgetWords(table)} (${table.why})`;
}
