import assert from "node:assert/strict";
import { join } from "node:path";
import { compareRuns, comparisonMarkdown } from "../../lib/train/compare.ts";
import { writeJsonAtomic } from "../../lib/util/atomic.ts";

Deno.test("comparison rows come from each run's summary and config", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const dir = join(tmp, "r1");
    await writeJsonAtomic(join(dir, "config.json"), { name: "r1", size: 32, channels: 1 });
    await writeJsonAtomic(join(dir, "summary.json"), {
      model: "compact",
      trainableParams: 1234,
      epochsRun: 3,
      bestEpoch: 2,
      totalTimeS: 30,
      meanEpochTimeS: 10,
      trainImages: 100,
      valImages: 20,
      val: { loss: 0.25, accuracy: 0.9, recall: 0.95, precision: 0.9, f1: 0.924, auc: NaN },
    });
    const rows = await compareRuns([dir]);
    assert.equal(rows[0].input, "32x32x1");
    const md = comparisonMarkdown(rows).split("\n");
    assert.match(md[0], /^\| model \| input \|/);
    assert.equal(
      md[2],
      "| compact | 32x32x1 | 100 | 0.250 | 0.900 | 0.950 | 0.900 | 0.924 | n/a | " +
        "1,234 | 30 | 3 (2) | 10.0 |",
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
