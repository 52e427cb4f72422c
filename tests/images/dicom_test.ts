import assert from "node:assert/strict";
import { join } from "node:path";
import { encodeDicom } from "../../lib/images/dicom_write.ts";
import { decodeDicom, DicomError, isDicom } from "../../lib/images/dicom.ts";
import { decodeImage, ImageError, loadImage, probeImage } from "../../lib/images/load.ts";
import { loadImages } from "../../lib/images/cache.ts";
import { renderChest } from "../../lib/data/synthetic.ts";
import { makeRng } from "../../lib/util/rng.ts";
import sharp from "sharp";

const W = 40, H = 30;
/** A synthetic chest picture, W x H, with every gray level 0-255 in its first row. */
const gray = (() => {
  const sq = renderChest(makeRng(5), H, "bacteria");
  const out = new Uint8Array(W * H);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) out[y * W + x] = sq[y * H + (x % H)];
  for (let x = 0; x < W; x++) out[x] = Math.round((x * 255) / (W - 1));
  return out;
})();
const noJpeg = () => Promise.reject(new Error("no JPEG expected"));

async function render(bytes: Uint8Array) {
  return await decodeDicom(bytes, noJpeg);
}

const exact: [string, Parameters<typeof encodeDicom>[3]][] = [
  ["8 bit MONOCHROME2 with an identity window", {}],
  ["8 bit MONOCHROME1", { monochrome1: true }],
  ["16 bit (12 stored) with a VOI LUT", { bits: 16 }],
  ["16 bit MONOCHROME1 with a VOI LUT", { bits: 16, monochrome1: true }],
  ["16 bit MONOCHROME1 with a window", { bits: 16, monochrome1: true, voi: "window" }],
  ["16 bit MONOCHROME1, rescale intercept -1024, window", {
    bits: 16,
    monochrome1: true,
    voi: "window",
    rescale: true,
  }],
];
for (const [name, opts] of exact) {
  Deno.test(`DICOM ${name}: rendered back to the exact gray levels`, async () => {
    const bytes = encodeDicom(gray, W, H, opts);
    assert.ok(isDicom(bytes));
    const { image, info } = await render(bytes);
    assert.deepEqual([image.width, image.height, image.channels], [W, H, 1]);
    assert.deepEqual([...image.data], [...gray]);
    assert.equal(info.photometric, opts?.monochrome1 ? "MONOCHROME1" : "MONOCHROME2");
    assert.equal(info.voi, opts?.bits === 16 && (opts.voi ?? "lut") === "lut" ? "lut" : "window");
    assert.equal(info.modality, "DX");
  });
}

Deno.test("DICOM: Bits Stored masks the unused high bits; no VOI stretches the full range", async () => {
  // 12 stored bits in 16 allocated; garbage in the top 4 bits must be ignored.
  const bytes = encodeDicom(gray, W, H, { bits: 16, voi: "window" });
  const { image: clean } = await render(bytes);
  const dirty = bytes.slice();
  const at = dirty.length - W * H * 2; // pixel data is the last element
  for (let i = 0; i < W * H; i++) dirty[at + 2 * i + 1] |= 0xf0;
  assert.deepEqual([...(await render(dirty)).image.data], [...clean.data]);
  // No window and no LUT: min..max of the modality values onto 0..255.
  const ramp = new Uint8Array(W * H).map((_, i) => 50 + (i % 101));
  const plain = encodeDicom(ramp, W, H, { bits: 8, tags: { WindowCenter: "", WindowWidth: "" } });
  const { image, info } = await render(plain);
  assert.equal(info.voi, "range");
  assert.equal(Math.min(...image.data), 0);
  assert.equal(Math.max(...image.data), 255);
});

Deno.test("DICOM: Pixel Aspect Ratio 2:1 is resampled to square pixels", async () => {
  // Keep every second row: each stored pixel is then twice as tall as it is wide.
  const half = new Uint8Array(W * (H / 2));
  for (let y = 0; y < H / 2; y++) half.set(gray.subarray(2 * y * W, 2 * y * W + W), y * W);
  const { image, info } = await render(encodeDicom(half, W, H / 2, { pixelAspect: [2, 1] }));
  assert.equal(info.pixelAspect, 2);
  assert.deepEqual([image.width, image.height], [W, H]);
  for (let y = 0; y < H; y++) {
    assert.deepEqual([...image.data.subarray(y * W, y * W + W)], [
      ...gray.subarray(2 * Math.floor(y / 2) * W, 2 * Math.floor(y / 2) * W + W),
    ]);
  }
  assert.deepEqual(
    (await probeImage(await writeTemp(encodeDicom(half, W, H / 2, { pixelAspect: [2, 1] }))))
      .height,
    H,
  );
});

