import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { initBackend } from "../../lib/backend/select.ts";
import { discoverDataset } from "../../lib/data/discover.ts";
import { formatSelection, runFingerprint, selectOnSite } from "../../lib/eval/site_select.ts";
import { writeSyntheticDataset } from "../../lib/data/synthetic.ts";
import { makeRng } from "../../lib/util/rng.ts";

import { writeRunFolder } from "../eval/_run_folder.ts";

await initBackend({ prefer: "cpu" });

/**
 * A run folder by hand: a linear score of the 32x32 pixels (weights `w`), sigmoid; the stored
 * threshold 0.5; val_predictions.csv lists the data folder's val/ images with made-up scores.
 */
async function writeRun(dir: string, data: string, w: number[], valShift = 0): Promise<void> {
  const m = tfl.sequential();
  m.add(tfl.layers.flatten({ inputShape: [32, 32, 1] }));
  m.add(tfl.layers.dense({ units: 1, activation: "sigmoid" }));
  const scale = 30 / w.reduce((s, v) => s + Math.abs(v), 0);
  m.layers[1].setWeights([tf.tensor2d(w.map((v) => v * scale), [1024, 1]), tf.tensor1d([-12])]);
  await writeRunFolder(dir, m, {
    data,
    threshold: 0.5,
    valScore: (r, i) => 0.3 + 0.4 * r.y + ((i * 37) % 11) / 40 - valShift * r.y,
  });
  m.dispose();
}

const flat = () => Array.from({ length: 1024 }, () => 1);
const noisy = (seed: number) => {
  const rng = makeRng(seed);
  return Array.from({ length: 1024 }, () => rng() * 2 - 0.5);
};

Deno.test("select: scores once (cached), compares by the rule, nested estimate", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const data = join(dir, "data"), site = join(dir, "site");
    await writeSyntheticDataset(data, { perClass: 8, size: 40, seed: 5, splits: ["train", "val"] });
    await writeSyntheticDataset(site, { perClass: 30, size: 40, seed: 6, splits: ["test"] });
    const inc = join(dir, "inc"), same = join(dir, "same"), other = join(dir, "other");
    await writeRun(inc, data, flat());
    await writeRun(same, data, flat());
    await writeRun(other, data, noisy(3), 0.3);
    const records = (await discoverDataset(site)).records;
    const o = {
      incumbent: inc,
      candidates: [same, other],
      records,
      source: site,
      folds: 3,
      nBoot: 100,
      cacheDir: join(dir, "scores"),
      imageCacheDir: join(dir, "images"),
    };
    const r = await selectOnSite(o);
    assert.equal(r.n, 60);
    assert.equal(r.nComparisons, 2);
    assert.equal(r.priorComparisons, 0);
    assert.equal(r.runningTotal, 2);
    assert.deepEqual(r.rows.map((x) => x.name), ["inc", "same", "other"]);
    assert.ok(r.rows.every((x) => !x.cached));
    const sameRow = r.rows[1].vsIncumbent!;
    assert.equal(sameRow.diff, 0);
    assert.ok(!sameRow.clears);
    assert.equal(r.chosen.name, "inc");
    assert.equal(r.chosen.replacesIncumbent, false);
    assert.equal(r.selectionAdjusted.perFold.length, 3);
    assert.ok(r.rows[0].cv.strict !== null);
    assert.ok(r.rows[0].auc.estimate > 0.5);
    const text = formatSelection(r);
    assert.match(text, /Holm/);
    assert.match(text, /selection-adjusted estimate/);
    assert.match(text, /same: keep the incumbent/);
    assert.match(text, /comparisons on this sample so far: 2 \(0 before this one\)/);
    // A rerun reads every score from the cache and gives the same result.
    const again = await selectOnSite(o);
    assert.ok(again.rows.every((x) => x.cached));
    assert.deepEqual(
      again.rows.map((x) => ({ ...x, cached: false })),
      r.rows.map((x) => ({ ...x, cached: false })),
    );
    // New weights: a new fingerprint, scored again.
    const fp = await runFingerprint(other);
    await writeRun(other, data, noisy(4));
    assert.notEqual(await runFingerprint(other), fp);
    const third = await selectOnSite({ ...o, priorComparisons: 47 });
    assert.equal(third.runningTotal, 49);
    assert.deepEqual(third.rows.map((x) => x.cached), [true, true, false]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task select: JSON, --out, --write-folds, usage errors", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const data = join(dir, "data"), site = join(dir, "site");
    await writeSyntheticDataset(data, { perClass: 6, size: 40, seed: 5, splits: ["train", "val"] });
    await writeSyntheticDataset(site, { perClass: 20, size: 40, seed: 8, splits: ["test"] });
    await writeRun(join(dir, "a"), data, flat());
    await writeRun(join(dir, "b"), data, noisy(9));
    const run = (...args: string[]) =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "lib/cli/select.ts", ...args],
        stdout: "piped",
        stderr: "piped",
        env: { DENO_NO_UPDATE_CHECK: "1" },
      }).output();
    const foldsFile = join(dir, "folds.csv"), outFile = join(dir, "sel.json");
    const res = await run(
      "--incumbent",
      join(dir, "a"),
      "--candidates",
      join(dir, "b"),
      "--site",
      site,
      "--folds",
      "3",
      "--n-boot",
      "50",
      "--json",
      "--out",
      outFile,
      "--write-folds",
      foldsFile,
      "--no-cache",
      "--backend",
      "cpu",
    );
    assert.equal(res.code, 0, new TextDecoder().decode(res.stderr));
    const j = JSON.parse(new TextDecoder().decode(res.stdout));
    assert.equal(j.n, 40);
    assert.equal(j.rows.length, 2);
    assert.deepEqual(JSON.parse(await Deno.readTextFile(outFile)).rows[1].name, "b");
    const lines = (await Deno.readTextFile(foldsFile)).trim().split("\n");
    assert.equal(lines[0], "relPath,patient,y,fold");
    assert.equal(lines.length, 41);
    const bad = await run("--site", site);
    assert.equal(bad.code, 2);
    assert.match(new TextDecoder().decode(bad.stderr), /--candidates/);
    const help = await run("--help");
    assert.match(new TextDecoder().decode(help.stdout), /--write-folds/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
