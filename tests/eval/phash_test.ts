import assert from "node:assert/strict";
import { join } from "node:path";
import sharp from "sharp";
import {
  dctLowBlock,
  distanceProfile,
  hammingDistance,
  hashImages,
  leakageAudit,
  type PHash,
  phash,
  phashHex,
  pixelCorrelation,
  thumbnailConfirm,
} from "../../lib/eval/phash.ts";
import type { SplitRecord } from "../../lib/data/types.ts";
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

function rec(relPath: string, patientId: string, split: SplitRecord["split"]): SplitRecord {
  return {
    path: `/d/${relPath}`,
    relPath,
    label: "PNEUMONIA",
    y: 1,
    subtype: "bacteria",
    patientId,
    parsed: true,
    officialSplit: null,
    split,
  };
}

Deno.test("leakageAudit counts shared patients and cross-split near duplicates", () => {
  const records = [
    rec("t1", "p1", "train"),
    rec("t2", "p2", "train"),
    rec("v1", "p1", "val"), // shared patient p1, same image as t1
    rec("v2", "p3", "val"), // near duplicate of t2 under another patient id (distance 2)
    rec("s1", "p4", "test"), // far from everything
    rec("s2", "p5", "test"), // same as v2 (val-test), distance 0
    rec("t3", "p6", "train"), // unreadable
  ];
  const h: (PHash | null)[] = [
    [0xf0f0f0f0, 0x0f0f0f0f],
    [0x12345678, 0x9abcdef0],
    [0xf0f0f0f0, 0x0f0f0f0f],
    [0x12345678 ^ 0b11, 0x9abcdef0],
    [0x0f0f0f0f, 0xf0f0f0f0],
    [0x12345678 ^ 0b11, 0x9abcdef0],
    null,
  ];
  const a = leakageAudit(records, h, { maxDistance: 4 });
  assert.equal(a.unhashed, 1);
  assert.deepEqual(a.sharedPatients, {
    count: 1,
    examples: [{ patientId: "p1", splits: ["train", "val"] }],
  });
  assert.equal(a.nearDuplicates.pairs, 4); // t1-v1, t2-v2, t2-s2, v2-s2
  assert.equal(a.nearDuplicates.samePatient, 1);
  assert.equal(a.nearDuplicates.differentPatients, 3);
  assert.deepEqual(a.nearDuplicates.bySplits, { "train-val": 2, "train-test": 1, "val-test": 1 });
  assert.equal(a.nearDuplicates.evalImagesWithTrainTwin, 3); // v1, v2, s2
  assert.deepEqual(a.nearDuplicates.examples.map((p) => p.distance), [0, 0, 2, 2]);
  assert.equal(a.nearDuplicates.confirmed, null);
  assert.deepEqual(a.nearDuplicates.withinSplit, { pairs: 0, confirmed: null, samePatient: 0 });
  assert.equal(leakageAudit(records, h, { maxDistance: 1 }).nearDuplicates.pairs, 2);
  // a confirmation test that accepts only exact hash matches
  const exact = (i: number, j: number) => hammingDistance(h[i]!, h[j]!) === 0;
  const c = leakageAudit(records, h, { maxDistance: 4, confirm: exact }).nearDuplicates;
  assert.deepEqual(
    [c.confirmed, c.confirmedDifferentPatients, c.evalImagesWithConfirmedTrainTwin],
    [
      2,
      1,
      1,
    ],
  );
  assert.equal(c.examples.filter((e) => e.confirmed).length, 2);
  // the same-split pair shows up once v2 and s2 share a split
  const moved = records.map((r) => (r.relPath === "s2" ? { ...r, split: "val" as const } : r));
  const w = leakageAudit(moved, h, { maxDistance: 4, confirm: exact }).nearDuplicates.withinSplit;
  assert.deepEqual(w, { pairs: 1, confirmed: 1, samePatient: 0 });
  assert.throws(() => leakageAudit(records, h.slice(1)), /7 records but 6 hashes/);
  const prof = distanceProfile(records, h, makeRng(1), 100);
  assert.equal(prof.differentPatients.reduce((s, x) => s + x, 0), 100);
  assert.equal(prof.samePatient[0], 1); // p1's two images
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
