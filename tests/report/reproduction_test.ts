/**
 * The reproduction record on a tiny synthetic run (ci-sized): chapter 17's table (the seed's
 * figures beside ours, our test evaluation on the official test/ folder), then summary.json,
 * table.json / table.md and a copied run folder that `deno task evaluate --run` scores.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { initBackend } from "../../lib/backend/select.ts";
import { writeSyntheticDataset } from "../../lib/data/synthetic.ts";
import { chapterSettings } from "../../lib/report/params.ts";
import { trainOrReuse } from "../../lib/chapters/_training.ts";
import {
  reproduce,
  reproductionMarkdown,
  reproductionRows,
  SEED_TABLE,
} from "../../lib/chapters/_reproduction.ts";
import {
  type ReproductionSummary,
  runsOlderThan,
  writeReproduction,
} from "../../lib/report/reproduction.ts";
import { PROJECT_ROOT } from "../../lib/util/project.ts";
import type { RunRecord } from "../../lib/chapters/_context.ts";

await initBackend();

Deno.test("reproductionMarkdown: the seed's rows quoted, ours beside them, missing runs said", () => {
  const rec = {
    name: "cnn_reg",
    config: { model: "cnn_reg", size: 150, channels: 3 },
    summary: {
      trainImages: 4172,
      val: { loss: 0.2, accuracy: 0.95, recall: 0.97, precision: 0.96, f1: 0.965, auc: 0.99 },
      trainableParams: 1234,
      totalTimeS: 900,
      epochsRun: 12,
      meanEpochTimeS: 75,
      stoppedEarly: true,
      workers: 2,
    },
  } as unknown as RunRecord;
  const rows = reproductionRows(new Map([["cnn_reg", rec]]));
  assert.equal(rows.length, SEED_TABLE.length);
  const reg = rows.find((r) => r.run === "cnn_reg")!;
  assert.equal(reg.seed.totalTimeS, 1793);
  assert.equal(reg.seed.epochs, 17);
  assert.equal(reg.ours?.stoppedBy, "patience");
  const md = reproductionMarkdown(rows, {
    run: "cnn_reg",
    images: "the second-site sample S (10 images)",
    kind: "second-site",
    n: 10,
    accuracy: 0.8,
    recall: 0.9,
    precision: 0.7,
    f1: 0.79,
    auc: 0.85,
  }, "full");
  assert.match(
    md,
    /\| CNN with regularisation \(cnn_reg\) \| seed \| .* \| 1793 \| 17 \| 105 \| - \|/,
  );
  assert.match(md, /\| \| ours \| 150x150x3 \| 4172 \| 1234 \| 900 \| 12 \| 75 \| patience \|/);
  assert.match(
    md,
    /\| CNN with regularisation \(cnn_reg\) \| 0\.200 \| 0\.950 \| 0\.970 \| 0\.960 \| 0\.965 \|/,
  );
  assert.match(md, /\| CNN \(cnn\) \| seed .* \| 2295 \| 25 \| 92 \|/);
  assert.match(md, /ours \| not trained in this report/);
  assert.match(md, /accuracy 0\.756, recall 0\.995, precision 0\.721/);
  assert.match(md, /not the seed's 624 test images/);
  assert.match(md, /the seed 8579 s/);
});

Deno.test("reproduction record: summary.json, the table, and a copied run that evaluate scores", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "test_reproduction_" });
  try {
    const data = join(tmp, "data");
    await writeSyntheticDataset(data, { perClass: 10, size: 48, seed: 4 });
    const startedAt = new Date(Date.now() - 2000).toISOString();
    const s = chapterSettings({
      profile: "ci",
      data,
      out: join(tmp, "report"),
      seed: 3,
      size: 46,
      epochs: 2,
      patience: 2,
      fraction: 1,
    });
    await trainOrReuse(s, { name: "cnn_reg", model: "cnn_reg" }, () => {});
    const md = await reproduce(s);
    assert.match(md, /official test\/ folder \(\d+ images\), as the seed: accuracy/);
    const repro = join(tmp, "reproduction");
    const summary = await writeReproduction(repro, {
      settings: s,
      profile: "ci",
      startedAt,
      freshStart: false,
      seconds: 12.4,
      chapters: { "04_cnn_regularised": 10.2, "17_conclusions": 2.2 },
      commit: "abc",
      dirty: false,
      command: "deno task report --profile ci",
    });
    const saved: ReproductionSummary = JSON.parse(
      await Deno.readTextFile(join(repro, "summary.json")),
    );
    assert.deepEqual(saved, summary);
    assert.equal(saved.profile, "ci");
    assert.equal(saved.fresh, true, "the only run was trained after the report started");
    assert.equal(saved.seconds, 12);
    assert.deepEqual(saved.chapters, { "04_cnn_regularised": 10, "17_conclusions": 2 });
    assert.ok(saved.cpu.length > 0 && saved.cores >= 1);
    assert.equal(saved.commit, "abc");
    assert.deepEqual(saved.runs, ["cnn_reg"]);
    const table = JSON.parse(await Deno.readTextFile(join(repro, "table.json")));
    assert.equal(table.rows.length, SEED_TABLE.length);
    assert.equal(table.test.ours.kind, "official-test");
    assert.match(await Deno.readTextFile(join(repro, "table.md")), /The seed's table beside ours/);
    await assert.rejects(Deno.stat(join(repro, "runs", "cnn_reg", "checkpoint")));
    // A run trained before the report started makes it not fresh.
    assert.deepEqual(await runsOlderThan(s.runsDir, new Date(Date.now() + 60_000)), ["cnn_reg"]);
    const ev = await new Deno.Command(Deno.execPath(), {
      args: [
        "task",
        "evaluate",
        "--run",
        join(repro, "runs", "cnn_reg"),
        "--data",
        data,
        "--split",
        "test",
        "--json",
      ],
      cwd: PROJECT_ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(ev.success, new TextDecoder().decode(ev.stderr));
    const out = JSON.parse(new TextDecoder().decode(ev.stdout));
    assert.equal(out.n, table.test.ours.n, "evaluate scores the same test images");
    assert.ok(out.auc >= 0 && out.auc <= 1 && Array.isArray(out.confusion));
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
