/**
 * The notebooks' code cells type-check against lib/ (Deno cannot check .ipynb files itself): each
 * notebook's cells are joined into one module whose `../lib/` imports point at the project, and
 * `deno check` runs on all of them; `deno lint` runs on the same modules. Also checks the
 * notebooks' structure: a title cell, a Deno kernelspec, a parameters cell (papermill's tag) whose
 * values are the quick profile's, then a cell calling setupChapter(params), and short cells.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { cellSource, listNotebooks, type Notebook, readNotebook } from "../../lib/report/runner.ts";
import { type Params, PROFILES, PROJECT_ROOT } from "../../lib/report/settings.ts";
import {
  chapterSettings,
  notebookParameterNames,
  parametersCellIndex,
  profileParams,
} from "../../lib/report/params.ts";

const notebooks = await listNotebooks(join(PROJECT_ROOT, "notebooks"));

/** Most non-comment lines a code cell may have. */
const MAX_CELL_LINES = 15;

/** Each notebook's code cells joined into one module, `../lib/` pointing at the project. */
async function writeModules(dir: string): Promise<string[]> {
  const files: string[] = [];
  const lib = new URL("lib/", `file://${PROJECT_ROOT}/`).href;
  for (const path of notebooks) {
    const nb = await readNotebook(path);
    const code = nb.cells.filter((c) => c.cell_type === "code").map(cellSource).join("\n\n")
      .replaceAll('"../lib/', `"${lib}`);
    const file = join(dir, path.split("/").pop()!.replace(/\.ipynb$/, ".ts"));
    await Deno.writeTextFile(file, code + "\nexport {};\n");
    files.push(file);
  }
  return files;
}

/** Runs deno with `args` in the project; returns success and the de-coloured output. */
async function deno(args: string[]): Promise<{ ok: boolean; text: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: PROJECT_ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = (b: Uint8Array) => new TextDecoder().decode(b);
  // deno-lint-ignore no-control-regex
  const text = (dec(out.stderr) + dec(out.stdout)).replace(/\x1b\[[0-9;]*m/g, "");
  return { ok: out.success, text };
}

/** The values of a notebook's parameters cell (plain JavaScript: `const params = {...};`). */
function parameterValues(nb: Notebook, file: string): Params {
  const src = cellSource(nb.cells[parametersCellIndex(nb, file)]);
  return new Function(`${src}\nreturn params;`)() as Params;
}

Deno.test("every notebook has a title, the Deno kernel, a parameters cell, then setupChapter(params)", async () => {
  for (const path of notebooks) {
    const nb = await readNotebook(path);
    const name = path.split("/").pop()!;
    assert.equal(nb.cells[0].cell_type, "markdown", `${name}: first cell is the chapter text`);
    assert.match(cellSource(nb.cells[0]), /^# /, `${name}: starts with a title`);
    assert.equal(
      (nb.metadata.kernelspec as { name?: string })?.name,
      "deno",
      `${name}: Deno kernel`,
    );
    const code = nb.cells.filter((c) => c.cell_type === "code");
    assert.equal(nb.cells.indexOf(code[0]), parametersCellIndex(nb, name), `${name}: parameters`);
    assert.match(cellSource(code[1]), /setupChapter\(params\b/, `${name}: setupChapter(params)`);
    for (const c of nb.cells) {
      if (c.cell_type === "code") {
        assert.deepEqual(c.outputs ?? [], [], `${name}: committed without outputs`);
      }
    }
  }
});

Deno.test("the notebooks' code type-checks against lib/ and passes deno lint", async () => {
  const dir = await Deno.makeTempDir({ prefix: "nbcheck_" });
  try {
    const files = await writeModules(dir);
    const check = await deno(["check", "--config", join(PROJECT_ROOT, "deno.json"), ...files]);
    assert.ok(check.ok, `deno check failed:\n${check.text.slice(0, 3000)}`);
    const lint = await deno(["lint", "--config", join(PROJECT_ROOT, "deno.json"), ...files]);
    assert.ok(lint.ok, `deno lint failed on the notebooks' code:\n${lint.text.slice(0, 3000)}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test(`every code cell has at most ${MAX_CELL_LINES} lines that are not comments`, async () => {
  for (const path of notebooks) {
    const nb = await readNotebook(path);
    nb.cells.forEach((c, i) => {
      if (c.cell_type !== "code") return;
      const lines = cellSource(c).split("\n").filter((l) => l.trim() && !/^\s*\/\//.test(l));
      assert.ok(
        lines.length <= MAX_CELL_LINES,
        `${path.split("/").pop()} cell ${i + 1}: ${lines.length} lines (at most ${MAX_CELL_LINES})`,
      );
    });
  }
});

Deno.test("parameters cells: known names, the quick profile's values, valid settings", async () => {
  for (const path of notebooks) {
    const file = path.split("/").pop()!;
    const nb = await readNotebook(path);
    const names = notebookParameterNames(nb, file);
    const values = parameterValues(nb, file);
    assert.deepEqual(Object.keys(values), names, `${file}: names read = names declared`);
    const quick = profileParams(PROFILES.quick, file.slice(0, 2));
    for (const [k, v] of Object.entries(values)) {
      if (k in quick) assert.deepEqual(v, quick[k], `${file}: ${k} is the quick profile's value`);
    }
    assert.equal(values.data, "data/chest_xray", `${file}: data`);
    assert.equal(values.seed, 42, `${file}: seed`);
    chapterSettings(values); // throws naming a wrong value
  }
});
