import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { initBackend } from "../../lib/backend/select.ts";
import { resolveConfig } from "../../lib/train/config.ts";
import { train, TrainingInterrupted } from "../../lib/train/train.ts";
import { loadRun } from "../../lib/train/run.ts";
import { readJson } from "../../lib/util/atomic.ts";
import { fitTemperature, probsToLogits, readCalibration } from "../../lib/metrics/calibration.ts";
import { tinyData } from "./_fixtures.ts";

await initBackend();
const quiet = () => {};

function tinyConfig(out: string, extra: Record<string, unknown> = {}) {
  return resolveConfig({
    model: "compact",
    data: "/mem",
    out,
    size: 16,
    batchSize: 8,
    epochs: 3,
    seed: 7,
    earlyStopping: { metric: "val_loss", patience: 5 },
    ...extra,
  });
}

const dropTime = (csv: string) =>
  csv.trim().split("\n").map((l) => l.split(",").slice(0, -1).join(",")).join("\n");

/**
 * Trains `cfg(tmp/a)` uninterrupted and `cfg(tmp/b)` interrupted after its first epoch then
 * resumed, and checks that both wrote the same metrics (but times) and validation predictions.
 */
async function assertResumeMatches(
  tmp: string,
  cfg: (out: string) => ReturnType<typeof resolveConfig>,
  opts: Omit<Parameters<typeof train>[1] & object, "resume" | "interruptAfter">,
) {
  const a = await train(cfg(join(tmp, "a")), opts);
  const cfgB = cfg(join(tmp, "b"));
  await assert.rejects(train(cfgB, { ...opts, interruptAfter: 1 }), TrainingInterrupted);
  const b = await train(cfgB, { ...opts, resume: true });
  assert.equal(
    dropTime(await Deno.readTextFile(join(tmp, "b", "metrics.csv"))),
    dropTime(await Deno.readTextFile(join(tmp, "a", "metrics.csv"))),
  );
  assert.equal(
    await Deno.readTextFile(join(tmp, "b", "val_predictions.csv")),
    await Deno.readTextFile(join(tmp, "a", "val_predictions.csv")),
  );
  return { a, b };
}

