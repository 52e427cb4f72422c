import assert from "node:assert/strict";
import { join } from "node:path";
import * as tfl from "@tensorflow/tfjs-layers";
import { initBackend } from "../../lib/backend/select.ts";
import { saveModel } from "../../lib/models/io.ts";
import { resolveConfig } from "../../lib/train/config.ts";
import { train } from "../../lib/train/train.ts";
import { tinyData } from "./_fixtures.ts";

await initBackend();

Deno.test("a frozen base computed once per image trains the same transfer model, bit for bit", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const base = tfl.sequential();
    base.add(tfl.layers.conv2d({ filters: 4, kernelSize: 3, inputShape: [16, 16, 3] }));
    base.add(tfl.layers.batchNormalization({}));
    base.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
    await saveModel(base, join(tmp, "base"));
    const data = tinyData(24, 16, 3);
    const cfg = (out: string) =>
      resolveConfig({
        model: "transfer",
        data: "/mem",
        out,
        size: 16,
        channels: 3,
        batchSize: 8,
        epochs: 3,
        seed: 7,
        basePath: join(tmp, "base"),
        earlyStopping: { metric: "val_loss", patience: 5 },
      });
    assert.equal(cfg("x").augment, false, "transfer trains on unaugmented images");
    const lines: string[] = [];
    await train(cfg(join(tmp, "cached")), { data, log: (l) => lines.push(l) });
    await train(cfg(join(tmp, "plain")), { data, log: () => {}, featureCache: false });
    const noTime = (csv: string) => csv.split("\n").map((l) => l.split(",").slice(0, -1).join(","));
    const read = (d: string, f: string) => Deno.readTextFile(join(tmp, d, f));
    assert.deepEqual(
      noTime(await read("cached", "metrics.csv")),
      noTime(await read("plain", "metrics.csv")),
    );
    assert.equal(
      await read("cached", "val_predictions.csv"),
      await read("plain", "val_predictions.csv"),
    );
    // 24 train + 24 val images computed once; every later epoch and pass reuses them.
    const m = lines.find((l) => l.startsWith("frozen base:"));
    assert.ok(m, lines.join("\n"));
    const [computed, reused] = m.match(/\d+/g)!.map(Number);
    assert.ok(computed <= 48, m);
    assert.ok(reused >= 2 * 24 + 2 * 24, m);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
