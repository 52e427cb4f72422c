import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import sharp from "sharp";
import { initBackend } from "../../lib/backend/select.ts";
import { screenFiles } from "../../lib/eval/screen.ts";
import { oodFixture } from "../images/_ood_fixture.ts";
import { renderChest } from "../../lib/data/synthetic.ts";
import { makeRng } from "../../lib/util/rng.ts";

Deno.test("screenFiles works through chunks of files and screens as in one pass", async () => {
  await initBackend({ prefer: "cpu" });
  const dir = await Deno.makeTempDir();
  const model = tfl.sequential();
  model.add(tfl.layers.globalAveragePooling2d({ inputShape: [16, 16, 1] }));
  model.add(tfl.layers.dense({ units: 1, activation: "sigmoid" }));
  model.layers[1].setWeights([tf.tensor2d([1], [1, 1]), tf.tensor1d([0])]);
  try {
    const paths: string[] = [];
    for (let i = 0; i < 9; i++) {
      const p = join(dir, `c${i}.png`);
      if (i === 4) await Deno.writeTextFile(p, "not an image");
      else {
        const px = renderChest(makeRng(i), 32, i % 2 ? "normal" : "virus");
        await sharp(px, { raw: { width: 32, height: 32, channels: 1 } }).png().toFile(p);
      }
      paths.push(p);
    }
    const chests = Array.from(
      { length: 20 },
      (_, i) => renderChest(makeRng(100 + i), 16, "normal"),
    );
    const ood = oodFixture(chests, 16, { mean: 0.4, precision: 50 });
    const run = {
      model,
      preprocessing: {
        size: 16,
        channels: 1 as const,
        scale: 1 / 255,
        mean: 0,
        std: 1,
        chestRegion: "none" as const,
        intensity: "none" as const,
      },
    };
    const whole = await screenFiles(run, paths, ood);
    const chunked = await screenFiles(run, paths, ood, 2);
    assert.equal(chunked.length, 9);
    assert.equal(chunked[4], null, "the unreadable file");
    assert.ok(chunked.every((s, i) => i === 4 || Number.isFinite(s!.distance)));
    assert.deepEqual(chunked, whole);
  } finally {
    model.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});
