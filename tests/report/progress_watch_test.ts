import assert from "node:assert/strict";
import { join } from "node:path";
import {
  readProgressLines,
  reportEtaText,
  ReportProgress,
} from "../../lib/report/progress_watch.ts";
import { PROGRESS_FILE_ENV, progressFileSink } from "../../lib/train/progress.ts";
import type { ProgressSnapshot } from "../../lib/train/progress.ts";

const snap = (
  phase: ProgressSnapshot["phase"],
  epoch: number,
  batch: number,
): ProgressSnapshot => ({
  run: "cnn",
  phase,
  epoch,
  maxEpochs: 3,
  patience: 8,
  wait: 0,
  batch,
  batches: 2,
  images: batch * 4,
  imagesPerEpoch: 8,
  imagesPerSecond: 4,
  epochEtaS: phase === "epoch" ? 0 : 1,
  runEta: {
    maxS: (3 - epoch) * 2,
    minS: (3 - epoch) * 2,
    epochsLeftMax: 3 - epoch,
    epochsLeftMin: 3 - epoch,
  },
  elapsedS: epoch * 2,
  history: phase === "epoch"
    ? [{ epoch, loss: 0.5, valLoss: 0.4, accuracy: 0.8, valAccuracy: 0.75, timeS: 2 }]
    : [],
  bestEpoch: epoch,
  stopped: phase === "done" ? "limit" : undefined,
});

Deno.test("readProgressLines reads whole lines from an offset and leaves a partial one", async () => {
  const path = await Deno.makeTempFile({ suffix: ".jsonl" });
  try {
    assert.deepEqual(await readProgressLines(path + ".none", 0), { lines: [], offset: 0 });
    await Deno.writeTextFile(path, '{"phase":"batch","run":"é"}\n{"phase":"ep');
    const a = await readProgressLines(path, 0);
    assert.deepEqual(a.lines.map((l) => l.run), ["é"]);
    await Deno.writeTextFile(path, 'och","run":"x"}\nnot json\n', { append: true });
    const b = await readProgressLines(path, a.offset);
    assert.deepEqual(b.lines.map((l) => l.phase), ["epoch"], "a bad line is skipped");
    assert.equal(b.offset, (await Deno.stat(path)).size);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("reportEtaText: the chapters left at the last report's times, said when unknown", () => {
  const all = ["/n/01_a.ipynb", "/n/02_b.ipynb", "/n/03_c.ipynb"];
  assert.equal(
    reportEtaText(all, 1, { "02_b.ipynb": 120, "03_c.ipynb": 60 }),
    " | 1/3 chapters, report ETA ~3 min 00 s (from the last report's chapter times)",
  );
  assert.equal(
    reportEtaText(all, 1, { "02_b.ipynb": 120 }),
    " | 1/3 chapters, report ETA ~2 min 00 s, plus 1 chapter(s) never timed (from the last " +
      "report's chapter times)",
  );
  assert.equal(
    reportEtaText(all, 1, {}),
    " | 1/3 chapters, 2 left (no earlier time to estimate from)",
  );
  assert.equal(reportEtaText(all, 3, {}), " | 3/3 chapters");
});

Deno.test("ReportProgress prints the kernel's epochs and a chapter line with the report's ETA", async () => {
  const out = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      join(out, "settings.json"),
      JSON.stringify({ chapterSeconds: { "01_a.ipynb": 30, "02_b.ipynb": 90 } }),
    );
    const lines: string[] = [];
    const notebooks = ["/n/01_a.ipynb", "/n/02_b.ipynb"];
    const p = await ReportProgress.start({
      out,
      notebooks,
      log: (l) => lines.push(l),
      tty: false,
      pollMs: 20,
    });
    assert.equal(p.env[PROGRESS_FILE_ENV], p.file);
    // The "kernel": the file sink the chapters use, writing while the notebook runs.
    const result = await p.watch(notebooks[0], async () => {
      const sink = progressFileSink(p.env[PROGRESS_FILE_ENV]);
      for (let e = 1; e <= 3; e++) {
        sink.update(snap("batch", e, 1));
        await new Promise((r) => setTimeout(r, 30));
        sink.update(snap("epoch", e, 2));
      }
      sink.update(snap("done", 3, 2));
      return "executed";
    });
    assert.equal(result, "executed");
    assert.deepEqual(lines.map((l) => l.replace(/ \|.*/, "")), [
      "report: 01_a cnn: epoch 1/3 done val acc 0.7500 loss 0.4000",
      "report: 01_a cnn: epoch 2/3 done val acc 0.7500 loss 0.4000",
      "report: 01_a cnn: epoch 3/3 done val acc 0.7500 loss 0.4000",
      "report: 01_a cnn: stopped after epoch 3/3, reached the epoch limit, best epoch 3, 6 s of training here",
    ]);
    assert.match(lines[0], /\| 4\.0 img\/s \| run ETA 4 s$/);
    assert.equal(
      p.chapterDone(),
      " | 1/2 chapters, report ETA ~1 min 30 s (from the last report's chapter times)",
    );
    await p.close();
    await assert.rejects(Deno.stat(p.file));
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
