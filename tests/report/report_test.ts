/**
 * End to end: `runReport` on a tiny synthetic dataset with the `ci` profile and a small
 * transfer base made here, then checks that the HTML has every chapter, chart and table.
 * Takes about a minute on 2 cores (48 s measured, notebooks 1-16). Runs when `jupyter` and the
 * Deno kernel are installed (.ci/setup installs both); REPORT_TEST=0 skips it.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import * as tfl from "@tensorflow/tfjs-layers";
import { initBackend } from "../../lib/backend/select.ts";
import { saveModel } from "../../lib/models/io.ts";
import { runReport } from "../../lib/report/report.ts";
import { listNotebooks } from "../../lib/report/runner.ts";
import { PROFILES, PROJECT_ROOT } from "../../lib/report/settings.ts";
import { hasDenoKernel } from "./_kernel.ts";

/** Charts (by data-chart kind) and tables each chapter must show at least. */
const EXPECTED: Record<
  string,
  { charts: Record<string, number>; tables: number; text?: RegExp[] }
> = {
  "01": { charts: { bar: 2, histogram: 1, images: 1 }, tables: 2 },
  "02": { charts: { line: 10, confusion: 2 }, tables: 2 },
  "03": { charts: { line: 5, confusion: 1 }, tables: 1 },
  "04": { charts: { line: 5, confusion: 1 }, tables: 1 },
  "05": { charts: { line: 5, confusion: 1 }, tables: 1, text: [/Trained <code>transfer<\/code>/] },
  "06": { charts: { line: 5, confusion: 1, bar: 2 }, tables: 2, text: [/Final model: <code>/] },
  "07": {
    charts: { bar: 1, confusion: 1, images: 1 },
    tables: 1,
    text: [/evaluated on the data folder/],
  },
  "08": { charts: { images: 3 }, tables: 1, text: [/Activations of/] },
  "09": { charts: { bar: 1 }, tables: 1, text: [/Best F1/] },
  "16": {
    charts: { histogram: 3, images: 1 },
    tables: 5,
    text: [/second site/, /Strict protocol/, /--adapt bn\+prior/],
  },
  "17": { charts: {}, tables: 0, text: [/Findings/, /Recommendations/, /generated from this run/] },
};

Deno.test({
  name:
    "deno task report --profile ci on synthetic data: every chapter, chart and table in one HTML",
  ignore: Deno.env.get("REPORT_TEST") === "0" || !(await hasDenoKernel()),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "report_test_" });
    try {
      // A tiny frozen "pretrained" base at the ci size, so the transfer chapter runs too.
      await initBackend({ prefer: "cpu" });
      const size = PROFILES.ci.size;
      const base = tfl.sequential({ name: "tiny_base" });
      base.add(
        tfl.layers.conv2d({
          filters: 4,
          kernelSize: 3,
          strides: 2,
          activation: "relu",
          inputShape: [size, size, 3],
        }),
      );
      base.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
      await saveModel(base, join(tmp, "base"));
      base.dispose();

      const r = await runReport({
        profile: "ci",
        synthetic: true,
        data: join(tmp, "data"),
        out: join(tmp, "report"),
        transferBase: join(tmp, "base"),
        log: () => {},
      });
      assert.equal(r.failure, null, r.failure?.message);
      const notebooks = await listNotebooks(join(PROJECT_ROOT, "notebooks"));
      assert.equal(r.executed.length, notebooks.length);
      assert.equal(r.html, join(tmp, "report.html"));
      const html = await Deno.readTextFile(r.html);
      assert.ok(!/<script|<link /.test(html) && !/src="https?:/.test(html), "self-contained");
      assert.ok(html.includes("doi.org/10.17632/rscbjbr9sj.2") && html.includes("CC BY 4.0"));
      const sections = html.split('<section class="chapter"').slice(1);
      assert.equal(sections.length, notebooks.length);
      for (const nb of notebooks) {
        const file = nb.split("/").pop()!;
        const id = file.slice(0, 2);
        const sec = sections.find((s) => s.includes(`data-notebook="${file}"`));
        assert.ok(sec, `chapter ${file} is in the report`);
        assert.match(sec, /<h1 /, `${file} has a title`);
        assert.ok(html.includes(`href="#ch${id}-`), `${file} is in the table of contents`);
        const exp = EXPECTED[id];
        if (!exp) continue; // chapters 10-15 are checked by tests/chapters/
        for (const [kind, n] of Object.entries(exp.charts)) {
          const got = (sec.match(new RegExp(`data-chart="${kind}"`, "g")) ?? []).length;
          assert.ok(got >= n, `${file}: ${got} ${kind} chart(s), expected at least ${n}`);
        }
        const tables = (sec.match(/class="xr-table"/g) ?? []).length;
        assert.ok(
          tables >= exp.tables,
          `${file}: ${tables} table(s), expected at least ${exp.tables}`,
        );
        for (const re of exp.text ?? []) assert.match(sec, re, `${file} says ${re}`);
      }
      for (const f of ["choice.json", "test.json", "balance.json", "test_predictions.csv"]) {
        await Deno.stat(join(tmp, "report", "results", f));
      }
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
