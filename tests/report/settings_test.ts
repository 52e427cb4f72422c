import assert from "node:assert/strict";
import { isAbsolute, join } from "node:path";
import {
  PROFILES,
  PROJECT_ROOT,
  REPORT_ENV,
  reportSettings,
  settingsEnv,
} from "../../lib/report/settings.ts";
import { chapterSettings } from "../../lib/report/params.ts";

const envOf = (o: Record<string, string>) => ({ get: (k: string) => o[k] });

Deno.test("reportSettings defaults: quick profile, seed 42, absolute paths under the project", () => {
  const s = reportSettings(envOf({}));
  assert.equal(s.profile.name, "quick");
  assert.equal(s.seed, 42);
  assert.equal(s.out, join(PROJECT_ROOT, "outputs", "report"));
  assert.equal(s.runsDir, join(s.out, "runs"));
  assert.ok(isAbsolute(s.data));
  assert.equal(s.transferBase, null);
  assert.equal(s.fresh, false);
});

Deno.test("reportSettings reads every variable and round-trips through settingsEnv", () => {
  const s = reportSettings(envOf({
    [REPORT_ENV.profile]: "ci",
    [REPORT_ENV.seed]: "7",
    [REPORT_ENV.data]: "/data/x",
    [REPORT_ENV.out]: "outputs/r2",
    [REPORT_ENV.base]: "/models/base",
    [REPORT_ENV.fresh]: "1",
  }));
  assert.equal(s.profile, PROFILES.ci);
  assert.equal(s.seed, 7);
  assert.equal(s.data, "/data/x");
  assert.equal(s.out, join(PROJECT_ROOT, "outputs", "r2"));
  assert.equal(s.transferBase, "/models/base");
  assert.deepEqual(reportSettings(envOf(settingsEnv(s))), s);
});

Deno.test("reportSettings names the variable when a value is wrong", () => {
  assert.throws(
    () => reportSettings(envOf({ [REPORT_ENV.profile]: "huge" })),
    /XRAY_REPORT_PROFILE="huge".*ci, quick, full/,
  );
  assert.throws(
    () => reportSettings(envOf({ [REPORT_ENV.seed]: "1.5" })),
    /XRAY_REPORT_SEED="1.5"/,
  );
});

Deno.test("the full profile keeps the seed's settings", () => {
  assert.equal(PROFILES.full.size, 150);
  assert.equal(PROFILES.full.epochs, 40);
  assert.equal(PROFILES.full.patience, 8);
  assert.deepEqual(PROFILES.full.baselineFractions, [0.25, 0.75]);
});

Deno.test("reportSettings: the site sample is XRAY_REPORT_SITE, else chest_xray_site beside the data", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const data = join(tmp, "chest_xray");
    assert.equal(reportSettings(envOf({ [REPORT_ENV.data]: data })).site, null);
    await Deno.mkdir(join(tmp, "chest_xray_site"));
    const s = reportSettings(envOf({ [REPORT_ENV.data]: data }));
    assert.equal(s.site, join(tmp, "chest_xray_site"));
    assert.deepEqual(reportSettings(envOf(settingsEnv(s))), s);
    const none = reportSettings(envOf({ [REPORT_ENV.data]: data, [REPORT_ENV.site]: "none" }));
    assert.equal(none.site, null);
    assert.equal(settingsEnv(none)[REPORT_ENV.site], "none");
    const other = reportSettings(envOf({ [REPORT_ENV.site]: "outputs/site" }));
    assert.equal(other.site, join(PROJECT_ROOT, "outputs", "site"));
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("chapterSettings: the site parameter ('none', a path, or null for the default)", () => {
  assert.equal(chapterSettings({ site: "none" }).site, null);
  assert.equal(chapterSettings({ site: "outputs/s" }).site, join(PROJECT_ROOT, "outputs", "s"));
  assert.equal(chapterSettings({ site: null, data: "/nowhere/chest_xray" }).site, null);
  assert.throws(() => chapterSettings({ site: 3 }), /parameter site = 3: expected a path or null/);
});

Deno.test("a label table for the data and the site: env, parameters and the data source", async () => {
  const { reportSource, siteSource } = await import("../../lib/report/settings.ts");
  const s = reportSettings(envOf({
    [REPORT_ENV.data]: "/a/archive",
    [REPORT_ENV.labels]: "/a/archive/stage_2_train_labels.csv",
    [REPORT_ENV.site]: "/b/site",
    [REPORT_ENV.siteLabels]: "/b/site/labels.csv",
  }));
  assert.equal(s.labels, "/a/archive/stage_2_train_labels.csv");
  assert.deepEqual(reportSource(s), { data: "/a/archive", labels: s.labels });
  assert.deepEqual(siteSource(s), { data: "/b/site", labels: "/b/site/labels.csv" });
  assert.deepEqual(reportSettings(envOf(settingsEnv(s))).siteLabels, s.siteLabels);
  // The parameters cell (and --set labels=...): paths relative to the project.
  const c = chapterSettings({ data: "x/archive", labels: "x/archive/labels.csv", site: "none" });
  assert.equal(c.labels, join(PROJECT_ROOT, "x/archive/labels.csv"));
  assert.equal(c.siteLabels, null);
  assert.deepEqual(reportSource(c), { data: join(PROJECT_ROOT, "x/archive"), labels: c.labels });
  assert.equal(reportSource(chapterSettings({ data: "x" })).labels, undefined);
  assert.throws(() => chapterSettings({ data: "x", labels: 3 }), /labels/);
});
