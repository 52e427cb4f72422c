/**
 * What a reader needs to make the same report again: the exact command, the commit of this
 * checkout (and whether it had uncommitted changes), the versions of Deno and of the pinned
 * libraries, the TF.js backend the models were trained on, and every setting each chapter ran
 * with. {@link collectProvenance} gathers it; {@link provenanceHtml} is the panel at the top of
 * the page; the same object is saved in the report's settings.json.
 * @module
 */
import { join } from "node:path";
import { escapeHtml } from "../charts/mod.ts";
import { cellSource, type Notebook } from "./runner.ts";
import { parametersCellIndex } from "./params.ts";
import type { Params } from "./settings.ts";
import { readJson } from "../util/atomic.ts";
import { PROJECT_ROOT } from "../util/project.ts";

/** Libraries whose versions the page names (all pinned in package.json). */
export const NAMED_LIBRARIES = [
  "@tensorflow/tfjs-core",
  "@tensorflow/tfjs-layers",
  "@tensorflow/tfjs-backend-wasm",
  "@tensorflow/tfjs-backend-webgpu",
  "nodejs-polars",
  "@observablehq/plot",
  "d3",
  "sharp",
  "dicom-parser",
] as const;

/** The facts of {@link collectProvenance}. */
export interface Provenance {
  /** The command that made the report, as typed (or the options of a programmatic call). */
  command: string;
  /** `git rev-parse HEAD` of the checkout, or null where git or the repository is missing. */
  commit: string | null;
  /** Whether `git status --porcelain` listed changes to tracked files (null: unknown). */
  dirty: boolean | null;
  /** Deno, V8, TypeScript and the named libraries, name -> version. */
  versions: Record<string, string>;
  /** Backends recorded in the summaries of the runs this report trained or reused. */
  backends: string[];
  /** Notebook file -> the parameter values it ran with. */
  settings: Record<string, Record<string, unknown>>;
}

async function git(args: string[]): Promise<string | null> {
  try {
    const out = await new Deno.Command("git", {
      args,
      cwd: PROJECT_ROOT,
      stdout: "piped",
      stderr: "null",
    }).output();
    return out.success ? new TextDecoder().decode(out.stdout).trim() : null;
  } catch {
    return null; // no git, or no permission to run it
  }
}

/** Installed version of an npm package (its package.json under node_modules), or null. */
async function packageVersion(name: string): Promise<string | null> {
  const pkg = await readJson<{ version?: string }>(
    join(PROJECT_ROOT, "node_modules", name, "package.json"),
  ).catch(() => null);
  return pkg?.version ?? null;
}

/** Backends named in `runsDir/<run>/summary.json` (sorted, unique; empty when none). */
export async function runBackends(runsDir: string): Promise<string[]> {
  const found = new Set<string>();
  try {
    for await (const e of Deno.readDir(runsDir)) {
      if (!e.isDirectory) continue;
      const s = await readJson<{ backend?: string }>(join(runsDir, e.name, "summary.json"))
        .catch(() => null);
      if (s?.backend) found.add(s.backend);
    }
  } catch {
    // no runs folder: nothing was trained
  }
  return [...found].sort();
}

/** Gathers the report's provenance; never throws (unknown facts are null or empty). */
export async function collectProvenance(opts: {
  command: string;
  runsDir: string;
  settings: Record<string, Record<string, unknown>>;
}): Promise<Provenance> {
  const commit = await git(["rev-parse", "HEAD"]);
  const status = commit === null
    ? null
    : await git(["status", "--porcelain", "--untracked-files=no"]);
  const versions: Record<string, string> = {
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    typescript: Deno.version.typescript,
  };
  for (const name of NAMED_LIBRARIES) {
    const v = await packageVersion(name);
    if (v) versions[name] = v;
  }
  return {
    command: opts.command,
    commit,
    dirty: status === null ? null : status.length > 0,
    versions,
    backends: await runBackends(opts.runsDir),
    settings: opts.settings,
  };
}

/**
 * The values written in a notebook's parameters cell (`const params = { name: value, ... }` of
 * plain JSON values and `//` comments), read without running it; {} when it has no such cell.
 */
export function parameterDefaults(nb: Notebook): Params {
  let source: string;
  try {
    source = cellSource(nb.cells[parametersCellIndex(nb)]);
  } catch {
    return {};
  }
  const body = source.match(/const params = (\{[\s\S]*\})/)?.[1];
  if (!body) return {};
  // Keep strings, drop comments, quote the keys, drop trailing commas: then it is JSON.
  const json = body
    .replace(/"(?:[^"\\\n]|\\.)*"|\/\/.*$/gm, (m) => (m.startsWith("//") ? "" : m))
    .replace(/([{,]\s*)([A-Za-z_]\w*)\s*:/g, '$1"$2":')
    .replace(/,(\s*[}\]])/g, "$1");
  try {
    return JSON.parse(json) as Params;
  } catch {
    return {};
  }
}

const show = (v: unknown) => typeof v === "string" ? v : JSON.stringify(v);

/**
 * The settings as one table: a row per parameter, its value, and the chapters that used it (a
 * parameter whose value differs between chapters gets a row per value).
 */
export function settingsRows(
  settings: Record<string, Record<string, unknown>>,
): { name: string; value: string; chapters: string[] }[] {
  const rows = new Map<string, { name: string; value: string; chapters: string[] }>();
  for (const [file, values] of Object.entries(settings)) {
    const chapter = file.slice(0, 2);
    for (const [name, v] of Object.entries(values)) {
      const value = show(v);
      const key = `${name}\u0000${value}`;
      const row = rows.get(key) ?? { name, value, chapters: [] };
      row.chapters.push(chapter);
      rows.set(key, row);
    }
  }
  return [...rows.values()].sort((a, b) =>
    a.name.localeCompare(b.name) || b.chapters.length - a.chapters.length
  );
}

/** The reproducibility panel: command, commit, versions, backend and every setting. */
export function provenanceHtml(p: Provenance): string {
  const commit = p.commit === null
    ? "unknown (not a git checkout, or git is missing)"
    : `<code>${escapeHtml(p.commit)}</code>${
      p.dirty ? " <b>with uncommitted changes</b> (the page may not match the commit)" : ""
    }`;
  const versions = Object.entries(p.versions)
    .map(([k, v]) => `<code>${escapeHtml(k)}</code> ${escapeHtml(v)}`).join(", ");
  const backends = p.backends.length
    ? p.backends.map((b) => `<code>${escapeHtml(b)}</code>`).join(", ")
    : "none recorded (no model was trained or reused)";
  const rows = settingsRows(p.settings).map((r) =>
    `<tr><td><code>${escapeHtml(r.name)}</code></td><td><code>${escapeHtml(r.value)}</code></td>` +
    `<td>${escapeHtml(r.chapters.join(", "))}</td></tr>`
  ).join("");
  return `<details class="xr-provenance" id="reproduce" open><summary><b>How to make this page again</b></summary>
<p>Command, run from the project folder: <code class="xr-command">${
    escapeHtml(p.command)
  }</code></p>
<p>Commit: ${commit}.</p>
<p>Versions: ${versions}. Training backend: ${backends}.</p>
<div class="xr-scroll"><table class="xr-table"><thead><tr><th>setting</th><th>value</th><th>chapters</th></tr></thead>
<tbody>${rows}</tbody></table></div>
<p>Each chapter's own values are also shown at its top ("Settings used"); all of this is saved in
the report folder's <code>settings.json</code>.</p></details>`;
}
