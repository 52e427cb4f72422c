/**
 * The notebooks' code cells type-check against lib/ (Deno cannot check .ipynb files itself): each
 * notebook's cells are joined into one module whose `../lib/` imports point at the project, and
 * `deno check` runs on all of them. Also checks the notebooks' structure: a title cell, a Deno
 * kernelspec, the first code cell calling setupChapter().
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { cellSource, listNotebooks, readNotebook } from "../../lib/report/runner.ts";
import { PROJECT_ROOT } from "../../lib/report/settings.ts";

const notebooks = await listNotebooks(join(PROJECT_ROOT, "notebooks"));

Deno.test("every notebook has a title, the Deno kernel and setupChapter() in its first code cell", async () => {
  for (const path of notebooks) {
    const nb = await readNotebook(path);
    const name = path.split("/").pop();
    assert.equal(nb.cells[0].cell_type, "markdown", `${name}: first cell is the chapter text`);
    assert.match(cellSource(nb.cells[0]), /^# /, `${name}: starts with a title`);
    assert.equal(
      (nb.metadata.kernelspec as { name?: string })?.name,
      "deno",
      `${name}: Deno kernel`,
    );
    const first = nb.cells.find((c) => c.cell_type === "code");
    assert.ok(
      first && /setupChapter\(/.test(cellSource(first)),
      `${name}: first code cell calls setupChapter()`,
    );
    for (const c of nb.cells) {
      if (c.cell_type === "code") {
        assert.deepEqual(c.outputs ?? [], [], `${name}: committed without outputs`);
      }
    }
  }
});

Deno.test("the notebooks' code type-checks against lib/", async () => {
  const dir = await Deno.makeTempDir({ prefix: "nbcheck_" });
  try {
    const files: string[] = [];
    for (const path of notebooks) {
      const nb = await readNotebook(path);
      const lib = new URL("lib/", `file://${PROJECT_ROOT}/`).href;
      const code = nb.cells.filter((c) => c.cell_type === "code").map(cellSource).join("\n\n")
        .replaceAll('"../lib/', `"${lib}`);
      const file = join(dir, path.split("/").pop()!.replace(/\.ipynb$/, ".ts"));
      await Deno.writeTextFile(file, code + "\nexport {};\n");
      files.push(file);
    }
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["check", "--config", join(PROJECT_ROOT, "deno.json"), ...files],
      cwd: PROJECT_ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    // deno-lint-ignore no-control-regex
    const err = new TextDecoder().decode(out.stderr).replace(/\x1b\[[0-9;]*m/g, "");
    assert.ok(out.success, `deno check failed:\n${err.slice(0, 3000)}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
