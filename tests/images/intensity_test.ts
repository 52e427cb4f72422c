import assert from "node:assert/strict";
import {
  applyIntensityBatch,
  checkIntensityMode,
  claheImage,
  equalizeInPlace,
  standardizeInPlace,
} from "../../lib/images/intensity.ts";
import { intensityInPlace } from "../../lib/images/intensity_core.ts";
import { makeRng } from "../../lib/util/rng.ts";

/** A dim, low-contrast 16x16 image (values 40..80). */
function dim(seed = 1): Uint8Array {
  const rng = makeRng(seed);
  return Uint8Array.from({ length: 256 }, () => 40 + Math.floor(rng() * 41));
}

const meanSd = (px: ArrayLike<number>) => {
  const a = Array.from(px), m = a.reduce((s, v) => s + v, 0) / a.length;
  return [m, Math.sqrt(a.reduce((s, v) => s + (v - m) ** 2, 0) / a.length)];
};

Deno.test("standardize: mean 128 and sd 48 whatever the exposure; flat images go to 128", () => {
  for (const shift of [0, 100]) {
    const px = dim().map((v) => v + shift);
    standardizeInPlace(px);
    const [m, sd] = meanSd(px);
    assert.ok(Math.abs(m - 128) < 1, `mean ${m}`);
    assert.ok(Math.abs(sd - 48) < 1, `sd ${sd}`);
  }
  const flat = new Uint8Array(10).fill(7);
  standardizeInPlace(flat);
  assert.ok(flat.every((v) => v === 128));
});

Deno.test("equalize: order kept, darkest value to 0, brightest to 255, flat image unchanged", () => {
  const px = dim();
  const before = Array.from(px);
  equalizeInPlace(px);
  assert.equal(Math.min(...px), 0);
  assert.equal(Math.max(...px), 255);
  for (let i = 0; i < 50; i++) {
    for (let j = 0; j < 50; j++) {
      if (before[i] < before[j]) assert.ok(px[i] <= px[j]);
    }
  }
  // About uniform: the median lands near the middle.
  const sorted = Array.from(px).sort((a, b) => a - b);
  assert.ok(Math.abs(sorted[128] - 128) < 20, `median ${sorted[128]}`);
  const flat = new Uint8Array(9).fill(77);
  equalizeInPlace(flat);
  assert.ok(flat.every((v) => v === 77));
});

Deno.test("clahe (sharp) raises local contrast and keeps the size", async () => {
  const out = await claheImage(dim(), 16);
  assert.equal(out.length, 256);
  assert.ok(meanSd(out)[1] > meanSd(dim())[1], "contrast rises");
});

Deno.test("applyIntensityBatch: every image, channels kept equal, none is a no-op", async () => {
  const grey = dim(3);
  const rgb = new Uint8Array(256 * 3);
  grey.forEach((v, i) => rgb.fill(v, i * 3, i * 3 + 3));
  const block = new Uint8Array([...rgb, ...rgb]);
  const copy = block.slice();
  await applyIntensityBatch(block, 16, 3, "none");
  assert.deepEqual(block, copy);
  for (const mode of ["standardize", "equalize", "clahe"] as const) {
    const b = copy.slice();
    await applyIntensityBatch(b, 16, 3, mode);
    assert.notDeepEqual(b, copy, mode);
    for (let i = 0; i < b.length; i += 3) assert.ok(b[i] === b[i + 1] && b[i] === b[i + 2]);
    assert.deepEqual(b.subarray(0, 768), b.subarray(768), `${mode}: same image, same result`);
  }
  await assert.rejects(
    () => applyIntensityBatch(new Uint8Array(5), 2, 1, "equalize"),
    /not a whole/,
  );
  assert.throws(() => checkIntensityMode("gamma"), /none, standardize, equalize, clahe/);
});

Deno.test("intensityInPlace (no native code, the page's path) matches the batch path; CLAHE refused", async () => {
  const grey = dim(5);
  for (const mode of ["standardize", "equalize"] as const) {
    const one = intensityInPlace(grey.slice(), 16, 1, mode);
    const batch = grey.slice();
    await applyIntensityBatch(batch, 16, 1, mode);
    assert.deepEqual(one, batch, mode);
  }
  assert.deepEqual(intensityInPlace(grey.slice(), 16, 1, "none"), grey);
  assert.throws(() => intensityInPlace(grey.slice(), 16, 1, "clahe"), /CLAHE, which needs sharp/);
});
