import assert from "node:assert/strict";
import { join } from "node:path";
import { hasDenoKernel } from "./_kernel.ts";
import { type JupyterDisplay, liveTrainingDisplay } from "../../lib/report/live_display.ts";
import { executeNotebook, type Notebook, readNotebook } from "../../lib/report/runner.ts";
import type { ProgressSnapshot } from "../../lib/train/progress.ts";
import { ReportProgress } from "../../lib/report/progress_watch.ts";

/** A stand-in for `Deno.jupyter` that records each display call. */
function mockJupyter() {
  const calls: { bundle: Record<string, unknown>; opts: Record<string, unknown> }[] = [];
  const api: JupyterDisplay = {
    display(bundle, opts) {
      calls.push({ bundle, opts });
      return Promise.resolve();
    },
  };
  return { api, calls };
}

const epochs = [
  { epoch: 1, loss: 0.7, valLoss: 0.6, accuracy: 0.6, valAccuracy: 0.65, timeS: 10 },
  { epoch: 2, loss: 0.5, valLoss: 0.55, accuracy: 0.75, valAccuracy: 0.7, timeS: 10 },
];

function snap(
  phase: ProgressSnapshot["phase"],
  epoch: number,
  batch: number,
  done: number,
): ProgressSnapshot {
  return {
    run: "cnn_reg",
    phase,
    epoch,
    maxEpochs: 2,
    patience: 8,
    wait: 0,
    batch,
    batches: 4,
    images: batch * 8,
    imagesPerEpoch: 32,
    imagesPerSecond: batch ? 12.5 : null,
    epochEtaS: phase === "batch" ? 3 : null,
    runEta: phase === "done" ? null : { maxS: 13, minS: 13, epochsLeftMax: 1, epochsLeftMin: 1 },
    elapsedS: 5,
    history: epochs.slice(0, done),
    bestEpoch: done,
    stopped: phase === "done" ? "limit" : undefined,
  };
}

Deno.test("the live display: one display_data, then update_display_data with the same id", async () => {
  const { api, calls } = mockJupyter();
  const sink = liveTrainingDisplay(api, { displayId: "run-1" });
  await sink.update(snap("start", 1, 0, 0));
  await sink.update(snap("batch", 1, 2, 0));
  await sink.update(snap("epoch", 1, 4, 1));
  await sink.update(snap("batch", 2, 1, 1));
  await sink.update(snap("epoch", 2, 4, 2));
  await sink.update(snap("done", 2, 4, 2));
  // The first call makes the display; every later one updates it in place.
  assert.deepEqual(calls.map((c) => c.opts), [
    { raw: true, update: false, display_id: "run-1" },
    ...Array(5).fill({ raw: true, update: true, display_id: "run-1" }),
  ]);
  const html = calls.map((c) => String(c.bundle["text/html"]));
  const plain = calls.map((c) => String(c.bundle["text/plain"]));
  assert.match(
    plain[1],
    /^cnn_reg: epoch 1\/2 batch 2\/4 \| 12\.5 img\/s \| epoch ETA 3 s \| run ETA 13 s$/,
  );
  assert.match(html[1], /batch 2\/4 · 12\.5 images\/s · epoch ETA 3 s · run ETA 13 s/);
  // No curves before the first epoch ends; loss and accuracy curves after it, redrawn per epoch.
  assert.doesNotMatch(html[1], /<svg/);
  assert.equal(html[2].match(/class="xr-live-chart"/g)?.length, 2, "loss and accuracy");
  assert.doesNotMatch(html[2], /class="xr-chart"/, "not counted as a chapter chart");
  assert.notEqual(html[4], html[2], "the curves were redrawn with epoch 2");
  // The final state: a summary line, no curves (the chapter shows them after training).
  assert.match(plain[5], /^cnn_reg: stopped after epoch 2\/2, reached the epoch limit/);
  assert.doesNotMatch(html[5], /<svg/);
  const keep = mockJupyter();
  const k = liveTrainingDisplay(keep.api, { keepCurves: true });
  await k.update(snap("epoch", 2, 4, 2));
  await k.update(snap("done", 2, 4, 2));
  assert.match(String(keep.calls[1].bundle["text/html"]), /<svg/);
  assert.notEqual(keep.calls[0].opts.display_id, "run-1", "a unique id by default");
});

