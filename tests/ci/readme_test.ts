/**
 * README.md's claims that code can check, kept true: its length (the front door stays short),
 * every `deno task NAME` in the documents exists in deno.json, every `--flag` of a task's row in
 * README's task table is declared by that task's command line (its `CliSpec`, the same
 * declarations `--help` prints), the reference model's member count matches
 * outputs/reference/ensemble.json, and every relative link of the documents resolves (a file that
 * exists; for a `#anchor`, a heading of that Markdown file).
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import type { CliSpec } from "../../lib/cli/_args.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const read = (path: string) => readFileSync(join(ROOT, path), "utf8");

/** README.md, the docs/ folder and the READMEs beside the code that docs/README.md lists. */
const DOCUMENTS = [
  "README.md",
  ...readdirSync(join(ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`),
  "notebooks/README.md",
  "bench/README.md",
  "lib/backend/README.md",
  "data/README.md",
  "outputs/reference/README.md",
];

/**
 * README.md's limit in lines: a front door a newcomer reads in five minutes (what it is, the
 * commands, tasks, layout, links).
 */
export const README_MAX_LINES = 250;

const TASKS: Record<string, string> = JSON.parse(read("deno.json")).tasks;

/** The `CliSpec` a module exports under the task's name, if it has one. */
async function specOf(task: string): Promise<CliSpec | undefined> {
  if (!TASKS[task].startsWith("deno run ")) return undefined; // test, build-page: not our CLIs
  const script = TASKS[task].split(/\s+/).find((w) => /\.ts$/.test(w));
  if (!script) return undefined;
  const mod: Record<string, unknown> = await import(join(ROOT, script));
  return Object.values(mod).find((v): v is CliSpec =>
    typeof v === "object" && v !== null && (v as CliSpec).name === task &&
    typeof (v as CliSpec).flags === "object" && Array.isArray((v as CliSpec).synopsis)
  );
}

/** GitHub's id of a Markdown heading. */
function slug(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, "").replace(/ /g, "-");
}

function anchorsOf(path: string): Set<string> {
  const text = read(path).replace(/```[\s\S]*?```/g, "");
  return new Set([...text.matchAll(/^#{1,6} +(.+)$/gm)].map((m) => slug(m[1])));
}

/** Every `[text](target)` of a Markdown file, code blocks and inline code left out. */
function linksOf(text: string): string[] {
  const prose = text.replace(/```[\s\S]*?```/g, "").replace(/`[^`\n]*`/g, "");
  return [...prose.matchAll(/\[[^\]]*\]\(([^)\s]+)\)/g)].map((m) => m[1]);
}

/** The rows of README's task table (its "## Tasks" section), one per task. */
function taskTableRows(): string[] {
  const text = read("README.md");
  const start = text.indexOf("\n## Tasks");
  assert.ok(start >= 0, "README.md has no Tasks section");
  const end = text.indexOf("\n## ", start + 1);
  return text.slice(start, end < 0 ? undefined : end).split("\n")
    .filter((l) => /^\| `deno task [a-z]/.test(l));
}

const NUMBER_WORDS: Record<string, number> = { two: 2, three: 3, four: 4, five: 5, six: 6 };

Deno.test("README.md stays a front door: at most 250 lines", () => {
  const lines = read("README.md").split("\n").length - 1;
  assert.ok(
    lines <= README_MAX_LINES,
    `README.md has ${lines} lines (at most ${README_MAX_LINES}): move studies and measurements to docs/`,
  );
});

Deno.test("every `deno task NAME` in the documents is a task of deno.json", () => {
  const missing: string[] = [];
  for (const doc of DOCUMENTS) {
    for (const m of read(doc).matchAll(/deno task ([a-z][a-z0-9-]*)/g)) {
      if (!(m[1] in TASKS)) missing.push(`${doc}: deno task ${m[1]}`);
    }
  }
  assert.deepEqual(missing, [], `tasks not in deno.json:\n${missing.join("\n")}`);
});

Deno.test("README's task table has one row per task of deno.json", () => {
  const rows = taskTableRows();
  const listed = rows.map((r) => r.match(/^\| `deno task ([a-z][a-z0-9-]*)/)![1]);
  assert.deepEqual([...listed].sort(), Object.keys(TASKS).sort());
});

