import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { initBackend } from "../../lib/backend/select.ts";
import { discoverDataset } from "../../lib/data/discover.ts";
import { scoreForSite } from "../../lib/eval/site_eval.ts";
import { writeSyntheticDataset } from "../../lib/data/synthetic.ts";
import { saveModel } from "../../lib/models/io.ts";
import { buildEnsemble, ensembleMembers } from "../../lib/train/ensemble.ts";
import { disposeRun, loadRun, readRunRecord } from "../../lib/train/run.ts";
import { predictRecords } from "../../lib/train/score.ts";
import { readJson, writeFileAtomic, writeJsonAtomic } from "../../lib/util/atomic.ts";
import { readCsv } from "../../lib/util/csv.ts";

await initBackend({ prefer: "cpu" });

/**
 * A finished run folder by hand: a mean-brightness score at 32 px with the given intensity
 * normalisation; val_predictions.csv lists the data folder's val/ images with made-up scores.
 */
async function writeRun(
  dir: string,
  data: string,
  o: { bias: number; intensity?: string; valShift?: number; perturbedCopies?: number },
): Promise<void> {
  const m = tfl.sequential();
  m.add(tfl.layers.globalAveragePooling2d({ inputShape: [32, 32, 1] }));
  m.add(tfl.layers.dense({ units: 1, activation: "sigmoid" }));
  m.layers[1].setWeights([tf.tensor2d([12], [1, 1]), tf.tensor1d([o.bias])]);
  await saveModel(m, join(dir, "model"));
  m.dispose();
  await writeJsonAtomic(join(dir, "preprocessing.json"), {
    size: 32,
    channels: 1,
    scale: 1 / 255,
    mean: 0,
    std: 1,
    chestRegion: "none",
    intensity: o.intensity ?? "none",
  });
  await writeJsonAtomic(join(dir, "classes.json"), ["NORMAL", "PNEUMONIA"]);
  await writeJsonAtomic(join(dir, "threshold.json"), { threshold: 0.5, policy: "test" });
  await writeJsonAtomic(join(dir, "config.json"), {
    name: dir,
    model: "compact",
    classes: 2,
    data,
    seed: 3,
    balance: "weights",
    intensity: o.intensity ?? "none",
    threshold: { targetSensitivity: 0.9, perturbedCopies: o.perturbedCopies ?? 0 },
  });
  await writeJsonAtomic(join(dir, "summary.json"), {
    model: "compact",
    trainableParams: 2,
    totalParams: 2,
    epochsRun: 3,
    stoppedEpoch: 3,
    stoppedEarly: false,
    bestEpoch: 3,
    totalTimeS: 10,
    meanEpochTimeS: 10 / 3,
    trainImages: 20,
    valImages: 20,
    backend: "cpu",
    workers: 0,
    peakRssMB: 100,
    val: {},
  });
  await writeFileAtomic(join(dir, "metrics.csv"), "epoch,loss\n1,0.5\n");
  const val = (await discoverDataset(data)).records.filter((r) => r.officialSplit === "val");
  const rows = val.map((r, i) =>
    `${r.relPath},${r.patientId},${r.y},${0.2 + 0.5 * r.y + (o.valShift ?? 0) + i * 1e-3}`
  );
  await writeFileAtomic(
    join(dir, "val_predictions.csv"),
    ["relPath,patient,y,prob", ...rows].join("\n") + "\n",
  );
}

async function fixture() {
  const dir = await Deno.makeTempDir({ prefix: "ensemble_test_" });
  const data = join(dir, "data"), site = join(dir, "site");
  await writeSyntheticDataset(data, { perClass: 10, size: 40, seed: 5 });
  await writeSyntheticDataset(site, { perClass: 8, size: 40, seed: 6, splits: ["test"] });
  await writeRun(join(dir, "plain"), data, { bias: -6, perturbedCopies: 2 });
  await writeRun(join(dir, "clahe"), data, { bias: -5, intensity: "clahe", valShift: 0.1 });
  return { dir, data, site };
}

