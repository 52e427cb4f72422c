import assert from "node:assert/strict";
import { join } from "node:path";
import sharp from "sharp";
import {
  dctLowBlock,
  hammingDistance,
  hashImages,
  phash,
  phashHex,
  pixelCorrelation,
  thumbnailConfirm,
} from "../../lib/eval/phash.ts";
import { makeRng } from "../../lib/util/rng.ts";

/** A smooth random image with a 1/f-like spectrum (as photos have), plus a little noise. */
function randomImage(seed: number): Float64Array {
  const rng = makeRng(seed);
  const amp = Array.from(
    { length: 64 },
    (_, i) => (rng() * 2 - 1) / (1 + (i % 8) + Math.floor(i / 8)),
  );
  return Float64Array.from({ length: 1024 }, (_, i) => {
    const x = i % 32, y = Math.floor(i / 32);
    let v = 128;
    for (let k = 0; k < 64; k++) {
      const u = k % 8, w = Math.floor(k / 8);
      v += 60 * amp[k] * Math.cos(((2 * x + 1) * u * Math.PI) / 64) *
        Math.cos(((2 * y + 1) * w * Math.PI) / 64);
    }
    return v + 4 * (rng() - 0.5);
  });
}

Deno.test("dctLowBlock matches the DCT-II formula", () => {
  const img = randomImage(1);
  const d = dctLowBlock(img);
  for (const [v, u] of [[0, 0], [0, 3], [5, 2], [7, 7]]) {
    let s = 0;
    for (let y = 0; y < 32; y++) {
      for (let x = 0; x < 32; x++) {
        s += img[y * 32 + x] * Math.cos(((2 * x + 1) * u * Math.PI) / 64) *
          Math.cos(((2 * y + 1) * v * Math.PI) / 64);
      }
    }
    assert.ok(Math.abs(d[v * 8 + u] - s) < 1e-6, `(${v}, ${u}): ${d[v * 8 + u]} vs ${s}`);
  }
  assert.throws(() => dctLowBlock(new Float64Array(10)), /expected 32x32/);
});

Deno.test("pHash: flat image, hex, Hamming, robustness", () => {
  // a flat image has only DC energy: AC median 0, only bit 0 (DC) is set
  assert.deepEqual(phash(new Float64Array(1024).fill(100)), [0x80000000, 0]);
  assert.equal(phashHex([0x80000000, 1]), "8000000000000001");
  assert.equal(hammingDistance([0xffffffff, 0], [0, 0]), 32);
  assert.equal(hammingDistance([0b1011, 0b1], [0b0001, 0b0]), 3);
  const a = randomImage(2);
  const brighter = a.map((v) => v * 1.1 + 8);
  const other = randomImage(3);
  assert.ok(hammingDistance(phash(a), phash(brighter)) <= 2, "brightness change");
  assert.ok(hammingDistance(phash(a), phash(other)) > 12, "different image");
});

Deno.test("hashImages reads files: a recompressed copy is a near duplicate", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const raw = Uint8Array.from(randomImage(4), (v) => Math.max(0, Math.min(255, Math.round(v))));
    const img = sharp(raw, { raw: { width: 32, height: 32, channels: 1 } }).resize(128, 128);
    await img.clone().jpeg({ quality: 95 }).toFile(join(dir, "a.jpeg"));
    await img.clone().resize(100, 100).jpeg({ quality: 40 }).toFile(join(dir, "b.jpeg"));
    const raw2 = Uint8Array.from(randomImage(5), (v) => Math.max(0, Math.min(255, Math.round(v))));
    await sharp(raw2, { raw: { width: 32, height: 32, channels: 1 } }).resize(128, 128).png()
      .toFile(join(dir, "c.png"));
    await Deno.writeTextFile(join(dir, "bad.jpeg"), "not an image");
    const [a, b, c, bad] = await hashImages(
      ["a.jpeg", "b.jpeg", "c.png", "bad.jpeg"].map((f) => join(dir, f)),
      { cacheDir: null },
    );
    assert.equal(bad, null);
    assert.ok(hammingDistance(a!, b!) <= 4, `copy distance ${hammingDistance(a!, b!)}`);
    assert.ok(hammingDistance(a!, c!) > 12, `other distance ${hammingDistance(a!, c!)}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pixelCorrelation and thumbnailConfirm", () => {
  assert.ok(Math.abs(pixelCorrelation([1, 2, 3], [2, 4, 6]) - 1) < 1e-12);
  assert.ok(Math.abs(pixelCorrelation([1, 2, 3], [3, 2, 1]) + 1) < 1e-12);
  assert.ok(Number.isNaN(pixelCorrelation([1, 1], [1, 2])));
  const a = Uint8Array.from(randomImage(7), (v) => Math.max(0, Math.min(255, Math.round(v))));
  const b = Uint8Array.from(randomImage(8), (v) => Math.max(0, Math.min(255, Math.round(v))));
  const thumbs = new Uint8Array(3072);
  thumbs.set(a, 0), thumbs.set(a.map((v) => Math.min(255, v + 3)), 1024), thumbs.set(b, 2048);
  const confirm = thumbnailConfirm(thumbs);
  assert.equal(confirm(0, 1), true);
  assert.equal(confirm(0, 2), false);
});
