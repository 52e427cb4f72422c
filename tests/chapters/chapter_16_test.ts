/**
 * Chapter 16 (a second site) called directly on a tiny synthetic dataset and a shifted synthetic
 * site with the `ci` profile; without a site, and with the Kaggle layout's official test split.
 * The notebook itself runs in the report test (tests/report/report_test.ts).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { initBackend } from "../../lib/backend/select.ts";
import { writeSyntheticDataset } from "../../lib/data/synthetic.ts";
import { reportSettings } from "../../lib/report/settings.ts";
import * as ss from "../../lib/chapters/16_second_site.ts";
import { projectPath } from "../../lib/util/project.ts";

const count = (html: string, kind: string) =>
  (html.match(new RegExp(`data-chart="${kind}"`, "g")) ?? []).length;
const tables = (html: string) => (html.match(/class="xr-table"/g) ?? []).length;

Deno.test({
  name: "chapter 16: side by side, image differences, adaptation, calibration curve, recipes",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "site_chapter_" });
    try {
      await initBackend();
      const data = join(tmp, "data"), site = join(tmp, "site");
      await writeSyntheticDataset(data, { perClass: 20, size: 64, seed: 5 });
      await writeSyntheticDataset(site, {
        perClass: { NORMAL: 14, PNEUMONIA: 26 },
        size: 64,
        seed: 6,
        splits: ["test"],
        shift: { gamma: 0.8, gain: 0.85, offset: 30, border: 0.06 },
      });
      const env = (extra: [string, string][]) =>
        reportSettings(
          new Map([
            ["XRAY_REPORT_PROFILE", "ci"],
            ["XRAY_REPORT_DATA", data],
            ["XRAY_REPORT_OUT", join(tmp, "report")],
            ...extra,
          ]),
        );
      const s = env([["XRAY_REPORT_SITE", site]]);
      const { chapter: c, note } = await ss.siteChapter(s);
      assert.ok(c);
      assert.match(note, /second site in `.*site`/);
      assert.equal(c.site.y.length, 40);
      assert.match(c.homeName, /test part/);
      assert.equal(tables(ss.sideBySideTable(c)), 1);
      assert.equal(count(ss.scoreHistograms(c).join(""), "histogram"), 2);
      const diff = (await ss.imageDifferences(s, c)).join("");
      assert.equal(tables(diff), 1);
      assert.equal(count(diff, "histogram"), 1);
      assert.equal(count(diff, "images"), 1);
      const a = await ss.adaptationRows(s, c, "report run", c.ctx.run.dir);
      assert.equal(a.rows.length, 6, a.rows.map((r) => r.protocol).join("\n"));
      assert.match(a.rows[5].protocol, /half the site/);
      assert.equal(tables(ss.adaptationTable(a.rows)), 1);
      assert.match(ss.adaptationTable(a.rows, 42), /seed 42; `deno task evaluate` uses seed 0/);
      assert.match(a.calibrated.thresholdFrom ?? "", /calibrated on the labels/);
      assert.equal(tables(ss.calibrationCurveTable(c, 1)), 1);
      assert.equal(tables(ss.recipeTableHtml(null)), 1);
      assert.match(
        ss.siteSummary(c, a.strict, a.calibrated),
        /Strict protocol .*: (met|\*\*not met)/,
      );
      assert.match(
        ss.siteSummary(c, a.strict, a.calibrated, {
          ...a,
          name: "shipped reference (x, the mean of y, z)",
        }),
        /The shipped reference \(x, the mean of y, z\): strict (met|\*\*not met)/,
      );
      assert.match(
        ss.siteSummary(c, a.strict, a.calibrated, { strict: a.strict, calibrated: a.calibrated }),
        /The shipped reference \(outputs\/reference\): strict/,
      );
      // What the conclusions read: the report's run, and the shipped model when it was scored.
      const saved = await ss.saveSecondSite(s, c, a.calibrated, a);
      assert.equal(saved.run, c.ctx.record.name);
      assert.equal(saved.shipped?.strict.auc, a.strict.auc);
      assert.equal(saved.shipped?.calibrated.threshold, a.calibrated.threshold);
      // The committed selection (outputs/reference/selection.json) rides along for chapter 17.
      assert.equal(saved.selection?.candidates, 7);
      assert.equal(saved.selection?.replacedIncumbent, false);
      assert.equal((await ss.saveSecondSite(s, c, a.calibrated)).shipped, undefined);

      // No site setting, and the Kaggle layout: the official test split is the second site.
      const official = await ss.siteChapter(env([["XRAY_REPORT_SITE", "none"]]));
      assert.match(official.note, /official test split/);
      assert.match(official.chapter!.homeName, /validation/);
      // Neither: skipped, with the reason.
      const flat = join(tmp, "flat");
      await writeSyntheticDataset(flat, { perClass: 4, size: 32, seed: 2, layout: "flat" });
      const none = ss.siteSource({ ...s, site: null, data: flat }, false);
      assert.ok("skip" in none && /skipped/.test(none.skip));
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});

Deno.test("the shipped reference (an ensemble folder, no model/ of its own) is found", async () => {
  const dir = await ss.referenceRun();
  assert.equal(dir, projectPath("outputs/reference"));
  assert.equal(
    await ss.referenceLabel(dir!),
    "shipped reference (outputs/reference, the mean of f-strong, f-strong-clahe, f-strong-std)",
  );
});
