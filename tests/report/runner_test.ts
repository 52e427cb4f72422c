import assert from "node:assert/strict";
import { join } from "node:path";
import { hasDenoKernel } from "./_kernel.ts";
import {
  executeNotebook,
  listNotebooks,
  type Notebook,
  NotebookError,
  parseCellError,
  readNotebook,
} from "../../lib/report/runner.ts";

const nb = (sources: string[]): Notebook => ({
  cells: [
    { cell_type: "markdown", source: "# Title", metadata: {} },
    ...sources.map((s) => ({
      cell_type: "code" as const,
      source: s.split(/(?<=\n)/),
      outputs: [],
      metadata: {},
      execution_count: null,
    })),
  ],
  metadata: { kernelspec: { name: "deno", language: "typescript", display_name: "Deno" } },
  nbformat: 4,
  nbformat_minor: 4,
});

Deno.test("parseCellError finds the failing cell and the error in nbconvert's stderr", () => {
  const book = nb(["const a = 1;", 'console.log("x");\nthrow new Error("boom");']);
  const stderr = "[NbConvertApp] Executing\nTraceback (most recent call last):\n  ...\n" +
    "nbclient.exceptions.CellExecutionError: An error occurred while executing the following cell:\n" +
    "------------------\n" + 'console.log("x");\nthrow new Error("boom");\n' +
    "------------------\n\n" +
    "\x1b[31mError\x1b[0m: boom\n    at <anonymous>:2:7\nError: boom\n";
  const r = parseCellError(stderr, book);
  assert.equal(r.cell, 3);
  assert.match(r.detail, /^Error: boom/);
  const err = new NotebookError("/x/04_cnn.ipynb", r.cell, r.source, r.detail);
  assert.match(
    err.message,
    /^Notebook 04_cnn.ipynb cell 3 \(console.log\("x"\);\) failed: Error: boom/,
  );
});

Deno.test("parseCellError without a cell error reports the last lines (e.g. a timeout)", () => {
  const r = parseCellError("something\nTimeoutError: Cell execution timed out\n", null);
  assert.equal(r.cell, null);
  assert.match(r.detail, /timed out/);
});

Deno.test("listNotebooks keeps NN_*.ipynb files in order; readNotebook checks the format", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const f of ["10_b.ipynb", "02_a.ipynb", "notes.ipynb", "03_c.txt"]) {
      await Deno.writeTextFile(join(dir, f), JSON.stringify(nb([])));
    }
    assert.deepEqual((await listNotebooks(dir)).map((p) => p.split("/").pop()), [
      "02_a.ipynb",
      "10_b.ipynb",
    ]);
    await Deno.writeTextFile(join(dir, "bad.ipynb"), "{}");
    await assert.rejects(readNotebook(join(dir, "bad.ipynb")), /not an nbformat 4 notebook/);
    await assert.rejects(listNotebooks(join(dir, "none")));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "executeNotebook runs a notebook in the Deno kernel and names the failing cell",
  ignore: !(await hasDenoKernel()),
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const ok = join(dir, "01_ok.ipynb");
      await Deno.writeTextFile(
        ok,
        JSON.stringify(
          nb(["const x = 6 * 7;\nconsole.log(x);\nawait new Promise((r) => setTimeout(r, 30));"]),
        ),
      );
      const out = await executeNotebook(ok, { outDir: join(dir, "out"), cellTimeoutS: 60 });
      const executed = await readNotebook(out);
      assert.match(JSON.stringify(executed.cells[1].outputs), /42/);
      const bad = join(dir, "02_bad.ipynb");
      await Deno.writeTextFile(
        bad,
        JSON.stringify(nb(["const y = 1;", 'throw new Error("no data here");'])),
      );
      const err = await executeNotebook(bad, { outDir: join(dir, "out"), cellTimeoutS: 60 }).catch((
        e,
      ) => e);
      assert.ok(err instanceof NotebookError);
      assert.equal(err.cell, 3);
      assert.match(err.message, /02_bad.ipynb cell 3 .*no data here/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
