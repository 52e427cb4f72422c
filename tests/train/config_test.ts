import assert from "node:assert/strict";
import {
  chestRegionOf,
  resolveConfig,
  sameConfig,
  type TrainConfig,
} from "../../lib/train/config.ts";

Deno.test("config: the model's defaults and the seed's early stopping fill what is not given", () => {
  const c = resolveConfig({ model: "cnn_reg", data: "d" });
  assert.equal(c.size, 150);
  assert.equal(c.channels, 3);
  assert.equal(c.batchSize, 8);
  assert.deepEqual(c.earlyStopping, { metric: "val_accuracy", patience: 8 });
  assert.equal(c.fraction, 1);
  assert.equal(c.balance, "none");
  assert.equal(c.out, "outputs/runs/cnn_reg-s42");
  const g = resolveConfig({ model: "compact", data: "d", size: 64, seed: 3, fraction: 0.25 });
  assert.equal(g.channels, 1);
  assert.equal(g.augment, true);
  assert.equal(g.name, "compact-s3");
  assert.equal(g.fraction, 0.25);
});

Deno.test("config: bad values are errors that name the run and the value", () => {
  assert.throws(
    () => resolveConfig({ model: "cnn", data: "d", fraction: 0 }),
    /fraction 0 must be in/,
  );
  assert.throws(() => resolveConfig({ model: "cnn", data: "d", size: 10 }), /size 10 < 22/);
  assert.throws(
    () => resolveConfig({ model: "cnn", data: "d", balance: "more" as "up" }),
    /run "cnn-s42": balance "more"/,
  );
  assert.throws(() => resolveConfig({ model: "vgg", data: "d" }), /Unknown model "vgg"/);
});

Deno.test("config: chestRegion defaults to none, keeps crop/mask, rejects others", () => {
  const c = resolveConfig({ model: "compact", data: "d" });
  assert.equal(c.chestRegion, "none");
  assert.equal(
    resolveConfig({ model: "compact", data: "d", chestRegion: "crop" }).chestRegion,
    "crop",
  );
  assert.equal(
    resolveConfig({ model: "compact", data: "d", chestRegion: "mask" }).chestRegion,
    "mask",
  );
  assert.throws(
    () => resolveConfig({ model: "compact", data: "d", chestRegion: "lungs" as "crop" }),
    /run "compact-s42": chestRegion "lungs" \(expected none, crop, mask\)/,
  );
  // A config saved before the field existed means "none", and still matches a fresh "none" one.
  const { chestRegion: _, ...old } = c;
  assert.equal(chestRegionOf(old as TrainConfig), "none");
  assert.ok(sameConfig(old as TrainConfig, c));
  assert.ok(!sameConfig(old as TrainConfig, { ...c, chestRegion: "crop" }));
  assert.ok(!sameConfig(null, c));
});

Deno.test("config: weightAverage defaults to none, checks its epoch, old configs still match", () => {
  const c = resolveConfig({ model: "compact", data: "d", epochs: 8 });
  assert.equal(c.weightAverage, null);
  const w = resolveConfig({
    model: "compact",
    data: "d",
    epochs: 8,
    weightAverage: { fromEpoch: 4 },
  });
  assert.deepEqual(w.weightAverage, { fromEpoch: 4 });
  for (const fromEpoch of [0, 9, 2.5]) {
    assert.throws(
      () => resolveConfig({ model: "compact", data: "d", epochs: 8, weightAverage: { fromEpoch } }),
      new RegExp(`weightAverage.fromEpoch ${fromEpoch} must be an epoch, 1 to 8`),
    );
  }
  const { weightAverage: _, ...old } = c;
  assert.ok(sameConfig(old as TrainConfig, c), "a config saved before the field means none");
  assert.ok(!sameConfig(old as TrainConfig, w));
});
