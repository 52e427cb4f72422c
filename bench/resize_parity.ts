/**
 * The model input from `decodeImage` (full-size decode, then the plain-TypeScript resize and gray
 * conversion shared with the browser page) against sharp's own one-call pipeline (decode,
 * flatten, colour, nearest resize: how the loader worked before, and what the reference model was
 * trained on), on every image of the given folders, at the given sizes.
 *
 * `deno run --allow-read --allow-env --allow-ffi --allow-sys bench/resize_parity.ts DIR...
 * [--sizes 128x1,150x3]`
 * @module
 */
import { parseArgs } from "node:util";
import sharp from "sharp";
import { discoverDataset } from "../lib/data/discover.ts";
import { decodeImage } from "../lib/images/load.ts";

/** sharp's one-call pipeline. */
async function sharpInput(bytes: Uint8Array, size: number, channels: 1 | 3): Promise<Uint8Array> {
  const img = sharp(bytes, { failOn: "error", autoOrient: true })
    .flatten({ background: { r: 0, g: 0, b: 0 } })
    .toColourspace(channels === 1 ? "b-w" : "srgb");
  const { data, info } = await img.resize(size, size, { fit: "fill", kernel: "nearest" })
    .removeAlpha().raw({ depth: "uchar" }).toBuffer({ resolveWithObject: true });
  if (info.channels === channels) return new Uint8Array(data);
  const rgb = new Uint8Array(size * size * 3);
  for (let i = 0; i < data.length; i++) rgb[i * 3] = rgb[i * 3 + 1] = rgb[i * 3 + 2] = data[i];
  return rgb;
}

const { values: v, positionals } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: { sizes: { type: "string" } },
});
const sizes = (v.sizes ?? "128x1,150x3").split(",").map((s) =>
  s.split("x").map(Number) as [number, 1 | 3]
);
const paths = (await Promise.all(positionals.map((d) => discoverDataset(d)))).flatMap((f) =>
  f.records.map((r) => r.path)
);
for (const [size, channels] of sizes) {
  let same = 0, bytesDiffering = 0, maxDiff = 0;
  for (const p of paths) {
    const bytes = await Deno.readFile(p);
    const a = await sharpInput(bytes, size, channels),
      b = await decodeImage(bytes, p, { size, channels });
    let d = 0;
    for (let i = 0; i < a.length; i++) {
      if (a[i] !== b[i]) d++, maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
    }
    if (d === 0) same++;
    bytesDiffering += d;
  }
  console.log(
    `${size}x${size}x${channels}: ${same} of ${paths.length} images byte-identical; ` +
      `${bytesDiffering} differing bytes in all (${
        (bytesDiffering / paths.length).toFixed(1)
      } per image ` +
      `of ${size * size * channels}), largest difference ${maxDiff}`,
  );
}
