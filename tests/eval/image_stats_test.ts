import assert from "node:assert/strict";
import { imageStats, pixelSample, summariseImageStats } from "../../lib/eval/image_stats.ts";

Deno.test("imageStats: mean, contrast, border, percentiles of each image", () => {
  const size = 10;
  // Image 0: flat 100. Image 1: bright frame (1 pixel wide) of 250 around 50.
  const a = new Uint8Array(100).fill(100);
  const b = new Uint8Array(100).fill(50);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      if (x === 0 || y === 0 || x === 9 || y === 9) b[y * size + x] = 250;
    }
  }
  const [s0, s1] = imageStats(new Uint8Array([...a, ...b]), 2, size, 0.1);
  assert.deepEqual(s0, { mean: 100, sd: 0, border: 100, p5: 100, p95: 100 });
  assert.equal(s1.border, 250);
  assert.equal(s1.mean, (36 * 250 + 64 * 50) / 100);
  assert.equal(s1.p5, 50);
  assert.equal(s1.p95, 250);
  assert.ok(Math.abs(s1.sd - Math.sqrt(0.36 * 0.64) * 200) < 1e-9);
  const sum = summariseImageStats([s0, s1]);
  assert.equal(sum.border.mean, 175);
  assert.ok(Math.abs(sum.border.sd - Math.sqrt(2 * 75 ** 2)) < 1e-9);
  assert.deepEqual(pixelSample(new Uint8Array([...a, ...b]), 2, size, 50), [100, 100, 250, 250]);
  assert.throws(() => imageStats(new Uint8Array(10), 1, size), /need 100 bytes/);
});
