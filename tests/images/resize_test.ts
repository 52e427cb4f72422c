import assert from "node:assert/strict";
import sharp from "sharp";
import {
  enlargeBilinear,
  nearestMaps,
  resizeNearest,
  srgbToGray,
} from "../../lib/images/resize.ts";
import { flattenAlpha, toModelInput } from "../../lib/images/prepare.ts";
import { makeRng } from "../../lib/util/rng.ts";

/** Pseudo-random bytes (a fixed hash, so failures reproduce). */
function noise(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (Math.imul(i + seed, 2654435761) >>> 24) & 255;
  return out;
}

Deno.test("srgbToGray equals sharp's toColourspace('b-w') on every gray level and random colours", async () => {
  const n = 256 + 50_000;
  const rgb = noise(n * 3, 7);
  for (let v = 0; v < 256; v++) rgb.fill(v, v * 3, v * 3 + 3);
  const ref = await sharp(rgb, { raw: { width: n, height: 1, channels: 3 } })
    .toColourspace("b-w").raw().toBuffer();
  const mine = srgbToGray(rgb, n, 3);
  for (let i = 0; i < n; i++) {
    if (mine[i] !== ref[i]) {
      assert.fail(`pixel ${i} ${rgb.subarray(i * 3, i * 3 + 3)}: ${mine[i]} vs ${ref[i]}`);
    }
  }
  for (let v = 0; v < 256; v++) assert.equal(mine[v], v, "gray levels pass unchanged");
});

Deno.test("resizeNearest equals sharp's fill/nearest resize (down, up, mixed, large shrinks)", async () => {
  const rng = makeRng(3);
  const cases: number[][] = [
    [224, 224, 128, 128],
    [224, 224, 150, 150],
    [100, 50, 128, 128],
    [300, 100, 128, 128],
    [64, 64, 128, 128],
    [50, 50, 224, 224],
    [1, 1, 16, 16],
    [2500, 2000, 128, 128],
    [518, 244, 32, 150],
  ];
  for (let k = 0; k < 30; k++) {
    const r = () => 1 + Math.floor(rng() * (rng() < 0.5 ? 300 : 1500));
    cases.push([r(), r(), [128, 150, 224, 32][k % 4], [128, 150, 224, 32][(k * 3) % 4]]);
  }
  for (const [w, h, ow, oh] of cases) {
    const src = noise(w * h * 3, w * 31 + h);
    const ref = await sharp(src, { raw: { width: w, height: h, channels: 3 } })
      .resize(ow, oh, { fit: "fill", kernel: "nearest" }).raw().toBuffer();
    const mine = resizeNearest(src, w, h, 3, ow, oh);
    let diff = 0;
    for (let i = 0; i < ref.length; i++) diff += ref[i] !== mine[i] ? 1 : 0;
    assert.equal(diff, 0, `${w}x${h} -> ${ow}x${oh}: ${diff} bytes differ`);
  }
});

Deno.test("nearestMaps: identity, whole-number zoom and bad sizes", () => {
  assert.deepEqual([...nearestMaps(4, 4, 4, 4).xs], [0, 1, 2, 3]);
  assert.deepEqual([...nearestMaps(2, 2, 4, 6).ys], [0, 0, 0, 1, 1, 1]);
  assert.throws(() => nearestMaps(0, 4, 4, 4), /positive integers/);
});

