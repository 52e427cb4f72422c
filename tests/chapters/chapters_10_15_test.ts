/**
 * The evaluation chapters (notebooks 11-16) called directly on a tiny synthetic dataset with the
 * `ci` profile: each returns the charts and tables its notebook shows. The notebooks themselves
 * run in the report test (tests/report/report_test.ts).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { initBackend } from "../../lib/backend/select.ts";
import { writeSyntheticDataset } from "../../lib/data/synthetic.ts";
import { reportSettings } from "../../lib/report/settings.ts";
import { evalContext } from "../../lib/chapters/_eval_context.ts";
import * as h from "../../lib/chapters/10_honest_evaluation.ts";
import * as o from "../../lib/chapters/11_operating_points.ts";
import * as l from "../../lib/chapters/12_where_the_model_looks.ts";
import * as c from "../../lib/chapters/13_chest_region.ts";
import * as t from "../../lib/chapters/14_three_classes.ts";
import * as k from "../../lib/chapters/15_leakage_audit.ts";
import { readCalibration } from "../../lib/metrics/calibration.ts";

const count = (html: string, kind: string) =>
  (html.match(new RegExp(`data-chart="${kind}"`, "g")) ?? []).length;
const tables = (html: string) => (html.match(/class="xr-table"/g) ?? []).length;

Deno.test({
  name: "evaluation chapters produce their charts and tables on synthetic data",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "eval_chapters_" });
    try {
      await initBackend(); // wasm with the project's fast kernels: the cpu backend trains 30x slower
      await writeSyntheticDataset(join(tmp, "data"), { perClass: 20, size: 64, seed: 5 });
      const s = reportSettings(
        new Map([
          ["XRAY_REPORT_PROFILE", "ci"],
          ["XRAY_REPORT_DATA", join(tmp, "data")],
          ["XRAY_REPORT_OUT", join(tmp, "report")],
        ]),
      );
      const log = () => {};
      const ctx = await evalContext(s);
      assert.equal(ctx.officialTest, true);
      assert.ok(ctx.test.y.length >= 20);

      // 11: curves, intervals, calibration stored with the run
      const iv = h.intervals(ctx, 1);
      const cal = await h.calibrate(ctx);
      const html11 = [
        h.rocFigure(ctx),
        h.prFigure(ctx),
        h.intervalsTable(iv),
        h.calibrationTable(cal),
        h.reliabilityFigure(ctx.test.y, cal.testBefore, cal.testAfter, cal.fit.temperature),
      ].join("");
      assert.equal(count(html11, "line"), 3);
      assert.equal(tables(html11), 2);
      assert.equal((await readCalibration(ctx.run.dir))?.temperature, cal.fit.temperature);
      // The temperature is the one the training engine stored, not refitted here ...
      assert.equal((await readCalibration(ctx.run.dir))?.fittedOn, "val_predictions.csv");
      // ... and a run without one (trained before the engine stored it) gets it fitted on
      // validation: the same images, so the same temperature.
      await Deno.remove(join(ctx.run.dir, "calibration.json"));
      const refit = await h.calibrate(ctx);
      assert.equal(
        (await readCalibration(ctx.run.dir))?.fittedOn,
        "validation part of the manifest",
      );
      assert.ok(Math.abs(refit.fit.temperature - cal.fit.temperature) < 1e-3);
      assert.match(h.honestSummary(ctx, iv, cal), /Validation ROC-AUC .* against test/);

      // 12: policies, trade-off, site calibration (or its reason)
      const site = o.siteCalibration(ctx, 1, 80);
      const html12 = [o.policyTable(ctx), o.tradeoffFigure(ctx), o.tradeoffRows(ctx, 0.3)].join("");
      assert.equal(count(html12, "line"), 1);
      assert.equal(tables(html12), 3); // policies, per 1,000 at 5/10/20% and the data's, trade-off
      assert.match(html12, /referred \/ 1,000/);
      assert.match(html12, /WHO TB-triage targets/);
      // The first policy row is the stored threshold (chapter 7's), whatever the clean re-pick.
      assert.match(html12, /<td[^>]*>stored threshold<\/td>/);
      const op = JSON.parse(
        await Deno.readTextFile(join(s.out, "results", "operating_points.json")),
      );
      assert.equal(op.policies.policies[0].threshold, ctx.run.threshold);
      assert.equal(op.policies.run, ctx.record.name);
      assert.equal(op.policies.policies[1].policy, "sensitivity >= 0.95");
      assert.match(
        o.policyCaption(ctx, { policy: "sensitivity >= 0.95", threshold: ctx.run.threshold + 0.1 }),
        /first row is `[^`]+`'s stored threshold .* so its test figures differ/,
      );
      assert.match(
        o.policyCaption(ctx, { policy: "sensitivity >= 0.95", threshold: ctx.run.threshold }),
        /lands on the same threshold$/,
      );
      // Every chapter records the numbers behind its sentences for the conclusions.
      for (const f of ["honest_evaluation", "operating_points"]) {
        await Deno.stat(join(s.out, "results", `${f}.json`));
      }
      // The test part (both classes, whole patients) is enough for the site path to run: it must
      // give its table, not a "skipped" note.
      assert.ok(site.result, site.note);
      assert.equal(tables(o.siteTable(site.result)), 1);
      assert.match(site.note, /^Threshold \d\.\d{4} \(chosen on the original validation split\)/);
      const siteRecord = op.site;
      assert.equal(siteRecord.sample.n, site.result.sample.n);
      assert.ok(
        site.result.sample.positives > 0 && site.result.sample.positives < site.result.sample.n,
      );

      // 13: Grad-CAM grid and outside share
      const pre = ctx.run.preprocessing;
      const maps = await l.splitHeatmaps(ctx.run.model, pre, ctx.test);
      assert.equal(maps.length, ctx.test.y.length);
      const shares = l.outsideShares(maps, pre.size);
      const html13 = [
        await l.outcomeGrid(ctx, shares),
        l.outsideTable(ctx.test, shares, pre.size),
        l.outsideHistogram(shares, pre.size),
      ].join("");
      assert.equal(count(html13, "images"), 1);
      assert.equal(count(html13, "histogram"), 1);

      // 14: chest crop variant
      const crop = await evalContext(s, await c.trainChestVariant(s, "crop"));
      assert.equal(crop.run.preprocessing.chestRegion, "crop", "the engine option is stored");
      const diff = c.aucDifference(ctx, crop, 1);
      assert.ok(diff.lo <= diff.estimate && diff.estimate <= diff.hi);
      assert.equal(tables(c.comparisonTable(ctx, crop, 1)), 1);
      assert.equal(count(await c.cropExamples(ctx), "images"), 1);

      // 15: three classes
      const three = await evalContext(s, await t.trainThreeClass(s));
      assert.equal(three.test.units, 3);
      const rep = t.threeClassReport(three.test);
      assert.equal(rep.matrix.length, 3);
      assert.equal(count(t.threeConfusion(rep), "confusion"), 1);
      assert.equal(tables(t.perClassTable(rep) + t.kermanyTable(three, 1)), 2);

      // 16: leakage audit
      const r = await k.runLeakage(s, 4);
      assert.equal(r.audit.sharedPatients.count, 0);
      assert.equal(tables(k.summaryTable(r) + k.distanceTable(r)), 2);
      assert.equal(count(k.profileFigure(r), "line"), 1);
      assert.match(k.leakageSummary(r), /No patient has images in more than one split/);
      void log;
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