const root = new URL("../../", import.meta.url).pathname;

Deno.test({
  name:
    "a training cell run by the report: its display keeps the final state, epochs reach the log",
  ignore: !(await hasDenoKernel()),
  async fn() {
    // Inside the checkout, so that the kernel finds deno.json's imports from the notebook's folder.
    await Deno.mkdir(join(root, "outputs"), { recursive: true });
    const dir = await Deno.makeTempDir({ dir: join(root, "outputs"), prefix: "test-live-" });
    try {
      // A tiny synthetic training (compact, 16 px, 3 epochs of 3 batches) in a kernel, with the
      // chapters' sink (the live display and the report's progress file), counting its updates.
      const source = [
        `import { initBackend } from "${root}lib/backend/select.ts";`,
        `import { resolveConfig } from "${root}lib/train/config.ts";`,
        `import { train } from "${root}lib/train/train.ts";`,
        `import { notebookProgress } from "${root}lib/report/live_display.ts";`,
        `import { tinyData } from "${root}tests/train/_fixtures.ts";`,
        `await initBackend({ prefer: "cpu" });`,
        `const sink = notebookProgress();`,
        `let updates = 0;`,
        `const progress = { minIntervalMs: 0, update: (s) => (updates++, sink.update(s)) };`,
        `const cfg = resolveConfig({ model: "compact", data: "/mem", out: "${dir}/run", size: 16,`,
        `  batchSize: 8, epochs: 3, seed: 7, earlyStopping: { metric: "val_loss", patience: 5 } });`,
        `await train(cfg, { data: tinyData(24, 16, 1), log: () => {}, progress });`,
        `console.log("updates " + updates);`,
        `await new Promise((r) => setTimeout(r, 100));`,
      ].join("\n");
      const nb: Notebook = {
        cells: [{
          cell_type: "code",
          source,
          outputs: [],
          metadata: {},
          execution_count: null,
        }],
        metadata: { kernelspec: { name: "deno", language: "typescript", display_name: "Deno" } },
        nbformat: 4,
        nbformat_minor: 4,
      };
      const path = join(dir, "01_live.ipynb");
      await Deno.writeTextFile(path, JSON.stringify(nb));
      const lines: string[] = [];
      const report = await ReportProgress.start({
        out: join(dir, "out"),
        notebooks: [path],
        log: (l) => lines.push(l),
        tty: false,
        pollMs: 100,
      });
      const out = await report.watch(path, () =>
        executeNotebook(path, {
          outDir: join(dir, "out"),
          cellTimeoutS: 120,
          env: report.env,
        }));
      await report.close();
      // The report's terminal: one line per epoch and the end, read from the kernel's file.
      assert.deepEqual(lines.map((l) => l.replace(/ (done|stopped).*/, "")), [
        "report: 01_live compact-s7: epoch 1/3",
        "report: 01_live compact-s7: epoch 2/3",
        "report: 01_live compact-s7: epoch 3/3",
        "report: 01_live compact-s7:",
      ]);
      const outputs = (await readNotebook(out)).cells[0].outputs ?? [];
      const text = (o: { text?: string | string[] }) =>
        Array.isArray(o.text) ? o.text.join("") : o.text ?? "";
      const count = Number(outputs.map(text).join("").match(/updates (\d+)/)?.[1] ?? "0");
      // start + 3 batches + end, per epoch, and done: 16 snapshots; the display sent at least
      // the 7 unthrottled ones (each start and end of an epoch, and done).
      assert.ok(count >= 16, `updates sent: ${count}`);
      const displays = outputs.filter((o) => o.output_type === "display_data");
      assert.equal(displays.length, 1, JSON.stringify(outputs).slice(0, 2000));
      const plain = displays[0].data!["text/plain"];
      const final = Array.isArray(plain) ? plain.join("") : plain;
      assert.match(final, /^compact-s7: stopped after epoch 3\/3, reached the epoch limit/);
      assert.doesNotMatch(JSON.stringify(displays[0]), /batch \d+\/3/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
