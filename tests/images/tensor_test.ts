import assert from "node:assert/strict";
import { gatherImages, grayToRgb, rgbToGray, toFloatBatch } from "../../lib/images/tensor.ts";

// Three 2x2 gray images: image k holds values 10k, 10k+1, 10k+2, 10k+3.
const data = new Uint8Array([0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23]);

Deno.test("toFloatBatch gathers the chosen images in order and scales them", () => {
  const b = toFloatBatch(data, [2, 0], 4);
  assert.ok(b instanceof Float32Array);
  assert.equal(b.length, 8);
  const expected = [20, 21, 22, 23, 0, 1, 2, 3].map((v) => Math.fround(v / 255));
  assert.deepEqual(Array.from(b), expected);
  const c = toFloatBatch(data, [1], 4, 2, -1);
  assert.deepEqual(Array.from(c), [19, 21, 23, 25]);
  assert.equal(toFloatBatch(data, [], 4).length, 0);
  assert.equal(toFloatBatch(new Uint8Array([255]), [0], 1)[0], 1);
});

Deno.test("toFloatBatch rejects bad indices and sizes with the numbers", () => {
  assert.throws(() => toFloatBatch(data, [3], 4), /index 3 out of range: data holds 3 images/);
  assert.throws(() => toFloatBatch(data, [-1], 4), /out of range/);
  assert.throws(() => toFloatBatch(data, [0], 5), /not a multiple/);
  assert.throws(() => toFloatBatch(data, [0], 0), /positive integer/);
});

Deno.test("gatherImages copies uint8 images", () => {
  assert.deepEqual(Array.from(gatherImages(data, [1, 1], 4)), [10, 11, 12, 13, 10, 11, 12, 13]);
});

Deno.test("grayToRgb and rgbToGray", () => {
  const rgb = grayToRgb(new Uint8Array([5, 200]));
  assert.deepEqual(Array.from(rgb), [5, 5, 5, 200, 200, 200]);
  assert.deepEqual(Array.from(rgbToGray(rgb)), [5, 200]);
  assert.deepEqual(Array.from(rgbToGray(new Uint8Array([0, 1, 1]))), [1]);
  const f = grayToRgb(new Float32Array([0.5]));
  assert.ok(f instanceof Float32Array);
  assert.deepEqual(Array.from(f), [0.5, 0.5, 0.5]);
  assert.throws(() => rgbToGray(new Uint8Array(4)), /multiple of 3/);
});
