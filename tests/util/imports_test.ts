/**
 * The import graph of `lib/`: no module imports itself through others (no cycle), no folder of
 * lib/ imports another that imports it back, and nothing in lib/ imports the benchmarks (`bench/`)
 * or the tests. Static `import`/`export ... from` and literal dynamic `import("...")` count, and so
 * do type-only imports (`import type`): a type shared by two modules belongs to one of them, or to
 * a third that both import. What a worker loads at run time is the graph without them.
 */
import assert from "node:assert/strict";
import { dirname, join, normalize, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = normalize(join(dirname(fileURLToPath(import.meta.url)), "../.."));

async function tsFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const p = join(dir, e.name);
    if (e.isDirectory) out.push(...await tsFiles(p));
    else if (e.name.endsWith(".ts")) out.push(p);
  }
  return out;
}

// Group 1 marks `import type` / `export type`, which is erased at run time.
const SPEC =
  /(?:^|[\s;])(?:import|export)\s(type\s)?[^"']*?from\s*["'](\.[^"']+)["']|import\(\s*["'](\.[^"']+)["']\s*\)/g;

/**
 * Repo-relative path -> the repo-relative paths it imports (relative specifiers only); with
 * `runtime`, only the imports that load a module at run time (no `import type`).
 */
export async function importGraph(
  dir = "lib",
  opts: { runtime?: boolean } = {},
): Promise<Map<string, string[]>> {
  const g = new Map<string, string[]>();
  for (const file of await tsFiles(join(ROOT, dir))) {
    // Comments hold usage examples that import the module itself: they are not imports.
    const src = (await Deno.readTextFile(file)).replace(/\/\*[\s\S]*?\*\//g, "")
      .replace(/^\s*\/\/.*$/gm, "");
    const deps: string[] = [];
    for (const m of src.matchAll(SPEC)) {
      if (opts.runtime && m[1]) continue;
      deps.push(relative(ROOT, normalize(join(dirname(file), m[2] ?? m[3]))));
    }
    g.set(relative(ROOT, file), deps);
  }
  return g;
}

/** Strongly connected components with more than one node (or a self-loop): the cycles. */
function cycles(g: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>(), low = new Map<string, number>();
  const stack: string[] = [], on = new Set<string>(), out: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index), low.set(v, index++), stack.push(v), on.add(v);
    for (const w of g.get(v) ?? []) {
      if (!idx.has(w)) visit(w), low.set(v, Math.min(low.get(v)!, low.get(w)!));
      else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string;
      do (w = stack.pop()!, on.delete(w), comp.push(w)); while (w !== v);
      if (comp.length > 1 || (g.get(v) ?? []).includes(v)) out.push(comp.sort());
    }
  };
  for (const v of g.keys()) if (!idx.has(v)) visit(v);
  return out;
}

/** lib/a/b.ts -> lib/a; lib/x.ts -> lib. */
const folderOf = (p: string) => {
  const parts = p.split("/");
  return parts.length > 2 ? parts.slice(0, 2).join("/") : parts[0];
};

Deno.test("imports: no module of lib/ imports itself through a cycle", async () => {
  const found = cycles(await importGraph());
  assert.deepEqual(found, [], `import cycles:\n${found.map((c) => c.join(" -> ")).join("\n")}`);
});

Deno.test("imports: no two folders of lib/ import each other", async () => {
  const g = await importGraph();
  const fg = new Map<string, string[]>();
  for (const [f, deps] of g) {
    const a = folderOf(f);
    const set = new Set(fg.get(a) ?? []);
    for (const d of deps) if (folderOf(d) !== a) set.add(folderOf(d));
    fg.set(a, [...set]);
  }
  const found = cycles(fg);
  const detail = found.map((c) =>
    c.join(" <-> ") + ": " +
    [...g].filter(([f, ds]) =>
      c.includes(folderOf(f)) &&
      ds.some((d) => c.includes(folderOf(d)) && folderOf(d) !== folderOf(f))
    ).map(([f, ds]) =>
      `${f} -> ${
        ds.filter((d) => c.includes(folderOf(d)) && folderOf(d) !== folderOf(f)).join(", ")
      }`
    ).join("; ")
  );
  assert.deepEqual(found, [], `folder cycles:\n${detail.join("\n")}`);
});

Deno.test("imports: lib/ never imports bench/ or tests/", async () => {
  const bad = [...await importGraph()].flatMap(([f, deps]) =>
    deps.filter((d) => d.startsWith("bench/") || d.startsWith("tests/")).map((d) => `${f} -> ${d}`)
  );
  assert.deepEqual(bad, []);
});

Deno.test("imports: the training workers load no native addon (sharp, nodejs-polars)", async () => {
  // sharp warns that a worker thread loading it can crash the process at exit on glibc Linux; a
  // passing test run once ended in "double free or corruption" that way. lib/train/batch.ts keeps
  // the training step apart from the image loading.
  const g = await importGraph("lib", { runtime: true });
  const start = "lib/train/parallel/_worker.ts";
  const seen = new Set([start]), queue = [start];
  while (queue.length) {
    for (const d of g.get(queue.shift()!) ?? []) if (!seen.has(d)) seen.add(d), queue.push(d);
  }
  const NATIVE = /(?:^|[\s;])import\s(?!type\s)[^"']*?from\s*["'](sharp|nodejs-polars)["']/m;
  const loading = [];
  for (const f of seen) {
    const m = NATIVE.exec(await Deno.readTextFile(join(ROOT, f)));
    if (m) loading.push(`${f} (${m[1]})`);
  }
  assert.deepEqual(loading, [], "modules the worker imports that load a native addon");
});
