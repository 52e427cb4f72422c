import assert from "node:assert/strict";
import {
  applyChestRegion,
  applyChestRegionBatch,
  boxPixels,
  CHEST_BOX,
} from "../../lib/images/chest_region.ts";

/** 20x20 grayscale: 200 inside the chest box (cols 3..16, rows 2..17), 50 outside. */
function twoTone(): Uint8Array {
  const img = new Uint8Array(400);
  const [left, top, w, h] = boxPixels(20, CHEST_BOX);
  for (let y = 0; y < 20; y++) {
    for (let x = 0; x < 20; x++) {
      img[y * 20 + x] = x >= left && x < left + w && y >= top && y < top + h ? 200 : 50;
    }
  }
  return img;
}

Deno.test("boxPixels of the default chest box", () => {
  assert.deepEqual(boxPixels(20), [3, 2, 14, 16]);
  assert.deepEqual(boxPixels(128), [19, 13, 90, 102]);
  assert.throws(() => boxPixels(10, { x0: 0.5, x1: 0.4, y0: 0, y1: 1 }), /must satisfy/);
});

Deno.test("mask blacks out everything outside the box, crop keeps only the box", async () => {
  const img = twoTone();
  const masked = await applyChestRegion(img, 20, 1, "mask");
  assert.equal(masked.filter((v) => v === 200).length, 14 * 16);
  assert.equal(masked.filter((v) => v === 0).length, 400 - 14 * 16);
  const cropped = await applyChestRegion(img, 20, 1, "crop");
  assert.equal(cropped.length, 400);
  assert.ok(cropped.every((v) => v === 200), "crop resized the inside to the full image");
  assert.deepEqual(await applyChestRegion(img, 20, 1, "none"), img);
  await assert.rejects(applyChestRegion(img, 21, 1, "crop"), /400 bytes, expected 21x21x1/);
});

Deno.test("batch version works in place on RGB blocks", async () => {
  const one = twoTone();
  const rgb = new Uint8Array(1200);
  one.forEach((v, i) => rgb.fill(v, i * 3, i * 3 + 3));
  const batch = new Uint8Array(2400);
  batch.set(rgb, 0);
  batch.set(rgb, 1200);
  await applyChestRegionBatch(batch, 20, 3, "crop");
  assert.ok(batch.every((v) => v === 200));
  await assert.rejects(
    applyChestRegionBatch(new Uint8Array(1000), 20, 3, "mask"),
    /not a whole number/,
  );
});

Deno.test("crop is byte-identical to sharp's extract + linear resize (1 and 3 channels)", async () => {
  const sharp = (await import("sharp")).default;
  for (const size of [16, 20, 32, 64, 128, 150, 224]) {
    for (const channels of [1, 3] as const) {
      const img = new Uint8Array(size * size * channels).map((_, i) =>
        (Math.imul(i + size, 2654435761) >>> 24) & 255
      );
      const [left, top, width, height] = boxPixels(size, CHEST_BOX);
      const ref = await sharp(img, { raw: { width: size, height: size, channels } })
        .extract({ left, top, width, height })
        .resize(size, size, { kernel: "linear", fit: "fill" })
        .toColourspace(channels === 1 ? "b-w" : "srgb")
        .raw()
        .toBuffer();
      const got = await applyChestRegion(img, size, channels, "crop");
      assert.deepEqual([...got], [...ref], `size ${size}, ${channels} channel(s)`);
    }
  }
});
