/**
 * A report killed with SIGKILL in the middle of training and started again with the same command
 * continues: the notebook it finished is kept (its run not retrained), and the run it was
 * training resumes after its last finished epoch. Notebooks in a temp folder train two small
 * runs through the chapters' trainOrReuse on a synthetic dataset, ci profile.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { writeSyntheticDataset } from "../../lib/data/synthetic.ts";
import { PROJECT_ROOT } from "../../lib/util/project.ts";
import { readCsv } from "../../lib/util/csv.ts";
import type { ProgressState } from "../../lib/report/progress.ts";
import { descendants } from "../util/_procs.ts";
import { hasDenoKernel } from "./_kernel.ts";

const lib = (p: string) => pathToFileURL(join(PROJECT_ROOT, "lib", p)).href;

const notebook = (run: string) =>
  JSON.stringify({
    cells: [
      {
        cell_type: "code",
        metadata: { tags: ["parameters"] },
        execution_count: null,
        outputs: [],
        source: 'const params = {\n  data: "x", out: "x", seed: 1, size: 32, epochs: 2, ' +
          "patience: 2, fraction: 1,\n};",
      },
      {
        cell_type: "code",
        metadata: {},
        execution_count: null,
        outputs: [],
        source: `import { setupChapter } from "${lib("chapters/_context.ts")}";\n` +
          `import { trainOrReuse } from "${lib("chapters/_training.ts")}";\n` +
          `const s = await setupChapter(params);\n` +
          `const r = await trainOrReuse(s, { name: "${run}", model: "compact" });\n` +
          `console.log("epochs run", r.summary.epochsRun);`,
      },
    ],
    metadata: { kernelspec: { name: "deno", display_name: "Deno", language: "typescript" } },
    nbformat: 4,
    nbformat_minor: 4,
  });

Deno.test({
  name: "a report killed (SIGKILL) mid-training continues: done work kept, training resumed",
  ignore: !(await hasDenoKernel()),
  async fn() {
    // Inside the project (outputs/ is not tracked), so that the kernel and the driver find
    // deno.json and node_modules for the library's npm imports.
    const tmp = await Deno.makeTempDir({
      prefix: "test_report_resume_",
      dir: join(PROJECT_ROOT, "outputs"),
    });
    try {
      const data = join(tmp, "data");
      await writeSyntheticDataset(data, { perClass: 16, size: 40, seed: 2 });
      const nbs = join(tmp, "notebooks");
      await Deno.mkdir(nbs);
      await Deno.writeTextFile(join(nbs, "01_a.ipynb"), notebook("a"));
      await Deno.writeTextFile(join(nbs, "02_b.ipynb"), notebook("b"));
      const out = join(tmp, "out");
      const driver = join(tmp, "driver.ts");
      await Deno.writeTextFile(
        driver,
        `import { runReport } from "${lib("report/report.ts")}";\n` +
          `const r = await runReport(${
            JSON.stringify({
              profile: "ci",
              data,
              out,
              notebooksDir: nbs,
              site: "none",
              sets: ["02.epochs=12", "02.patience=12"],
              reproduction: null,
            })
          });\n` +
          `console.log(JSON.stringify({ skipped: r.skipped, continued: r.continued, ` +
          `failure: r.failure?.message ?? null }));\n`,
      );
      const start = () =>
        new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", driver],
          stdout: "piped",
          stderr: "piped",
        }).spawn();
      const runs = join(out, "runs");
      // First call: killed once run b has a checkpoint of at least one finished epoch.
      const first = start();
      const ckpt = join(runs, "b", "checkpoint", "state.json");
      const t0 = Date.now();
      let exited = false;
      first.status.then(() => exited = true);
      const firstErr = new Response(first.stderr).text();
      while (!(await Deno.stat(ckpt).then(() => true, () => false))) {
        if (exited) assert.fail(`the report ended before run b checkpointed: ${await firstErr}`);
        assert.ok(Date.now() - t0 < 600_000, "run b never checkpointed");
        await new Promise((r) => setTimeout(r, 200));
      }
      const tree = [first.pid, ...(await descendants(first.pid))];
      // kill -9 of the report and of everything it started (jupyter and the kernel too: a
      // kernel left running would go on training into the same folder).
      for (const p of tree) {
        try {
          Deno.kill(p, "SIGKILL");
        } catch { /* gone already */ }
      }
      await first.status;
      await first.stdout.cancel();
      await firstErr;
      assert.ok(!(await Deno.stat(join(runs, "b", "summary.json")).then(() => true, () => false)));
      const aSummary = (await Deno.stat(join(runs, "a", "summary.json"))).mtime!.getTime();
      // The run resumes from its checkpoint, written just after metrics.csv: a kill between the
      // two leaves metrics.csv one epoch ahead, so the checkpoint says where it resumes.
      const killedAfter: number = JSON.parse(await Deno.readTextFile(ckpt)).state.epoch;
      const rows = (await readCsv(join(runs, "b", "metrics.csv"))).length;
      assert.ok(killedAfter >= 1 && killedAfter < 12, `b had ${killedAfter} epochs`);
      assert.ok(rows === killedAfter || rows === killedAfter + 1, `${rows} rows, ${killedAfter}`);
      const before = await Deno.readTextFile(join(out, "progress.json")).then(JSON.parse);
      assert.equal(before.finished, false);
      assert.ok(before.done["01_a.ipynb"] && !before.done["02_b.ipynb"]);
      // Second call, the same command: continues.
      const second = await start().output();
      assert.ok(second.success, new TextDecoder().decode(second.stderr));
      const res = JSON.parse(new TextDecoder().decode(second.stdout).trim().split("\n").pop()!);
      assert.equal(res.failure, null);
      assert.equal(res.continued, true);
      assert.deepEqual(res.skipped.map((p: string) => p.split("/").pop()), ["01_a.ipynb"]);
      assert.equal((await Deno.stat(join(runs, "a", "summary.json"))).mtime!.getTime(), aSummary);
      const epochs = (await readCsv(join(runs, "b", "metrics.csv"))).map((r) => Number(r.epoch));
      assert.deepEqual(epochs, epochs.map((_, i) => i + 1), "b's epochs run on without a gap");
      assert.ok(epochs.length > killedAfter);
      const b = await Deno.readTextFile(join(out, "02_b.ipynb"));
      assert.match(b, new RegExp(`resuming b after epoch ${killedAfter}`));
      assert.ok(!/epoch 1\/12 /.test(b), "b's first epoch was not trained again");
      const after: ProgressState = JSON.parse(await Deno.readTextFile(join(out, "progress.json")));
      assert.equal(after.finished, true);
      assert.ok(after.elapsedS >= before.elapsedS);
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
