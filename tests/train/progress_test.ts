import assert from "node:assert/strict";
import { join } from "node:path";
import { initBackend } from "../../lib/backend/select.ts";
import { resolveConfig } from "../../lib/train/config.ts";
import {
  bar,
  combineSinks,
  epochEta,
  formatDuration,
  formatRunEta,
  progressFileSink,
  progressLine,
  type ProgressSink,
  type ProgressSnapshot,
  ProgressTracker,
  runEta,
  terminalProgress,
} from "../../lib/train/progress.ts";
import { train } from "../../lib/train/train.ts";
import { tinyData } from "./_fixtures.ts";

Deno.test("epochEta: the batches left at this epoch's pace, plus the last validation pass", () => {
  assert.equal(epochEta({ batch: 0, batches: 10, trainS: 0 }), null);
  assert.equal(epochEta({ batch: 0, batches: 10, trainS: 0, lastEpochS: 33 }), 33);
  // 4 batches in 8 s: 6 left at 2 s each, then 5 s of validation.
  assert.equal(epochEta({ batch: 4, batches: 10, trainS: 8, valS: 5 }), 17);
  assert.equal(epochEta({ batch: 10, batches: 10, trainS: 20 }), 0);
});

Deno.test("runEta: to the epoch limit at most, to the patience at the earliest", () => {
  // Epoch 3 of 10 running, 20 s of it left, 60 s an epoch: 7 more epochs at most.
  const a = runEta({ epoch: 3, maxEpochs: 10, patience: 8, wait: 0, epochEtaS: 20, epochS: 60 });
  assert.deepEqual(a, { maxS: 440, minS: 440, epochsLeftMax: 7, epochsLeftMin: 7 });
  // Patience 2, one epoch without improvement so far: if this one does not improve either, the
  // run ends with it.
  const b = runEta({ epoch: 3, maxEpochs: 10, patience: 2, wait: 1, epochEtaS: 20, epochS: 60 });
  assert.deepEqual(b, { maxS: 440, minS: 20, epochsLeftMax: 7, epochsLeftMin: 0 });
  // Right after epoch 5 finished with wait 1 of patience 3: 2 more at the earliest.
  const c = runEta({
    epoch: 5,
    maxEpochs: 10,
    patience: 3,
    wait: 1,
    epochEtaS: 0,
    epochS: 10,
    finished: true,
  });
  assert.deepEqual(c, { maxS: 50, minS: 20, epochsLeftMax: 5, epochsLeftMin: 2 });
  // A finished epoch that used up the patience ends the run.
  const d = runEta({
    epoch: 5,
    maxEpochs: 10,
    patience: 3,
    wait: 3,
    epochEtaS: 0,
    epochS: 10,
    finished: true,
  });
  assert.deepEqual(d, { maxS: 0, minS: 0, epochsLeftMax: 0, epochsLeftMin: 0 });
});

Deno.test("formatDuration and formatRunEta say 'up to' only when early stopping can cut it", () => {
  assert.equal(formatDuration(44.6), "45 s");
  assert.equal(formatDuration(200), "3 min 20 s");
  assert.equal(formatDuration(3900), "1 h 05 min");
  assert.equal(
    formatRunEta({ maxS: 440, minS: 440, epochsLeftMax: 7, epochsLeftMin: 7 }),
    "7 min 20 s",
  );
  assert.equal(
    formatRunEta({ maxS: 440, minS: 20, epochsLeftMax: 7, epochsLeftMin: 0 }),
    "up to 7 min 20 s (early stopping could end it in 20 s)",
  );
  assert.equal(bar(0.5, 10), "[#####.....]");
  assert.equal(bar(2, 4), "[####]");
});

const tick = () => new Promise((r) => setTimeout(r, 0));

/** A sink that keeps every snapshot, and a clock the test moves. */
function recorder(minIntervalMs = 0) {
  const got: ProgressSnapshot[] = [];
  const sink: ProgressSink = { minIntervalMs, update: (s) => void got.push(s) };
  return { got, sink };
}

