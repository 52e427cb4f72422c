/**
 * End to end: `runReport` on a tiny synthetic dataset with the `ci` profile and a small
 * transfer base made here, then checks that the HTML has every chapter, chart and table, and
 * opens the page in headless Chromium at 1400 px: no sideways scrolling, no overlapping text in
 * any SVG, every image loaded; full-page screenshots are kept in outputs/browser/ for people to
 * look at. Takes one to two minutes on 2 cores. Runs when `jupyter` and the Deno kernel are
 * installed (.ci/setup installs both); REPORT_TEST=0 skips it; the browser part is a step that
 * is ignored, with the reason printed, when Chromium is absent.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import * as tfl from "@tensorflow/tfjs-layers";
import { initBackend } from "../../lib/backend/select.ts";
import { saveModel } from "../../lib/models/io.ts";
import { runReport } from "../../lib/report/report.ts";
import { listNotebooks } from "../../lib/report/runner.ts";
import { PROFILES, PROJECT_ROOT } from "../../lib/report/settings.ts";
import {
  checkReportPageInSubprocess,
  findChromium,
  pageProblems,
} from "../../lib/report/browser_check.ts";
import { hasDenoKernel } from "./_kernel.ts";

/** Charts (by data-chart kind) and tables each chapter must show at least. */
const EXPECTED: Record<
  string,
  { charts: Record<string, number>; tables: number; text?: RegExp[] }
> = {
  "01": { charts: { bar: 2, histogram: 1, images: 1 }, tables: 2 },
  "02": { charts: { "training-curves": 2, architecture: 2, confusion: 2 }, tables: 2 },
  "03": {
    charts: { "training-curves": 1, architecture: 1, confusion: 1 },
    tables: 1,
    text: [
      /overfit|Undertrained/,
      /<strong>Training budget<\/strong> \(profile ci\): <code>cnn<\/code> at 48 px/,
    ],
  },
  "04": { charts: { "training-curves": 1, architecture: 1, confusion: 1 }, tables: 1 },
  "05": {
    charts: { "training-curves": 1, architecture: 1, confusion: 1 },
    tables: 1,
    text: [/Trained <code>transfer<\/code>/],
  },
  "06": {
    charts: { "training-curves": 1, confusion: 1, "dot-intervals": 1 },
    tables: 2,
    text: [/Final model: <code>/, /policy: highest threshold/],
  },
  "07": {
    charts: { bar: 1, confusion: 1, images: 1 },
    tables: 1,
    text: [/evaluated on the data folder/],
  },
  "08": { charts: { images: 3, architecture: 1 }, tables: 1, text: [/Activations of conv 1/] },
  "09": {
    charts: { "dot-intervals": 1 },
    tables: 2,
    text: [
      /Best F1/,
      /same number of training images/,
      /down - none, same images and steps/,
      /<strong>Training budget<\/strong> \(profile ci\): <code>compact<\/code> at 48 px/,
    ],
  },
  "10": { charts: { line: 3 }, tables: 2, text: [/operating point/] },
  "11": { charts: { line: 1 }, tables: 3, text: [/referred \/ 1,000/, /tuberculosis/] },
  "12": { charts: { images: 1, histogram: 1 }, tables: 1, text: [/uniform|even spread/] },
  "16": {
    charts: { histogram: 3, images: 1 },
    tables: 5,
    text: [/second site/, /Strict protocol/, /--adapt bn\+prior/],
  },
  "17": {
    charts: {},
    tables: 0,
    text: [
      /Findings/,
      /seed&#39;s four recommendations|seed's four recommendations/,
      /Published results/,
      /generated from this run/,
    ],
  },
};

/** Why the browser part cannot run here (no Chromium), or null when it can. */
const found = await findChromium();
const chromium = "reason" in found ? found.reason : null;
if (chromium) console.log(`report browser check ignored: ${chromium}`);

Deno.test({
  name:
    "deno task report --profile ci on synthetic data: every chapter, chart and table in one HTML",
  ignore: Deno.env.get("REPORT_TEST") === "0" || !(await hasDenoKernel()),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
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
      assert.ok(
        !/<script[^>]*\ssrc=|<link /.test(html) && !/src="https?:/.test(html),
        "self-contained",
      );
      assert.ok(html.includes("doi.org/10.17632/rscbjbr9sj.2") && html.includes("CC BY 4.0"));
      assert.ok(html.includes('id="reproduce"'), "the page has its reproducibility panel");
      // An undefined metric reads n/a everywhere: no NaN in the text, tables, captions or charts
      // (scripts, styles and embedded images set aside).
      const visible = html.replace(/<(script|style)\b[\s\S]*?<\/\1>/g, "")
        .replace(/data:[^"')\s]+/g, "");
      const nan = /.{0,80}\bNaN\b.{0,80}/.exec(visible);
      assert.equal(nan, null, `NaN in the report: ${nan?.[0]}`);
      assert.match(html, /class="xr-command">runReport\(/, "the panel names the command");
      const sections = html.split('<section class="chapter"').slice(1);
      assert.equal(sections.length, notebooks.length);
      for (const nb of notebooks) {
        const file = nb.split("/").pop()!;
        const id = file.slice(0, 2);
        const sec = sections.find((s) => s.includes(`data-notebook="${file}"`));
        assert.ok(sec, `chapter ${file} is in the report`);
        assert.match(sec, /<h1 /, `${file} has a title`);
        assert.match(
          sec,
          /class="xr-settings"[^>]*><strong>Settings used<\/strong> \(profile ci\)/,
        );
        assert.ok(html.includes(`href="#ch${id}-`), `${file} is in the table of contents`);
        const exp = EXPECTED[id];
        if (!exp) continue; // the other chapters are checked by their own tests
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
      for (
        const f of [
          "choice.json",
          "test.json",
          "balance.json",
          "test_predictions.csv",
          "honest_evaluation.json",
          "operating_points.json",
          "where_the_model_looks.json",
          "chest_region.json",
          "three_classes.json",
          "leakage_audit.json",
        ]
      ) {
        await Deno.stat(join(tmp, "report", "results", f));
      }
      await t.step({
        name: "the page in headless Chromium at 1400 px",
        ignore: chromium !== null,
        fn: async () => {
          const page = await checkReportPageInSubprocess(r.html, {
            width: 1400,
            screenshotDir: join(PROJECT_ROOT, "outputs", "browser"),
            name: "report-ci",
          });
          console.log(
            `browser check: ${page.svgs} SVGs, ${page.images} images, ${page.height} px tall; ` +
              `screenshots ${page.screenshots.join(", ")}`,
          );
          assert.ok(page.svgs > 20 && page.images > 5, "the page has its charts and images");
          assert.deepEqual(pageProblems(page), []);
        },
      });
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
