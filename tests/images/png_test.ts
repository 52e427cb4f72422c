import assert from "node:assert/strict";
import sharp from "sharp";
import { Buffer } from "node:buffer";
import { encodePng, toPngDataUrl } from "../../lib/images/png.ts";

Deno.test("encodePng round-trips 1- and 3-channel pixels exactly", async () => {
  const w = 5, h = 3;
  for (const channels of [1, 3] as const) {
    const px = new Uint8Array(w * h * channels).map((_, i) => (i * 37) & 255);
    const png = await encodePng(px, w, h, channels);
    assert.deepEqual(Array.from(png.subarray(0, 4)), [0x89, 0x50, 0x4e, 0x47]);
    assert.equal((await sharp(png).metadata()).channels, channels);
    const decoder = channels === 1 ? sharp(png).toColourspace("b-w") : sharp(png);
    const back = await decoder.raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([back.info.width, back.info.height, back.info.channels], [w, h, channels]);
    assert.deepEqual(new Uint8Array(back.data), px);
  }
});

Deno.test("toPngDataUrl gives a base64 PNG data URL", async () => {
  const url = await toPngDataUrl(new Uint8Array([0, 128, 255, 64]), 2, 2, 1);
  assert.match(url, /^data:image\/png;base64,[A-Za-z0-9+/]+=*$/);
  const bytes = Buffer.from(url.split(",")[1], "base64");
  const meta = await sharp(bytes).metadata();
  assert.deepEqual([meta.format, meta.width, meta.height], ["png", 2, 2]);
});

Deno.test("encodePng rejects a wrong pixel count, naming the shape", async () => {
  await assert.rejects(() => encodePng(new Uint8Array(5), 2, 2, 1), /5 values, expected 2x2x1 = 4/);
});
