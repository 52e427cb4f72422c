import assert from "node:assert/strict";
import { syntheticTrainData } from "../../lib/train/synthetic_data.ts";

Deno.test("syntheticTrainData: seeded splits of both classes, channels replicated", () => {
  const a = syntheticTrainData({ trainPerClass: 3, valPerClass: 2, size: 16, channels: 1 });
  assert.equal(a.train.records.length, 6);
  assert.equal(a.val.records.length, 4);
  assert.deepEqual(Array.from(a.train.labels), [0, 1, 0, 1, 0, 1]);
  assert.equal(a.train.imageBytes, 256);
  assert.ok(a.train.records.every((r) => r.split === "train"));
  assert.equal(new Set([...a.train.records, ...a.val.records].map((r) => r.patientId)).size, 10);
  const again = syntheticTrainData({ trainPerClass: 3, valPerClass: 2, size: 16, channels: 1 });
  assert.deepEqual(again.train.pixels, a.train.pixels);
  const rgb = syntheticTrainData({ trainPerClass: 3, valPerClass: 2, size: 16, channels: 3 });
  assert.equal(rgb.train.imageBytes, 768);
  for (let p = 0; p < 256; p++) {
    const v = rgb.train.pixels[3 * p];
    assert.equal(rgb.train.pixels[3 * p + 1], v);
    assert.equal(rgb.train.pixels[3 * p + 2], v);
    assert.equal(v, a.train.pixels[p]); // same pictures as the grayscale set
  }
});

Deno.test("syntheticTrainData: bad sizes and counts are errors that name the option", () => {
  const base = { trainPerClass: 1, valPerClass: 1, size: 16, channels: 1 as const };
  assert.throws(() => syntheticTrainData({ ...base, size: 4 }), /size must be an integer >= 8/);
  assert.throws(() => syntheticTrainData({ ...base, valPerClass: 0 }), /valPerClass must be/);
});