Deno.test("DICOM: RGB is kept as colour", async () => {
  const rgb = new Uint8Array(W * H * 3).map((_, i) => (i * 7) & 255);
  const { image } = await render(encodeDicom(rgb, W, H, { rgb: true }));
  assert.equal(image.channels, 3);
  assert.deepEqual([...image.data], [...rgb]);
});

Deno.test("DICOM: multi-frame, non-image and unsupported objects are refused with a reason", async () => {
  const cases: [Uint8Array, RegExp][] = [
    [encodeDicom(gray, W, H, { frames: 3 }), /multi-frame DICOM \(3 frames\)/],
    [
      encodeDicom(gray, W, H, {
        noPixels: true,
        tags: { SOPClassUID: "1.2.840.10008.5.1.4.1.1.88.11" },
      }),
      /not an image: .*basic text structured report.*no Pixel Data/,
    ],
    [
      encodeDicom(gray, W, H, { tags: { PhotometricInterpretation: "PALETTE COLOR" } }),
      /PALETTE COLOR is not supported/,
    ],
  ];
  for (const [bytes, re] of cases) {
    await assert.rejects(
      render(bytes),
      (e: Error) => e instanceof DicomError && re.test(e.message),
    );
    const path = await writeTemp(bytes);
    await assert.rejects(loadImage(path, { size: 8, channels: 1 }), (e: Error) => {
      assert.ok(e instanceof ImageError);
      assert.ok(e.message.startsWith(path), "the error names the file");
      assert.match(e.message, re);
      return true;
    });
  }
  const truncated = encodeDicom(gray, W, H, { bits: 16 }).slice(0, -500);
  await assert.rejects(render(truncated), /truncated|not a readable DICOM/);
});

const dirs: string[] = [];
globalThis.addEventListener(
  "unload",
  () => dirs.forEach((d) => Deno.removeSync(d, { recursive: true })),
);
async function writeTemp(bytes: Uint8Array, name = "x.dcm"): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "dicom_test_" });
  dirs.push(dir);
  const path = join(dir, name);
  await Deno.writeFile(path, bytes);
  return path;
}

Deno.test("DICOM through the common loader and the cache: same model input as the PNG", async () => {
  const png = await sharp(gray, { raw: { width: W, height: H, channels: 1 } }).png().toBuffer();
  const pngPath = await writeTemp(new Uint8Array(png), "x.png");
  const dcmPath = await writeTemp(encodeDicom(gray, W, H, { bits: 16, monochrome1: true }));
  for (const channels of [1, 3] as const) {
    const a = await loadImage(pngPath, { size: 16, channels });
    const b = await loadImage(dcmPath, { size: 16, channels });
    assert.deepEqual([...b], [...a]);
  }
  const cacheDir = await Deno.makeTempDir();
  dirs.push(cacheDir);
  const r = await loadImages([pngPath, dcmPath], { size: 16, channels: 1, cacheDir });
  assert.deepEqual(r.ok, [true, true]);
  assert.deepEqual([...r.data.subarray(256)], [...r.data.subarray(0, 256)]);
  const p = await probeImage(dcmPath);
  assert.deepEqual([p.width, p.height, p.channels, p.format], [W, H, 1, "dicom"]);
});

const img2dcm = "/usr/bin/img2dcm";
const hasImg2dcm = await Deno.stat(img2dcm).then((s) => s.isFile, () => false);
if (!hasImg2dcm) console.log(`img2dcm test ignored: ${img2dcm} not found (Debian package dcmtk)`);

Deno.test({
  name: "DICOM made by dcmtk's img2dcm (JPEG baseline, encapsulated) decodes like the JPEG",
  ignore: !hasImg2dcm,
  fn: async () => {
    const jpeg = await sharp(gray, { raw: { width: W, height: H, channels: 1 } }).jpeg({
      quality: 90,
    })
      .toBuffer();
    const jpegPath = await writeTemp(new Uint8Array(jpeg), "x.jpeg");
    const dcmPath = jpegPath.replace(/\.jpeg$/, ".dcm");
    const out = await new Deno.Command(img2dcm, { args: [jpegPath, dcmPath], stderr: "piped" })
      .output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const bytes = await Deno.readFile(dcmPath);
    const a = await decodeImage(new Uint8Array(jpeg), jpegPath, { size: 24, channels: 1 });
    const b = await decodeImage(bytes, dcmPath, { size: 24, channels: 1 });
    assert.deepEqual([...b], [...a]);
  },
});