Deno.test("a run writes every file of the run folder, and loadRun rebuilds it", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const out = join(tmp, "run");
    const data = tinyData(24, 16, 1);
    const before = tf.memory().numTensors;
    const res = await train(tinyConfig(out), { data, log: quiet, workers: 0 });
    assert.equal(tf.memory().numTensors, before, "train leaks no tensors");
    for (
      const f of [
        "config.json",
        "metrics.csv",
        "model/model.json",
        "model/weights.bin",
        "preprocessing.json",
        "classes.json",
        "val_predictions.csv",
        "threshold.json",
        "summary.json",
        "calibration.json",
        "ood.json",
      ]
    ) {
      await Deno.stat(join(out, f));
    }
    const csv = (await Deno.readTextFile(join(out, "metrics.csv"))).trim().split("\n");
    assert.equal(
      csv[0],
      "epoch,loss,accuracy,recall,precision,f1,auc,val_loss,val_accuracy," +
        "val_recall,val_precision,val_f1,val_auc,lr,time_s",
    );
    assert.equal(csv.length, 1 + res.summary.epochsRun);
    const preds = (await Deno.readTextFile(join(out, "val_predictions.csv"))).trim().split("\n");
    assert.equal(preds[0], "relPath,patient,y,prob");
    assert.equal(preds.length, 1 + 24);
    const summary = await readJson<Record<string, number>>(join(out, "summary.json"));
    assert.ok(summary.trainableParams > 0 && summary.totalTimeS > 0 && summary.stoppedEpoch === 3);
    const run = await loadRun(out);
    assert.deepEqual(run.preprocessing, {
      size: 16,
      channels: 1,
      scale: 1 / 255,
      mean: 0,
      std: 1,
      chestRegion: "none",
      intensity: "none",
    });
    assert.deepEqual(run.classes, ["NORMAL", "PNEUMONIA"]);
    assert.equal(run.threshold, res.threshold.threshold);
    run.model.dispose();
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("the stored threshold keeps val sensitivity >= 0.95 and metrics at 0.5 sit beside it", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const res = await train(tinyConfig(join(tmp, "r"), { epochs: 2 }), {
      data: tinyData(24, 16, 1),
      log: quiet,
    });
    const t = res.threshold;
    assert.ok(t.atThreshold.sensitivity >= 0.95, `sensitivity ${t.atThreshold.sensitivity}`);
    assert.equal(t.at05.n, 24);
    const csv = (await Deno.readTextFile(join(tmp, "r", "val_predictions.csv"))).trim().split("\n");
    const rows = csv.slice(1).map((l) => l.split(","));
    const probs = rows.filter((r) => r[2] === "1").map((r) => Number(r[3]));
    // No higher threshold keeps the target: raising it past the next positive score loses one.
    const above = probs.filter((p) => p > t.threshold).length;
    assert.ok(above / probs.length < 0.95, "the threshold is the highest that keeps the target");
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("calibration.json holds the temperature fitted on the stored val predictions", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const out = join(tmp, "r");
    const res = await train(tinyConfig(out, { epochs: 2 }), {
      data: tinyData(24, 16, 1),
      log: quiet,
    });
    const rows = (await Deno.readTextFile(join(out, "val_predictions.csv"))).trim().split("\n")
      .slice(1).map((l) => l.split(","));
    const fit = fitTemperature(
      rows.map((r) => Number(r[2])),
      probsToLogits(rows.map((r) => Number(r[3]))),
    );
    const stored = await readCalibration(out);
    assert.ok(stored && res.calibration);
    assert.equal(stored.method, "temperature");
    assert.equal(stored.fittedOn, "val_predictions.csv");
    assert.equal(stored.n, 24);
    assert.ok(
      Math.abs(stored.temperature - fit.temperature) < 1e-6,
      `${stored.temperature} vs ${fit.temperature}`,
    );
    assert.equal(res.calibration.temperature, stored.temperature);
    assert.ok(stored.nllAfter <= stored.nllBefore + 1e-12);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("resume after an interruption gives the same result as an uninterrupted run", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const data = tinyData(24, 16, 1);
    const { a, b } = await assertResumeMatches(tmp, tinyConfig, { data, log: quiet, workers: 0 });
    assert.equal(b.threshold.threshold, a.threshold.threshold);
    // The resumed run stores the same temperature scaling as the uninterrupted one.
    assert.deepEqual(await readCalibration(join(tmp, "b")), await readCalibration(join(tmp, "a")));
    assert.deepEqual(b.calibration, a.calibration);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("weight averaging: validation judges the mean, and a resumed run matches", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const data = tinyData(24, 16, 1);
    const avg = { weightAverage: { fromEpoch: 2 } };
    const lines: string[] = [];
    const before = tf.memory().numTensors;
    const a = await train(tinyConfig(join(tmp, "a"), avg), {
      data,
      log: (l) => lines.push(l),
      workers: 0,
    });
    assert.equal(tf.memory().numTensors, before, "train with averaging leaks no tensors");
    assert.ok(lines.some((l) => l.startsWith("epoch 3/3") && l.includes("mean of epochs 2-3")));
    assert.ok(!lines.some((l) => l.startsWith("epoch 1/3") && l.includes("mean of")));
    // The averaged candidates are other models than the plain run's at the same epochs.
    const plain = await train(tinyConfig(join(tmp, "p")), { data, log: quiet, workers: 0 });
    assert.equal(a.history[0].val.loss, plain.history[0].val.loss, "epoch 1 is not averaged");
    assert.notEqual(a.history[2].val.loss, plain.history[2].val.loss);
    const cfgB = tinyConfig(join(tmp, "b"), avg);
    await assert.rejects(
      train(cfgB, { data, log: quiet, workers: 0, interruptAfter: 2 }),
      TrainingInterrupted,
    );
    await train(cfgB, { data, log: quiet, workers: 0, resume: true });
    assert.equal(
      dropTime(await Deno.readTextFile(join(tmp, "b", "metrics.csv"))),
      dropTime(await Deno.readTextFile(join(tmp, "a", "metrics.csv"))),
      "the average is restored from the checkpoint",
    );
    assert.equal(
      await Deno.readTextFile(join(tmp, "b", "val_predictions.csv")),
      await Deno.readTextFile(join(tmp, "a", "val_predictions.csv")),
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("mixup trains another model, and a resumed mixup run matches an uninterrupted one", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const data = tinyData(24, 16, 1);
    const mix = { mixup: 0.4 };
    const a = await train(tinyConfig(join(tmp, "a"), mix), { data, log: quiet, workers: 0 });
    const plain = await train(tinyConfig(join(tmp, "p")), { data, log: quiet, workers: 0 });
    assert.notEqual(a.history[0].train.loss, plain.history[0].train.loss);
    assert.ok(a.history.every((h) => Number.isFinite(h.train.loss) && Number.isFinite(h.val.loss)));
    const cfgB = tinyConfig(join(tmp, "b"), mix);
    await assert.rejects(
      train(cfgB, { data, log: quiet, workers: 0, interruptAfter: 1 }),
      TrainingInterrupted,
    );
    await train(cfgB, { data, log: quiet, workers: 0, resume: true });
    assert.equal(
      dropTime(await Deno.readTextFile(join(tmp, "b", "metrics.csv"))),
      dropTime(await Deno.readTextFile(join(tmp, "a", "metrics.csv"))),
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("three classes (normal / bacteria / virus) train with a softmax head", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const res = await train(tinyConfig(join(tmp, "c3"), { classes: 3, epochs: 1 }), {
      data: tinyData(24, 16, 1),
      log: quiet,
    });
    assert.deepEqual(await readJson(join(tmp, "c3", "classes.json")), [
      "normal",
      "bacteria",
      "virus",
    ]);
    assert.equal(res.summary.valImages, 24);
    assert.equal(res.calibration, null, "temperature scaling is for the binary head only");
    assert.equal(await readCalibration(join(tmp, "c3")), null);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("two data-parallel workers train to the same model as the in-process loop", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const data = tinyData(16, 24, 3);
    const cfg = (out: string) =>
      resolveConfig({
        model: "cnn",
        data: "/mem",
        out,
        size: 24,
        batchSize: 8,
        epochs: 2,
        seed: 5,
        augment: false,
      });
    const a = await train(cfg(join(tmp, "w0")), { data, log: quiet, workers: 0 });
    const b = await train(cfg(join(tmp, "w2")), { data, log: quiet, workers: 2 });
    a.history.forEach((h, i) =>
      assert.ok(Math.abs(h.train.loss - b.history[i].train.loss) < 1e-4, `epoch ${i + 1} loss`)
    );
    const probs = async (d: string) =>
      (await Deno.readTextFile(join(tmp, d, "val_predictions.csv"))).trim().split("\n").slice(1)
        .map((l) => Number(l.split(",")[3]));
    const [pa, pb] = [await probs("w0"), await probs("w2")];
    pa.forEach((p, i) => assert.ok(Math.abs(p - pb[i]) < 1e-4, `val prob ${i}: ${p} vs ${pb[i]}`));
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

for (const workers of [0, 2]) {
  Deno.test(`with dropout and Adam (${workers} workers), a resumed run equals an uninterrupted one`, async () => {
    const tmp = await Deno.makeTempDir();
    try {
      const data = tinyData(16, 48, 3);
      // cnn_reg has dropout (workers reseed their masks every epoch from the run's seed) and
      // trains with Adam (its restored state must be the one training built).
      const cfg = (out: string) =>
        resolveConfig({
          model: "cnn_reg",
          data: "/mem",
          out,
          size: 48,
          batchSize: 8,
          epochs: 3,
          seed: 5,
          earlyStopping: { metric: "val_loss", patience: 5 },
        });
      await assertResumeMatches(tmp, cfg, { data, log: quiet, workers });
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  });
}