Deno.test("buildEnsemble: members copied, validation averaged, threshold by the first member's policy", async () => {
  const { dir, data } = await fixture();
  try {
    const out = join(dir, "ens");
    const r = await buildEnsemble({
      members: [join(dir, "plain"), join(dir, "clahe")],
      out,
      cacheDir: join(dir, "cache"),
      log: () => {},
    });
    assert.deepEqual(await ensembleMembers(out), [
      join(out, "members/plain"),
      join(out, "members/clahe"),
    ]);
    assert.equal(await ensembleMembers(join(dir, "plain")), null);
    for (const m of ["plain", "clahe"]) {
      for (const f of ["model/model.json", "config.json", "preprocessing.json", "summary.json"]) {
        assert.ok((await Deno.stat(join(out, "members", m, f))).isFile, `${m}/${f}`);
      }
    }
    const [a, b, e] = await Promise.all(
      [join(dir, "plain"), join(dir, "clahe"), out].map((d) =>
        readCsv(join(d, "val_predictions.csv"))
      ),
    );
    assert.equal(e.length, a.length);
    e.forEach((row, i) => {
      assert.equal(row.relPath, a[i].relPath);
      const want = (Number(a[i].prob) + Number(b[i].prob)) / 2;
      assert.ok(Math.abs(Number(row.prob) - want) < 1e-12, `row ${i}`);
    });
    // The first member's policy: target 0.9, a margin over 2 augmented copies.
    const t = await readJson<{ threshold: number; policy: string; targetSensitivity: number }>(
      join(out, "threshold.json"),
    );
    assert.equal(t.targetSensitivity, 0.9);
    assert.match(t.policy, /2 augmented copies/);
    assert.equal(t.threshold, r.threshold.threshold);
    const rec = await readRunRecord(out);
    assert.equal(rec.summary.trainableParams, 4);
    assert.equal(rec.summary.totalTimeS, 20);
    assert.equal(rec.config.name, "ens");
    assert.equal(rec.config.data, data);
    assert.match(rec.summary.model, /ensemble of 2 \(plain \+ clahe\)/);
    // Rebuilding replaces the ensemble folder whole.
    await buildEnsemble({
      members: [join(dir, "clahe"), join(dir, "plain")],
      out,
      cacheDir: join(dir, "cache"),
      log: () => {},
    });
    assert.deepEqual(await ensembleMembers(out), [
      join(out, "members/clahe"),
      join(out, "members/plain"),
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an ensemble folder scores as the mean of its members, each at its own preprocessing", async () => {
  const { dir, site } = await fixture();
  try {
    const out = join(dir, "ens");
    await buildEnsemble({
      members: [join(dir, "plain"), join(dir, "clahe")],
      out,
      cacheDir: join(dir, "cache"),
      log: () => {},
    });
    const { records } = await discoverDataset(site);
    const paths = [...records.map((r) => r.path), join(dir, "missing.png")];
    const before = tf.memory().numTensors;
    const ens = await loadRun(out);
    assert.equal(ens.members?.length, 2);
    assert.equal(ens.members![1].preprocessing.intensity, "clahe");
    assert.equal(ens.model, ens.members![0].model);
    const pe = await predictRecords(ens, paths, { cacheDir: join(dir, "cache") });
    disposeRun(ens);
    assert.equal(tf.memory().numTensors, before, "disposeRun frees every member's model");
    const each: number[][] = [];
    for (const m of ["plain", "clahe"]) {
      const run = await loadRun(join(dir, m));
      each.push((await predictRecords(run, paths, { cacheDir: join(dir, "cache") })).prob);
      disposeRun(run);
    }
    assert.notDeepEqual(each[0], each[1], "the members differ");
    records.forEach((_, i) =>
      assert.ok(Math.abs(pe.prob[i] - (each[0][i] + each[1][i]) / 2) < 1e-6, `image ${i}`)
    );
    assert.ok(Number.isNaN(pe.prob.at(-1)!), "an unreadable file is NaN, not a crash");
    assert.equal(pe.failures.length, 1, "named once, not once per member");

    // Site evaluation: the folder is one run with its stored threshold (the strict protocol),
    // scored like the two members given as a list.
    const base = { records, source: site, cacheDir: join(dir, "cache") };
    const asFolder = await scoreForSite({ ...base, runs: [out] });
    const t = await readJson<{ threshold: number }>(join(out, "threshold.json"));
    assert.equal(asFolder.threshold, t.threshold);
    assert.match(asFolder.thresholdFrom, /stored with the run/);
    const asList = await scoreForSite({ ...base, runs: [join(dir, "plain"), join(dir, "clahe")] });
    asFolder.scored.prob.forEach((p, i) =>
      assert.ok(Math.abs(p - asList.scored.prob[i]) < 1e-6, `site image ${i}`)
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("buildEnsemble refuses what cannot be one ensemble, naming the folder", async () => {
  const { dir, data } = await fixture();
  try {
    const opts = { cacheDir: join(dir, "cache"), log: () => {} };
    await assert.rejects(
      buildEnsemble({ ...opts, members: [join(dir, "plain")], out: join(dir, "e1") }),
      /two or more/,
    );
    // Validated on other images.
    const other = join(dir, "other");
    await writeRun(other, data, { bias: -6 });
    const rows = await Deno.readTextFile(join(other, "val_predictions.csv"));
    await Deno.writeTextFile(
      join(other, "val_predictions.csv"),
      rows.split("\n").slice(0, -2).join("\n") + "\n",
    );
    await assert.rejects(
      buildEnsemble({ ...opts, members: [join(dir, "plain"), other], out: join(dir, "e2") }),
      (err: Error) => err.message.includes(other) && /same validation split/.test(err.message),
    );
    // Not finished.
    const unfinished = join(dir, "unfinished");
    await writeRun(unfinished, data, { bias: -6 });
    await Deno.remove(join(unfinished, "summary.json"));
    await assert.rejects(
      buildEnsemble({ ...opts, members: [join(dir, "plain"), unfinished], out: join(dir, "e3") }),
      /summary\.json is missing/,
    );
    // An existing folder that is not an ensemble is never replaced.
    await assert.rejects(
      buildEnsemble({ ...opts, members: [join(dir, "plain"), join(dir, "clahe")], out: other }),
      /is not an ensemble folder/,
    );
    assert.ok((await Deno.stat(join(other, "model/model.json"))).isFile);
    // A broken ensemble.json names itself.
    await Deno.mkdir(join(dir, "bad"));
    await Deno.writeTextFile(join(dir, "bad", "ensemble.json"), '{"members": ["a"]}');
    await assert.rejects(ensembleMembers(join(dir, "bad")), /ensemble\.json: expected/);
    await Deno.writeTextFile(
      join(dir, "bad", "ensemble.json"),
      '{"members": ["members/a", "../plain"], "combine": "mean"}',
    );
    await assert.rejects(ensembleMembers(join(dir, "bad")), /outside the ensemble folder/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
