import assert from "node:assert/strict";
import { join } from "node:path";
import {
  chapterSettings,
  INJECTED_TAG,
  injectParameters,
  notebookOverrides,
  parameterNames,
  parametersCellIndex,
  parseSets,
  settingsBlock,
} from "../../lib/report/params.ts";
import { runReport } from "../../lib/report/report.ts";
import type { Notebook } from "../../lib/report/runner.ts";
import { PROFILES } from "../../lib/report/settings.ts";
import { hasDenoKernel } from "./_kernel.ts";

const PARAMS = `// settings
const params = {
  data: "data/x", out: "outputs/r", seed: 42, // a comment with "quotes": and colons:
  size: 64, fraction: 0.3,
  balance: "none", // none: down
};`;

const nb = (): Notebook => ({
  cells: [
    { cell_type: "markdown", source: "# T", metadata: {} },
    {
      cell_type: "code",
      source: PARAMS,
      metadata: { tags: ["parameters"] },
      outputs: [],
      execution_count: null,
    },
    { cell_type: "code", source: "const s = 1;", metadata: {}, outputs: [], execution_count: null },
  ],
  metadata: {},
  nbformat: 4,
  nbformat_minor: 5,
});

Deno.test("parameterNames reads every key of the params literal, not comments or strings", () => {
  assert.deepEqual(parameterNames(PARAMS), ["data", "out", "seed", "size", "fraction", "balance"]);
  assert.throws(() => parameterNames("let x = 1;"), /const params = \{/);
});

Deno.test("parseSets reads JSON values, bare strings and notebook-scoped names", () => {
  assert.deepEqual(parseSets(["balance=down", "fraction=0.5", "09.epochs=4", "base=null"]), [
    { name: "balance", notebook: null, value: "down" },
    { name: "fraction", notebook: null, value: 0.5 },
    { name: "epochs", notebook: "09", value: 4 },
    { name: "base", notebook: null, value: null },
  ]);
  assert.throws(() => parseSets(["sise=4"]), /unknown parameter "sise"/);
  assert.throws(() => parseSets(["balance"]), /expected name=value/);
});

Deno.test("notebookOverrides: profile, then report options, then --set; only declared names", () => {
  const names = ["data", "size", "fraction", "epochs", "balance"];
  const v = notebookOverrides(names, {
    profile: PROFILES.ci,
    notebookId: "09",
    report: { data: "/d", out: "/o" },
    sets: parseSets(["balance=down", "03.size=32", "09.epochs=7"]),
  });
  assert.deepEqual(v, {
    profile: "ci",
    size: 48,
    fraction: PROFILES.ci.budgets.balance.fraction,
    epochs: 7,
    balance: "down",
    data: "/d",
  });
});

Deno.test("injectParameters adds one tagged cell after the parameters cell, replacing an old one", () => {
  const once = injectParameters(nb(), { size: 48, balance: "down" });
  const twice = injectParameters(once, { size: 32 });
  for (const [n, size] of [[once, 48], [twice, 32]] as const) {
    assert.equal(n.cells.length, 4);
    assert.equal(parametersCellIndex(n), 1);
    assert.deepEqual(n.cells[2].metadata, { tags: [INJECTED_TAG] });
    const src = String(n.cells[2].source);
    assert.match(src, /^\/\/ Parameters injected/);
    const params: Record<string, unknown> = { size: 64 };
    new Function("params", src)(params);
    assert.equal(params.size, size);
  }
  assert.throws(() => injectParameters({ ...nb(), cells: [] }, {}), /exactly one code cell/);
});

Deno.test("chapterSettings: the quick profile's values by default, each override, errors named", () => {
  const s = chapterSettings({ size: 32, balance: "down", batch: 4, lr: 0.01, epochs: 3 });
  assert.equal(s.profile.name, "quick");
  assert.equal(s.profile.size, 32);
  assert.equal(s.profile.epochs, 3);
  assert.equal(s.profile.modelFraction, PROFILES.quick.modelFraction);
  assert.deepEqual(s.train, {
    balance: "down",
    optimizer: undefined,
    batchSize: 4,
    learningRate: 0.01,
  });
  assert.ok(s.data.endsWith("data/chest_xray") && s.runsDir.endsWith("outputs/report/runs"));
  assert.throws(() => chapterSettings({ balance: "sideways" }), /parameter balance .*none, down/);
  assert.throws(() => chapterSettings({ fraction: 2 }), /parameter fraction = 2/);
  assert.throws(() => chapterSettings({ sise: 3 }), /unknown parameter\(s\) sise/);
  const html = settingsBlock(chapterSettings({ profile: "ci", balance: "down", size: 48 }));
  assert.match(html, /Settings used<\/strong> \(profile ci\)/);
  assert.match(html, />balance: down<\/code>/);
});

Deno.test({
  name: "runReport --set: the executed notebook holds the injected values and the page states them",
  ignore: !(await hasDenoKernel()),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "report_set_" });
    try {
      const nbs = join(tmp, "notebooks");
      await Deno.mkdir(nbs);
      const n = nb();
      n.metadata = { kernelspec: { name: "deno", display_name: "Deno", language: "typescript" } };
      // The pause lets the kernel publish the line before the cell ends (lib/report/display.ts).
      n.cells[2].source = "console.log(`balance is ${params.balance}, size ${params.size}`);\n" +
        "await new Promise((r) => setTimeout(r, 200));";
      await Deno.writeTextFile(join(nbs, "01_first.ipynb"), JSON.stringify(n));
      const r = await runReport({
        profile: "ci",
        data: join(tmp, "data"),
        out: join(tmp, "out"),
        notebooksDir: nbs,
        sets: ["balance=down"],
        log: () => {},
      });
      assert.equal(r.failure, null, r.failure?.message);
      const html = await Deno.readTextFile(r.html);
      assert.match(html, /balance is down, size 48/);
      assert.match(html, /Settings changed with --set: balance: down/);
      const saved = JSON.parse(await Deno.readTextFile(join(tmp, "out", "settings.json")));
      assert.deepEqual(saved.sets, ["balance=down"]);
      assert.equal(saved.notebooks["01_first.ipynb"].balance, "down");
      await assert.rejects(
        runReport({
          profile: "ci",
          out: join(tmp, "o2"),
          notebooksDir: nbs,
          sets: ["lr=1"],
          log: () => {},
        }),
        /--set lr: no notebook run here has a parameter "lr"/,
      );
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