Deno.test("ProgressTracker: batches, images per second, ETAs and throttling on a fake clock", async () => {
  let t = 0;
  const { got, sink } = recorder(500);
  const tr = new ProgressTracker(sink, {
    run: "cnn",
    maxEpochs: 4,
    patience: 2,
    batchSize: 10,
    imagesPerEpoch: 40,
  }, () => t);
  await tr.startEpoch(1);
  assert.equal(got.at(-1)!.phase, "start");
  assert.equal(got.at(-1)!.batches, 4);
  assert.equal(got.at(-1)!.runEta, null, "no estimate before the first batch of the first epoch");
  for (let b = 0; b < 4; b++) {
    t += 250; // a batch of 10 images every 0.25 s: 40 images/s
    tr.batch(10);
  }
  await tick();
  // Throttled to one "batch" update per 500 ms after the start's (at 0 ms): batches 2 and 4.
  const batches = got.filter((s) => s.phase === "batch");
  assert.deepEqual(batches.map((s) => s.batch), [2, 4]);
  assert.equal(batches[0].imagesPerSecond, 40);
  // After batch 2 (0.5 s): 2 batches left at 0.25 s; the run's 3 later epochs at ~1 s each.
  assert.equal(batches[0].epochEtaS, 0.5);
  assert.equal(batches[0].runEta!.maxS, 0.5 + 3 * 1);
  // Patience 2, wait 0: at the earliest this epoch and one more.
  assert.equal(batches[0].runEta!.epochsLeftMin, 1);
  t += 1000; // validation took 1 s
  await tr.endEpoch(
    { epoch: 1, loss: 0.6, valLoss: 0.5, accuracy: 0.7, valAccuracy: 0.75, timeS: 2 },
    0,
    1,
  );
  const e1 = got.at(-1)!;
  assert.equal(e1.phase, "epoch");
  assert.equal(e1.history.length, 1);
  assert.deepEqual(e1.runEta, { maxS: 6, minS: 4, epochsLeftMax: 3, epochsLeftMin: 2 });
  assert.match(progressLine(e1), /^cnn: epoch 1\/4 done val acc 0\.7500 .* run ETA up to 6 s/);
  // Epoch 2: the first batch's estimate includes the 1 s validation of epoch 1.
  await tr.startEpoch(2);
  assert.equal(got.at(-1)!.epochEtaS, 2, "before a batch: the last epoch's time");
  t += 500;
  tr.batch(10);
  await tick();
  assert.equal(got.at(-1)!.epochEtaS, 3 * 0.5 + 1);
  await tr.done("patience");
  assert.equal(got.at(-1)!.phase, "done");
  assert.match(progressLine(got.at(-1)!), /stopped by early stopping \(patience 2\)/);
});

Deno.test("a resumed run's tracker starts from the saved history", async () => {
  const { got, sink } = recorder();
  const tr = new ProgressTracker(sink, {
    run: "r",
    maxEpochs: 5,
    patience: 5,
    batchSize: 4,
    imagesPerEpoch: 8,
    history: [{ epoch: 1, loss: 1, valLoss: 1, accuracy: 0.5, valAccuracy: 0.5, timeS: 30 }],
    bestEpoch: 1,
  }, () => 0);
  await tr.startEpoch(2);
  // Before its first batch, the epoch is estimated at the saved epoch's 30 s.
  assert.equal(got[0].epochEtaS, 30);
  assert.equal(got[0].runEta!.maxS, 30 + 3 * 30);
  assert.equal(got[0].history.length, 1);
});

Deno.test("a failing sink never stops the tracker", async () => {
  const tr = new ProgressTracker(
    { minIntervalMs: 0, update: () => Promise.reject(new Error("display gone")) },
    { run: "r", maxEpochs: 1, patience: 1, batchSize: 1, imagesPerEpoch: 1 },
  );
  await tr.startEpoch(1);
  tr.batch(1);
  await tr.done("limit");
});