Deno.test("every --flag of README's task table is declared by its task", async () => {
  const rows = taskTableRows();
  assert.ok(rows.length >= 10, `README's task table has ${rows.length} rows`);
  const wrong: string[] = [];
  for (const row of rows) {
    const task = row.match(/^\| `deno task ([a-z][a-z0-9-]*)/)![1];
    assert.ok(task in TASKS, `README's task table lists "${task}", not a task of deno.json`);
    const flags = [
      ...new Set([...row.matchAll(/(?<![\w-])--([a-z][a-z0-9-]*)/g)].map((m) => m[1])),
    ];
    if (flags.length === 0) continue;
    const spec = await specOf(task);
    assert.ok(spec, `README lists flags for "${task}", whose script declares no CliSpec`);
    for (const f of flags) {
      if (!(f in spec.flags) && f !== "help") wrong.push(`${task} --${f}`);
    }
  }
  assert.deepEqual(
    wrong,
    [],
    `flags in README's task table that the task does not declare:\n${wrong.join("\n")}`,
  );
});

Deno.test("every `deno task NAME --flag` command in the documents uses flags NAME declares", async () => {
  const wrong: string[] = [];
  for (const doc of DOCUMENTS) {
    // A command runs to the end of its code span, table cell, line or comment; `\` continues it.
    const text = read(doc).replace(/\\\n\s*/g, " ");
    for (const m of text.matchAll(/deno task ([a-z][a-z0-9-]*)([^`\n|#;)]*)/g)) {
      const flags = [...m[2].matchAll(/(?<![\w-])--([a-z][a-z0-9-]*)/g)].map((f) => f[1]);
      if (flags.length === 0 || !(m[1] in TASKS) || m[1] === "test") continue;
      const spec = await specOf(m[1]);
      if (!spec) {
        wrong.push(`${doc}: ${m[0].trim()} (the task declares no flags)`);
        continue;
      }
      for (const f of flags) {
        if (!(f in spec.flags) && f !== "help") wrong.push(`${doc}: ${m[1]} --${f}`);
      }
    }
  }
  assert.deepEqual(wrong, [], `flags the task does not declare:\n${wrong.join("\n")}`);
});

Deno.test("the reference model's member count in the documents matches ensemble.json", () => {
  const members = JSON.parse(read("outputs/reference/ensemble.json")).members.length;
  for (const doc of ["README.md", "outputs/reference/README.md"]) {
    const text = read(doc).replace(/\s+/g, " ");
    const claims = [
      ...text.matchAll(/\bensemble (?:folder )?(?:\([^)]*\) )?of (\w+)\b/g),
    ].map((m) => m[1]).filter((w) => w in NUMBER_WORDS || /^\d+$/.test(w));
    assert.ok(claims.length > 0, `${doc} no longer says how many models the reference averages`);
    for (const c of claims) {
      assert.equal(
        NUMBER_WORDS[c] ?? Number(c),
        members,
        `${doc} says the reference is an ensemble of ${c}; ensemble.json has ${members} members`,
      );
    }
  }
});

Deno.test("every relative link of the documents resolves", () => {
  const broken: string[] = [];
  for (const doc of DOCUMENTS) {
    for (const link of linksOf(read(doc))) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue; // http:, https:, mailto:
      const [path, anchor] = link.split("#", 2);
      const target = path === "" ? doc : relative(ROOT, join(ROOT, dirname(doc), path));
      if (!existsSync(join(ROOT, target))) {
        broken.push(`${doc}: ${link} (no file ${target})`);
      } else if (anchor !== undefined && target.endsWith(".md") && !anchorsOf(target).has(anchor)) {
        broken.push(`${doc}: ${link} (no heading #${anchor} in ${target})`);
      }
    }
  }
  assert.deepEqual(broken, [], `broken links:\n${broken.join("\n")}`);
});

Deno.test("README's permissions paragraph matches deno.json", () => {
  const text = read("README.md").replace(/\r/g, "");
  const start = text.indexOf("Permissions are declared per task in `deno.json`");
  assert.ok(start >= 0, "README.md has no permissions paragraph");
  const para = text.slice(start, text.indexOf("\n\n", start)).replace(/\s+/g, " ");
  const sentences = para.split(/\. (?=[`A-Z])/);
  const tasksIn = (s: string) => [...s.matchAll(/`([a-z][a-z0-9-]*)`/g)].map((m) => m[1]);
  const flagsOf = (task: string) =>
    TASKS[task].split(/\s+/).filter((w) => w.startsWith("--allow-"));
  const wrong: string[] = [];
  for (const s of sentences) {
    for (const task of tasksIn(s).filter((t) => t in TASKS)) {
      const flags = flagsOf(task);
      if (/write only under `outputs\/`/.test(s) && !flags.includes("--allow-write=outputs")) {
        wrong.push(`README: ${task} writes only under outputs/; deno.json: ${flags.join(" ")}`);
      }
      if (
        /run only the project's Deno/.test(s) &&
        !flags.includes("--allow-run=node_modules/deno/deno")
      ) {
        wrong.push(`README: ${task} runs only the project's Deno; deno.json: ${flags.join(" ")}`);
      }
    }
  }
  // Every unrestricted permission is named as such.
  for (const [task, command] of Object.entries(TASKS)) {
    const named = sentences.filter((s) => tasksIn(s).includes(task)).join(" ");
    const flags = command.split(/\s+/);
    if (flags.includes("--allow-write") && !/write anywhere|write[^.]* anything/.test(named)) {
      wrong.push(`deno.json: ${task} may write anywhere; README does not say so`);
    }
    if (flags.includes("--allow-run") && !/any program|run anything/.test(named)) {
      wrong.push(`deno.json: ${task} may run any program; README does not say so`);
    }
  }
  assert.deepEqual(wrong, [], wrong.join("\n"));
});
