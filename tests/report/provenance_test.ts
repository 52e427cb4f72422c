import assert from "node:assert/strict";
import { join } from "node:path";
import {
  collectProvenance,
  parameterDefaults,
  provenanceHtml,
  runBackends,
  settingsRows,
} from "../../lib/report/provenance.ts";
import { readNotebook } from "../../lib/report/runner.ts";
import { PROJECT_ROOT } from "../../lib/util/project.ts";

Deno.test("parameterDefaults reads a notebook's parameters cell without running it", async () => {
  const nb = await readNotebook(join(PROJECT_ROOT, "notebooks", "03_cnn.ipynb"));
  const p = parameterDefaults(nb);
  assert.equal(p.model, "cnn");
  assert.equal(p.data, "data/chest_xray");
  assert.equal(typeof p.epochs, "number");
  assert.equal(p.batch, null);
  assert.deepEqual(parameterDefaults({ cells: [] } as never), {});
});

Deno.test("settingsRows: one row per parameter and value, with the chapters that used it", () => {
  const rows = settingsRows({
    "02_baseline.ipynb": { epochs: 5, model: "dense_baseline" },
    "03_cnn.ipynb": { epochs: 5, model: "cnn" },
    "09_balancing.ipynb": { epochs: 3 },
  });
  const epochs = rows.filter((r) => r.name === "epochs");
  assert.deepEqual(epochs.map((r) => [r.value, r.chapters]), [["5", ["02", "03"]], ["3", ["09"]]]);
  assert.equal(rows.filter((r) => r.name === "model").length, 2);
});

Deno.test("collectProvenance names versions, commit and backends; the panel shows them", async () => {
  const runs = await Deno.makeTempDir({ prefix: "prov_runs_" });
  try {
    await Deno.mkdir(join(runs, "a"));
    await Deno.writeTextFile(join(runs, "a", "summary.json"), JSON.stringify({ backend: "wasm" }));
    await Deno.mkdir(join(runs, "b"));
    assert.deepEqual(await runBackends(runs), ["wasm"]);
    const p = await collectProvenance({
      command: "deno task report --profile ci --set 'balance=down'",
      runsDir: runs,
      settings: { "03_cnn.ipynb": { balance: "down" } },
    });
    assert.equal(p.versions.deno, Deno.version.deno);
    assert.match(p.versions["@tensorflow/tfjs-core"], /^\d+\.\d+\.\d+$/);
    assert.deepEqual(p.backends, ["wasm"]);
    const html = provenanceHtml(p);
    assert.match(
      html,
      /deno task report --profile ci --set &#39;balance=down&#39;|--set 'balance=down'/,
    );
    assert.match(html, /<code>balance<\/code><\/td><td><code>down<\/code>/);
    assert.match(html, p.commit === null ? /Commit: unknown/ : new RegExp(p.commit));
  } finally {
    await Deno.remove(runs, { recursive: true });
  }
});