Deno.test("flattenAlpha matches sharp's flatten onto black; toModelInput matches sharp end to end", async () => {
  const w = 37, h = 23;
  const rgba = noise(w * h * 4, 11);
  const ref = await sharp(rgba, { raw: { width: w, height: h, channels: 4 } })
    .flatten({ background: { r: 0, g: 0, b: 0 } }).raw().toBuffer();
  const flat = flattenAlpha({ data: rgba, width: w, height: h, channels: 4 });
  assert.equal(flat.channels, 3);
  assert.deepEqual([...flat.data], [...ref]);
  for (const channels of [1, 3] as const) {
    const want = await sharp(rgba, { raw: { width: w, height: h, channels: 4 } })
      .flatten({ background: { r: 0, g: 0, b: 0 } })
      .toColourspace(channels === 1 ? "b-w" : "srgb")
      .resize(16, 16, { fit: "fill", kernel: "nearest" }).raw().toBuffer();
    const got = toModelInput({ data: rgba, width: w, height: h, channels: 4 }, 16, channels);
    assert.deepEqual([...got], [...want], `${channels} channel(s)`);
  }
  const gray = toModelInput(
    { data: new Uint8Array([9, 200]), width: 2, height: 1, channels: 1 },
    2,
    3,
  );
  assert.deepEqual([...gray], [9, 9, 9, 200, 200, 200, 9, 9, 9, 200, 200, 200]);
  assert.throws(
    () => toModelInput({ data: new Uint8Array(5), width: 2, height: 2, channels: 1 }, 4, 1),
    /5 bytes for 2x2x1/,
  );
});

Deno.test("toModelInput and resizeNearest write into a given slot exactly what they return", () => {
  for (const inCh of [1, 2, 3, 4] as const) {
    for (const outCh of [1, 3] as const) {
      const raw = { data: noise(29 * 17 * inCh, inCh), width: 29, height: 17, channels: inCh };
      const want = toModelInput(raw, 11, outCh);
      const block = new Uint8Array(3 * 11 * 11 * outCh).fill(7);
      const slot = block.subarray(11 * 11 * outCh, 2 * 11 * 11 * outCh);
      assert.equal(toModelInput(raw, 11, outCh, slot), slot);
      assert.deepEqual([...slot], [...want], `${inCh} -> ${outCh} channel(s)`);
      // The neighbours are untouched.
      assert.ok(block.subarray(0, 11 * 11 * outCh).every((v) => v === 7));
      assert.ok(block.subarray(2 * 11 * 11 * outCh).every((v) => v === 7));
      assert.throws(() => toModelInput(raw, 11, outCh, new Uint8Array(5)), /output of 5 bytes/);
    }
  }
  // Alternating sizes (the last maps are remembered): each call still matches a fresh resize.
  const src = noise(40 * 30 * 3, 5);
  for (const [ow, oh] of [[13, 9], [7, 21], [13, 9], [40, 30]]) {
    const { xs, ys } = nearestMaps(40, 30, ow, oh);
    const got = resizeNearest(src, 40, 30, 3, ow, oh);
    for (let y = 0; y < oh; y++) {
      for (let x = 0; x < ow; x++) {
        for (let c = 0; c < 3; c++) {
          assert.equal(got[(y * ow + x) * 3 + c], src[(ys[y] * 40 + xs[x]) * 3 + c]);
        }
      }
    }
  }
  assert.throws(() => resizeNearest(src, 40, 30, 3, 4, 4, new Uint8Array(47)), /output of 47/);
});

Deno.test("enlargeBilinear equals sharp's fill/linear enlargement", async () => {
  const rng = makeRng(9);
  for (let k = 0; k < 24; k++) {
    const w = 2 + Math.floor(rng() * 200), h = 2 + Math.floor(rng() * 200);
    const ow = w + 1 + Math.floor(rng() * 150), oh = h + 1 + Math.floor(rng() * 150);
    const ch = k % 2 ? 3 : 1;
    const src = noise(w * h * ch, k);
    const ref = await sharp(src, { raw: { width: w, height: h, channels: ch as 1 | 3 } })
      .resize(ow, oh, { fit: "fill", kernel: "linear" })
      .toColourspace(ch === 1 ? "b-w" : "srgb").raw().toBuffer();
    assert.deepEqual(
      [...enlargeBilinear(src, w, h, ch, ow, oh)],
      [...ref],
      `${w}x${h} -> ${ow}x${oh}`,
    );
  }
  assert.throws(() => enlargeBilinear(new Uint8Array(4), 2, 2, 1, 2, 3), /not an enlargement/);
});
