/**
 * trainOrReuse does no work twice: a finished run is reused, the same model asked for under
 * another name shares the folder, an interrupted run resumes at its last finished epoch, and a
 * folder of another config is emptied before training.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { initBackend } from "../../lib/backend/select.ts";
import { writeSyntheticDataset } from "../../lib/data/synthetic.ts";
import { chapterSettings } from "../../lib/report/params.ts";
import {
  chapterConfig,
  RUN_KEY_FILE,
  type RunOutcome,
  type RunSpec,
  trainOrReuse,
} from "../../lib/chapters/_training.ts";
import { train, TrainingInterrupted } from "../../lib/train/train.ts";
import { readCsv } from "../../lib/util/csv.ts";

await initBackend();

Deno.test("trainOrReuse: reuse, share by config, resume after an interruption", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const data = join(tmp, "data");
    await writeSyntheticDataset(data, { perClass: 10, size: 32, seed: 3 });
    const s = chapterSettings({
      profile: "ci",
      data,
      out: join(tmp, "report"),
      seed: 5,
      size: 32,
      epochs: 3,
      patience: 3,
      fraction: 1,
    });
    const quiet = () => {};
    const outcomes: RunOutcome[] = [];
    const run = (spec: RunSpec) => trainOrReuse(s, spec, quiet, (o) => outcomes.push(o));
    const a = await run({ name: "a", model: "compact" });
    assert.equal(a.history.length, 3);
    await Deno.stat(join(s.runsDir, "a", RUN_KEY_FILE));
    const mtime = (await Deno.stat(join(s.runsDir, "a", "summary.json"))).mtime?.getTime();
    // Again under its own name: reused, not retrained.
    await run({ name: "a", model: "compact" });
    // The same model under another name: the folder is shared (a link), nothing trained.
    const b = await run({ name: "b", model: "compact" });
    assert.equal(b.name, "b");
    assert.ok((await Deno.lstat(join(s.runsDir, "b"))).isSymlink);
    assert.deepEqual(b.val.prob, a.val.prob);
    assert.equal((await Deno.stat(join(s.runsDir, "a", "summary.json"))).mtime?.getTime(), mtime);
    // Another config (fewer epochs) under the shared name: the link goes, a run of its own trains.
    const c = await run({ name: "b", model: "compact", epochs: 2 });
    assert.ok((await Deno.lstat(join(s.runsDir, "b"))).isDirectory);
    assert.equal(c.history.length, 2);
    await Deno.stat(join(s.runsDir, "a", "summary.json")); // the link's target is untouched
    // Interrupted after epoch 1 (the checkpoint is on disk, no summary): the next call resumes.
    const spec: RunSpec = { name: "d", model: "compact", fraction: 0.9 };
    await assert.rejects(
      train(chapterConfig(s, spec), { log: quiet, interruptAfter: 1 }),
      TrainingInterrupted,
    );
    const lines: string[] = [];
    const d = await trainOrReuse(s, spec, (l) => lines.push(l), (o) => outcomes.push(o));
    assert.ok(lines.some((l) => /resuming .* after epoch 1/.test(l)), lines.join("\n"));
    assert.ok(!lines.some((l) => /^epoch 1\//.test(l)), "epoch 1 is not trained again");
    assert.deepEqual((await readCsv(join(d.dir, "metrics.csv"))).map((r) => r.epoch), [
      "1",
      "2",
      "3",
    ]);
    assert.deepEqual(outcomes, ["trained", "reused", "shared", "trained", "resumed"]);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
