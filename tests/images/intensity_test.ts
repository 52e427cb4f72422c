import assert from "node:assert/strict";
import sharp from "sharp";
import {
  applyIntensityBatch,
  checkIntensityMode,
  claheImage,
  equalizeInPlace,
  standardizeInPlace,
} from "../../lib/images/intensity.ts";
import { claheInPlace, claheTile, intensityInPlace } from "../../lib/images/intensity_core.ts";
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

Deno.test("applyIntensityBatch: every image, channels kept equal, none is a no-op", () => {
  const grey = dim(3);
  const rgb = new Uint8Array(256 * 3);
  grey.forEach((v, i) => rgb.fill(v, i * 3, i * 3 + 3));
  const block = new Uint8Array([...rgb, ...rgb]);
  const copy = block.slice();
  applyIntensityBatch(block, 16, 3, "none");
  assert.deepEqual(block, copy);
  for (const mode of ["standardize", "equalize", "clahe"] as const) {
    const b = copy.slice();
    applyIntensityBatch(b, 16, 3, mode);
    assert.notDeepEqual(b, copy, mode);
    for (let i = 0; i < b.length; i += 3) assert.ok(b[i] === b[i + 1] && b[i] === b[i + 2]);
    assert.deepEqual(b.subarray(0, 768), b.subarray(768), `${mode}: same image, same result`);
  }
  assert.throws(() => applyIntensityBatch(new Uint8Array(5), 2, 1, "equalize"), /not a whole/);
  assert.throws(() => checkIntensityMode("gamma"), /none, standardize, equalize, clahe/);
});

Deno.test("intensityInPlace (no native code, the page's path) matches the batch path", () => {
  const grey = dim(5);
  for (const mode of ["standardize", "equalize", "clahe"] as const) {
    const one = intensityInPlace(grey.slice(), 16, 1, mode);
    const batch = grey.slice();
    applyIntensityBatch(batch, 16, 1, mode);
    assert.deepEqual(one, batch, mode);
  }
  assert.deepEqual(intensityInPlace(grey.slice(), 16, 1, "none"), grey);
});

/** A synthetic n x n test image of the given kind. */
function synthetic(kind: string, n: number, seed = n): Uint8Array {
  const rng = makeRng(seed);
  return Uint8Array.from({ length: n * n }, (_, i) => {
    const x = i % n, y = Math.floor(i / n);
    switch (kind) {
      case "gradient":
        return Math.floor((255 * (x + y)) / (2 * n - 2));
      case "noise":
        return Math.floor(rng() * 256);
      case "dim noise":
        return 60 + Math.floor(rng() * 30);
      case "flat":
        return 97;
      case "block": // a bright block on a dark ground
        return x > n / 4 && x < (3 * n) / 4 && y > n / 3 && y < (2 * n) / 3 ? 230 : 20;
      default: // smooth waves with some noise, about like a radiograph
        return Math.floor(127 + 100 * Math.sin(x / 5) * Math.cos(y / 7) + rng() * 20);
    }
  });
}

/** Asserts that claheInPlace gives sharp's claheImage bytes exactly. */
async function assertSameAsSharp(img: Uint8Array, size: number, what: string): Promise<void> {
  const ref = await claheImage(img, size);
  const mine = img.slice();
  claheInPlace(mine, size);
  let differing = 0, worst = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(ref[i] - mine[i]);
    if (d) differing++, worst = Math.max(worst, d);
  }
  assert.equal(differing, 0, `${what}: ${differing} pixels differ from sharp, by up to ${worst}`);
}

Deno.test("claheInPlace (the page's CLAHE) gives sharp's clahe bytes exactly", async () => {
  // 17 has a 2-pixel window, 100 an odd one (13); 2 is the smallest image the window fits.
  for (const size of [128, 96, 224, 17, 100, 2]) {
    for (const kind of ["gradient", "noise", "dim noise", "flat", "block", "waves"]) {
      await assertSameAsSharp(synthetic(kind, size), size, `${kind} ${size}x${size}`);
    }
  }
  assert.equal(claheTile(128), 16);
  assert.throws(() => claheInPlace(new Uint8Array(1), 1), /smaller than the window/);
  assert.throws(() => claheInPlace(new Uint8Array(10), 3), /not a 3x3 grey image/);
});

const NORMAL = "/work/shared/data/chest_xray/train/NORMAL";
const haveXrays = await Deno.stat(NORMAL).then((s) => s.isDirectory, () => false);

Deno.test({
  name: "claheInPlace gives sharp's clahe bytes on real X-rays (128x128 grey)",
  ignore: !haveXrays, // the data set is not on every machine (CI)
  async fn() {
    const names: string[] = [];
    for await (const e of Deno.readDir(NORMAL)) if (/\.jpe?g$/i.test(e.name)) names.push(e.name);
    names.sort();
    const step = Math.max(1, Math.floor(names.length / 10));
    for (const name of names.filter((_, i) => i % step === 0).slice(0, 10)) {
      const grey = await sharp(`${NORMAL}/${name}`)
        .resize(128, 128, { fit: "fill" })
        .greyscale()
        .raw()
        .toBuffer();
      assert.equal(grey.length, 128 * 128, name);
      await assertSameAsSharp(new Uint8Array(grey), 128, name);
    }
  },
});

Deno.test("intensityInPlace clahe: the grey result in every channel, the same as the batch path", async () => {
  const grey = synthetic("waves", 32, 7);
  const rgb = new Uint8Array(grey.length * 3);
  grey.forEach((v, i) => rgb.fill(v, i * 3, i * 3 + 3));
  const batch = rgb.slice();
  intensityInPlace(rgb, 32, 3, "clahe");
  applyIntensityBatch(batch, 32, 3, "clahe");
  const want = await claheImage(grey, 32);
  assert.notDeepEqual(want, grey);
  for (let i = 0; i < want.length; i++) {
    for (let c = 0; c < 3; c++) assert.equal(rgb[i * 3 + c], want[i], `pixel ${i} channel ${c}`);
  }
  assert.deepEqual(rgb, batch);
  const one = intensityInPlace(grey.slice(), 32, 1, "clahe");
  assert.deepEqual(one, want);
});
