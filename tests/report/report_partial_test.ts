/**
 * A failing notebook stops `runReport`: the failure names the notebook and cell, the notebooks
 * before it are kept, and the HTML page is written, marked incomplete.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { runReport } from "../../lib/report/report.ts";
import { hasDenoKernel } from "./_kernel.ts";

const notebook = (title: string, code: string) =>
  JSON.stringify({
    cells: [
      { cell_type: "markdown", metadata: {}, source: `# ${title}` },
      { cell_type: "code", metadata: {}, execution_count: null, outputs: [], source: code },
    ],
    metadata: { kernelspec: { name: "deno", display_name: "Deno", language: "typescript" } },
    nbformat: 4,
    nbformat_minor: 4,
  });

Deno.test({
  name: "runReport stops at a failing notebook, keeps what ran and marks the page incomplete",
  ignore: !(await hasDenoKernel()),
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "report_partial_" });
    try {
      const nbs = join(tmp, "notebooks");
      await Deno.mkdir(nbs);
      await Deno.writeTextFile(
        join(nbs, "01_first.ipynb"),
        notebook("First chapter", "const x = 1;"),
      );
      await Deno.writeTextFile(
        join(nbs, "02_second.ipynb"),
        notebook("Second chapter", 'throw new Error("the data folder is empty");'),
      );
      await Deno.writeTextFile(
        join(nbs, "03_third.ipynb"),
        notebook("Third chapter", "const z = 3;"),
      );
      const r = await runReport({
        profile: "ci",
        data: join(tmp, "data"),
        out: join(tmp, "out"),
        notebooksDir: nbs,
        log: () => {},
      });
      assert.ok(r.failure);
      assert.equal(r.failure.cell, 2);
      assert.match(r.failure.message, /02_second.ipynb cell 2 .*the data folder is empty/);
      assert.deepEqual(r.executed.map((p) => p.split("/").pop()), ["01_first.ipynb"]);
      await Deno.stat(join(tmp, "out", "01_first.ipynb"));
      const html = await Deno.readTextFile(r.html);
      assert.match(html, /The report is incomplete/);
      assert.match(html, /First chapter/);
      assert.ok(!html.includes("Third chapter"));
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
