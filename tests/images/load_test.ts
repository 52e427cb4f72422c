import assert from "node:assert/strict";
import sharp from "sharp";
import { join } from "node:path";
import { decodeImage, ImageError, loadImage, probeImage } from "../../lib/images/load.ts";
import { writeBadImages, writeImageVariants } from "../../lib/images/fixtures.ts";

const dir = await Deno.makeTempDir({ prefix: "load_test_" });
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
const variants = await writeImageVariants(join(dir, "good"));
const bad = await writeBadImages(join(dir, "bad"));

function assertUniform(px: Uint8Array, gray: number, tol: number, label: string) {
  for (let i = 0; i < px.length; i++) {
    if (Math.abs(px[i] - gray) > tol) {
      assert.fail(`${label}: pixel ${i} is ${px[i]}, expected ${gray} +- ${tol}`);
    }
  }
}

for (const [name, v] of Object.entries(variants)) {
  if (v.gray === null) continue;
  Deno.test(`loadImage reads ${name} (${v.channels} ch, ${v.bitDepth} bit) as 1 and 3 channels`, async () => {
    for (const channels of [1, 3] as const) {
      const px = await loadImage(v.path, { size: 10, channels });
      assert.ok(px instanceof Uint8Array);
      assert.equal(px.length, 10 * 10 * channels);
      assertUniform(px, v.gray!, v.tolerance, `${name} as ${channels} ch`);
    }
  });
}

Deno.test("the variants really are what they claim (16 bit, palette, CMYK, alpha)", async () => {
  const meta = async (n: string) => await sharp(variants[n].path).metadata();
  assert.equal((await meta("gray16.png")).depth, "ushort");
  assert.equal((await meta("rgb16.png")).depth, "ushort");
  assert.equal((await meta("palette.png")).isPalette, true);
  assert.equal((await meta("cmyk.jpeg")).space, "cmyk");
  assert.equal((await meta("rgba.png")).hasAlpha, true);
  assert.equal((await meta("graya.png")).channels, 2);
  assert.equal((await meta("gray8.png")).channels, 1);
  assert.equal((await meta("exif6.jpeg")).orientation, 6);
});

Deno.test("transparent pixels flatten onto black", async () => {
  const px = await loadImage(variants["rgba_transparent.png"].path, { size: 4, channels: 3 });
  assertUniform(px, 0, 0, "rgba_transparent");
});

Deno.test("EXIF orientation 6 rotates the picture upright", async () => {
  const path = variants["exif6.jpeg"].path;
  const probe = await probeImage(path);
  assert.deepEqual([probe.width, probe.height], [16, 32]); // stored 32x16, displayed 16x32
  // Displayed 16 wide x 32 high, white 8x8 block at the top-right. Sample at native scale.
  const px = await loadImage(path, { size: 16, channels: 1 });
  // size 16 squashes height 32 -> 16: block spans rows 0-3, columns 8-15.
  assert.ok(px[1 * 16 + 12] > 200, `top-right should be white, got ${px[1 * 16 + 12]}`);
  assert.ok(px[1 * 16 + 3] < 50, `top-left should be black, got ${px[1 * 16 + 3]}`);
  assert.ok(px[12 * 16 + 12] < 50, `bottom-right should be black, got ${px[12 * 16 + 12]}`);
});

Deno.test("resize ignores aspect ratio and 3 channels are R=G=B for gray input", async () => {
  const path = join(dir, "grad.png");
  const w = 40, h = 10;
  const raw = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) raw[y * w + x] = x * 6;
  await sharp(raw, { raw: { width: w, height: h, channels: 1 } }).toColourspace("b-w").png().toFile(
    path,
  );
  const px = await loadImage(path, { size: 20, channels: 3 });
  assert.equal(px.length, 20 * 20 * 3);
  for (let i = 0; i < px.length; i += 3) assert.ok(px[i] === px[i + 1] && px[i] === px[i + 2]);
  // Left-to-right gradient survives, every row equal (no letterboxing).
  assert.ok(px[0] < 10 && px[(19) * 3] > 200);
  assert.equal(px[19 * 20 * 3 + 19 * 3], px[19 * 3]);
  // A bigger size upsamples.
  assert.equal((await loadImage(path, { size: 64, channels: 1 })).length, 64 * 64);
});

Deno.test("probeImage reports size, channels, format and bytes", async () => {
  const p = await probeImage(variants["rgb8.png"].path);
  assert.deepEqual(p, {
    width: 24,
    height: 16,
    channels: 3,
    format: "png",
    bytes: (await Deno.stat(variants["rgb8.png"].path)).size,
  });
  assert.equal((await probeImage(variants["cmyk.jpeg"].path)).format, "jpeg");
  assert.equal((await probeImage(variants["cmyk.jpeg"].path)).channels, 4);
});

const expectations: Record<string, RegExp> = {
  "empty.jpeg": /empty \(0 bytes\)/,
  "truncated.jpeg": /truncated/,
  "corrupt.jpeg": /cannot decode|truncated|corrupt/,
  "garbage.png": /not an image/,
  "text.jpeg": /looks like text/,
  "missing.jpeg": /not found/,
};
for (const [name, re] of Object.entries(expectations)) {
  Deno.test(`bad input ${name}: loadImage and probeImage throw ImageError naming the file`, async () => {
    const path = bad[name];
    for (const fn of [() => loadImage(path, { size: 8, channels: 1 }), () => probeImage(path)]) {
      await assert.rejects(fn, (err: unknown) => {
        assert.ok(err instanceof ImageError, `expected ImageError, got ${err}`);
        assert.equal(err.path, path);
        assert.match(err.message, new RegExp(path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")));
        assert.match(err.reason, re);
        assert.match(err.reason, /expected a JPEG or PNG/);
        return true;
      });
    }
  });
}

Deno.test("a truncated JPEG that libjpeg would pad is an error, not a gray image", async () => {
  // Without failOn the same bytes decode (padded with gray) and only warn: prove the fixture is a
  // real partial decode, so our rejection is meaningful.
  const bytes = await Deno.readFile(bad["truncated.jpeg"]);
  const lenient = await sharp(bytes, { failOn: "none" }).raw().toBuffer({
    resolveWithObject: true,
  });
  assert.deepEqual([lenient.info.width, lenient.info.height], [64, 64]);
  await assert.rejects(() => decodeImage(bytes, "mem.jpeg", { size: 8, channels: 1 }), ImageError);
});

Deno.test("header-only probe accepts a truncated JPEG; verified probe rejects it", async () => {
  const p = await probeImage(bad["truncated.jpeg"], { verify: false });
  assert.deepEqual([p.width, p.height, p.format], [64, 64, "jpeg"]);
  await assert.rejects(() => probeImage(bad["truncated.jpeg"]), ImageError);
});

Deno.test("loadImage rejects bad sizes and channel counts", async () => {
  const path = variants["gray8.png"].path;
  await assert.rejects(() => loadImage(path, { size: 0, channels: 1 }), RangeError);
  await assert.rejects(() => loadImage(path, { size: 8, channels: 2 as 1 }), RangeError);
});