Deno.test("terminalProgress: nothing on a non-TTY; a bar redrawn in place on a TTY", async () => {
  const snap = (phase: ProgressSnapshot["phase"], batch: number): ProgressSnapshot => ({
    run: "cnn",
    phase,
    epoch: 2,
    maxEpochs: 10,
    patience: 3,
    wait: 0,
    batch,
    batches: 4,
    images: batch * 8,
    imagesPerEpoch: 32,
    imagesPerSecond: 16,
    epochEtaS: 4,
    runEta: { maxS: 100, minS: 40, epochsLeftMax: 8, epochsLeftMin: 2 },
    elapsedS: 10,
    history: [],
    bestEpoch: 1,
  });
  let plain = "";
  const p = terminalProgress({ tty: false, write: (t) => plain += t, columns: 200 });
  await p.update(snap("batch", 2));
  assert.equal(plain, "", "no bar in logs: the epoch lines carry the ETA");
  // With logEveryS, a log gets the batch line at most that often (long epochs).
  let clock = 0;
  const lines: string[] = [];
  const l = terminalProgress({
    tty: false,
    write: (t) => plain += t,
    print: (x) => lines.push(x),
    logEveryS: 30,
    now: () => clock,
  });
  for (const ms of [10_000, 31_000, 40_000, 62_000]) {
    clock = ms;
    await l.update(snap("batch", 2));
  }
  await l.update(snap("epoch", 4));
  assert.deepEqual(lines, [
    "cnn: epoch 2/10 batch 2/4 | 16.0 img/s | epoch ETA 4 s | " +
    "run ETA up to 1 min 40 s (early stopping could end it in 40 s)",
    "cnn: epoch 2/10 batch 2/4 | 16.0 img/s | epoch ETA 4 s | " +
    "run ETA up to 1 min 40 s (early stopping could end it in 40 s)",
  ]);
  assert.equal(plain, "");
  let text = "";
  const t = terminalProgress({ tty: true, write: (s) => text += s, columns: 200 });
  await t.update(snap("batch", 2));
  assert.equal(
    text,
    "\r\x1b[2K[##########..........] cnn: epoch 2/10 batch 2/4 | 16.0 img/s | epoch ETA 4 s | " +
      "run ETA up to 1 min 40 s (early stopping could end it in 40 s)",
  );
  text = "";
  await t.update(snap("epoch", 4));
  assert.equal(text, "\r\x1b[2K", "the bar is cleared when the epoch's log line comes");
});

Deno.test("progressFileSink appends one JSON line per update, the epoch's numbers with it", () => {
  const path = Deno.makeTempFileSync({ suffix: ".jsonl" });
  try {
    const sink = progressFileSink(path);
    const base = {
      run: "cnn",
      epoch: 1,
      maxEpochs: 2,
      patience: 2,
      wait: 0,
      batch: 2,
      batches: 2,
      images: 4,
      imagesPerEpoch: 4,
      imagesPerSecond: 2,
      epochEtaS: 0,
      runEta: null,
      elapsedS: 2,
      bestEpoch: 1,
    };
    const e = { epoch: 1, loss: 0.6, valLoss: 0.5, accuracy: 0.7, valAccuracy: 0.75, timeS: 2 };
    sink.update({ ...base, phase: "batch", history: [] });
    sink.update({ ...base, phase: "epoch", history: [e] });
    const lines = Deno.readTextFileSync(path).trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(lines.map((l) => l.phase), ["batch", "epoch"]);
    assert.deepEqual(lines[1].last, e);
    assert.equal(lines[0].history, undefined);
  } finally {
    Deno.removeSync(path);
  }
});

Deno.test("combineSinks drops the missing ones and sends to every other", async () => {
  assert.equal(combineSinks(null, undefined), null);
  const a = recorder(100), b = recorder(300);
  const both = combineSinks(a.sink, null, b.sink)!;
  assert.equal(both.minIntervalMs, 100);
  await both.update({ phase: "done" } as ProgressSnapshot);
  assert.equal(a.got.length + b.got.length, 2);
});

Deno.test("train: a progress sink sees every epoch, and each epoch line has the run's ETA", async () => {
  await initBackend();
  const tmp = await Deno.makeTempDir();
  try {
    const lines: string[] = [];
    const { got, sink } = recorder();
    const cfg = resolveConfig({
      model: "compact",
      data: "/mem",
      out: join(tmp, "run"),
      size: 16,
      batchSize: 8,
      epochs: 3,
      seed: 7,
      earlyStopping: { metric: "val_loss", patience: 5 },
    });
    await train(cfg, { data: tinyData(24, 16, 1), log: (l) => lines.push(l), progress: sink });
    const epochLines = lines.filter((l) => /^epoch \d/.test(l));
    assert.equal(epochLines.length, 3);
    assert.match(epochLines[0], /\| run ETA \d+ s$/, epochLines[0]);
    assert.doesNotMatch(epochLines[2], /ETA/, "the last epoch has nothing left");
    assert.deepEqual(got.filter((s) => s.phase === "epoch").map((s) => s.epoch), [1, 2, 3]);
    const batches = got.filter((s) => s.phase === "batch");
    assert.equal(batches.length, 9, "3 batches of 8 in 24 images, 3 epochs, unthrottled");
    assert.equal(batches[0].batches, 3);
    assert.equal(got.at(-1)!.phase, "done");
    assert.equal(got.at(-1)!.stopped, "limit");
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
