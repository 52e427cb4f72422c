import assert from "node:assert/strict";
import { join } from "node:path";
import sharp from "sharp";
import { cacheFolder, loadImages, MAX_OPEN_PACKS } from "../../lib/images/cache.ts";
import { loadImage } from "../../lib/images/load.ts";
import { writeBadImages, writeImageVariants } from "../../lib/images/fixtures.ts";

const SIZE = 12;
const tmp = await Deno.makeTempDir({ prefix: "cache_test_" });
globalThis.addEventListener("unload", () => Deno.removeSync(tmp, { recursive: true }));

/** Writes `n` distinct small gray PNGs (image k uniform at level 10 * k + 5). */
async function writeDistinct(dir: string, n: number): Promise<string[]> {
  await Deno.mkdir(dir, { recursive: true });
  const paths: string[] = [];
  for (let k = 0; k < n; k++) {
    const px = new Uint8Array(20 * 16).fill(10 * k + 5);
    const path = join(dir, `img${k}.png`);
    await sharp(px, { raw: { width: 20, height: 16, channels: 1 } }).toColourspace("b-w").png()
      .toFile(path);
    paths.push(path);
  }
  return paths;
}

/** Lists the packs (*.u8) of a cache folder. */
async function packFiles(folder: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(join(folder, "packs"))) {
    if (e.name.endsWith(".u8")) out.push(join(folder, "packs", e.name));
  }
  return out.sort();
}

Deno.test("loadImages: cold run decodes all, warm run decodes and hashes nothing, same pixels", async () => {
  const dir = await Deno.makeTempDir({ dir: tmp });
  const paths = await writeDistinct(join(dir, "imgs"), 6);
  const cacheDir = join(dir, "cache");
  const progress: number[] = [];
  const cold = await loadImages(paths, {
    size: SIZE,
    channels: 3,
    cacheDir,
    onProgress: (done, total) => {
      assert.equal(total, 6);
      progress.push(done);
    },
  });
  assert.deepEqual(progress, [1, 2, 3, 4, 5, 6]);
  assert.equal(cold.decoded, 6);
  assert.equal(cold.cacheHits, 0);
  assert.deepEqual(cold.ok, Array(6).fill(true));
  assert.deepEqual(cold.failures, []);
  assert.equal(cold.data.length, 6 * SIZE * SIZE * 3);
  for (let k = 0; k < 6; k++) {
    const img = cold.data.subarray(k * SIZE * SIZE * 3, (k + 1) * SIZE * SIZE * 3);
    assert.ok(img.every((v) => v === 10 * k + 5), `image ${k}`);
    assert.deepEqual(img, await loadImage(paths[k], { size: SIZE, channels: 3 }));
  }
  const warm = await loadImages(paths, { size: SIZE, channels: 3, cacheDir });
  assert.equal(warm.decoded, 0);
  assert.equal(warm.hashed, 0);
  assert.equal(warm.cacheHits, 6);
  assert.deepEqual(warm.data, cold.data);
  // The key includes size and channels: another size decodes again.
  const other = await loadImages(paths, { size: SIZE + 1, channels: 1, cacheDir });
  assert.equal(other.decoded, 6);
  assert.equal(other.data.length, 6 * (SIZE + 1) ** 2);
});

Deno.test("loadImages: the cache is keyed by content (copy hits, changed file misses)", async () => {
  const dir = await Deno.makeTempDir({ dir: tmp });
  const [a, b] = await writeDistinct(join(dir, "imgs"), 2);
  const cacheDir = join(dir, "cache");
  await loadImages([a, b], { size: SIZE, channels: 1, cacheDir });
  const copy = join(dir, "copy_of_a.png");
  await Deno.copyFile(a, copy);
  const r1 = await loadImages([copy], { size: SIZE, channels: 1, cacheDir });
  assert.equal(r1.decoded, 0, "a copy has the same content hash");
  assert.equal(r1.hashed, 1);
  // Overwrite b with new content: path index must notice (size/mtime) and re-decode.
  const px = new Uint8Array(30 * 30).fill(200);
  await sharp(px, { raw: { width: 30, height: 30, channels: 1 } }).toColourspace("b-w").png()
    .toFile(b);
  const r2 = await loadImages([a, b], { size: SIZE, channels: 1, cacheDir });
  assert.equal(r2.decoded, 1);
  assert.ok(r2.data.subarray(SIZE * SIZE).every((v) => v === 200));
});

Deno.test("loadImages: a damaged pack is detected and its images decoded again", async () => {
  const dir = await Deno.makeTempDir({ dir: tmp });
  const paths = await writeDistinct(join(dir, "imgs"), 3);
  const cacheDir = join(dir, "cache");
  const folder = cacheFolder(cacheDir, SIZE, 3, "nearest");
  const first = await loadImages(paths, { size: SIZE, channels: 3, cacheDir });
  const files = await packFiles(folder);
  assert.equal(files.length, 1, "one call, one pack");
  assert.equal((await Deno.stat(files[0])).size, 3 * SIZE * SIZE * 3);
  await Deno.writeFile(files[0], new Uint8Array(17)); // truncated pack
  const again = await loadImages(paths, { size: SIZE, channels: 3, cacheDir });
  assert.equal(again.decoded, 3);
  assert.equal(again.cacheError, null);
  assert.deepEqual(again.data, first.data);
  // Truncated to a whole number of images: the slots still there are read, the rest decoded.
  const rebuilt = (await packFiles(folder)).filter((f) => f !== files[0]);
  assert.equal(rebuilt.length, 1);
  const pack = rebuilt[0];
  await Deno.truncate(pack, SIZE * SIZE * 3);
  const third = await loadImages(paths, { size: SIZE, channels: 3, cacheDir });
  assert.equal(third.decoded, 2);
  assert.equal(third.cacheHits, 1);
  assert.deepEqual(third.data, first.data);
  const fourth = await loadImages(paths, { size: SIZE, channels: 3, cacheDir });
  assert.equal(fourth.decoded, 0);
  assert.deepEqual(fourth.data, first.data);
});

Deno.test("loadImages: new images are written in packs of packBytes; unused old packs are removed", async () => {
  const dir = await Deno.makeTempDir({ dir: tmp });
  const paths = await writeDistinct(join(dir, "imgs"), 7);
  const cacheDir = join(dir, "cache");
  const folder = cacheFolder(cacheDir, SIZE, 1, "nearest");
  const imageBytes = SIZE * SIZE;
  // An unused pack from long ago and a leftover temporary file go; a recent unused pack stays
  // (it may be another process's, about to enter the index).
  await Deno.mkdir(join(folder, "packs"), { recursive: true });
  const old = join(folder, "packs", "old.u8"), recent = join(folder, "packs", "recent.u8");
  const tmpLeft = join(folder, "packs", "x.u8.tmp");
  for (const f of [old, recent, tmpLeft]) await Deno.writeFile(f, new Uint8Array(imageBytes));
  const longAgo = new Date(Date.now() - 2 * 3600_000);
  await Deno.utime(old, longAgo, longAgo);
  await Deno.utime(tmpLeft, longAgo, longAgo);
  const opts = { size: SIZE, channels: 1 as const, cacheDir, packBytes: 3 * imageBytes };
  const cold = await loadImages(paths, { ...opts, concurrency: 2 });
  assert.equal(cold.decoded, 7);
  const packs = (await packFiles(folder)).filter((f) => f !== recent);
  assert.deepEqual(
    (await Promise.all(packs.map((f) => Deno.stat(f)))).map((s) => s.size / imageBytes).sort(),
    [1, 3, 3],
  );
  assert.equal(await Deno.stat(old).catch(() => null), null);
  assert.equal(await Deno.stat(tmpLeft).catch(() => null), null);
  assert.ok(await Deno.stat(recent));
  const index = JSON.parse(await Deno.readTextFile(join(folder, "index.json")));
  assert.equal(Object.keys(index).length, 7);
  for (const row of Object.values(index) as { pack: string; slot: number }[]) {
    assert.ok(packs.includes(join(folder, "packs", `${row.pack}.u8`)));
    assert.ok(Number.isInteger(row.slot) && row.slot >= 0 && row.slot < 3);
  }
  const warm = await loadImages([...paths].reverse(), opts);
  assert.equal(warm.decoded, 0);
  assert.equal(warm.cacheHits, 7);
  for (let k = 0; k < 7; k++) {
    assert.deepEqual(
      warm.data.subarray((6 - k) * imageBytes, (7 - k) * imageBytes),
      cold.data.subarray(k * imageBytes, (k + 1) * imageBytes),
    );
  }
});

Deno.test("loadImages: a cache of more packs than may be open at once reads them all", async () => {
  const dir = await Deno.makeTempDir({ dir: tmp });
  await Deno.mkdir(join(dir, "imgs"));
  const n = MAX_OPEN_PACKS + 6;
  const paths: string[] = [];
  for (let k = 0; k < n; k++) {
    const path = join(dir, "imgs", `img${k}.png`);
    await sharp(new Uint8Array(4 * 4).fill(k), { raw: { width: 4, height: 4, channels: 1 } })
      .toColourspace("b-w").png().toFile(path);
    paths.push(path);
  }
  const opts = { size: 2, channels: 1 as const, cacheDir: join(dir, "cache"), packBytes: 4 };
  const cold = await loadImages(paths, opts);
  assert.equal(cold.decoded, n);
  assert.equal((await packFiles(cacheFolder(opts.cacheDir, 2, 1, "nearest"))).length, n);
  // Backwards, so that the packs opened first are closed and opened again.
  const warm = await loadImages([...paths, ...paths].reverse(), opts);
  assert.equal(warm.decoded, 0);
  assert.equal(warm.cacheHits, 2 * n);
  for (let k = 0; k < n; k++) {
    assert.deepEqual([...warm.data.subarray(4 * (n - 1 - k), 4 * (n - k))], [k, k, k, k]);
  }
});

Deno.test("loadImages: a cache that cannot be written is reported, the images still load", async () => {
  const dir = await Deno.makeTempDir({ dir: tmp });
  const paths = await writeDistinct(join(dir, "imgs"), 3);
  const cacheDir = join(dir, "not_a_folder");
  await Deno.writeTextFile(cacheDir, "a file where the cache folder should be");
  const r = await loadImages(paths, { size: SIZE, channels: 1, cacheDir });
  assert.deepEqual(r.ok, [true, true, true]);
  assert.equal(r.decoded, 3);
  assert.match(r.cacheError ?? "", /cannot write the image cache in .*not_a_folder/);
  const plain = await loadImages(paths, { size: SIZE, channels: 1, cacheDir: null });
  assert.deepEqual(r.data, plain.data);
  assert.equal(plain.cacheError, null);
});

Deno.test("loadImages: bad images are reported and skipped, the batch goes on", async () => {
  const dir = await Deno.makeTempDir({ dir: tmp });
  const variants = await writeImageVariants(join(dir, "good"));
  const bad = await writeBadImages(join(dir, "bad"));
  const good = [
    variants["gray16.png"].path,
    variants["cmyk.jpeg"].path,
    variants["palette.png"].path,
  ];
  const badPaths = Object.values(bad);
  const paths = [good[0], ...badPaths.slice(0, 3), good[1], ...badPaths.slice(3), good[2]];
  const cacheDir = join(dir, "cache");
  const r = await loadImages(paths, { size: SIZE, channels: 1, cacheDir, concurrency: 3 });
  const px = SIZE * SIZE;
  assert.equal(r.failures.length, badPaths.length);
  assert.deepEqual(r.failures.map((f) => f.path), badPaths);
  for (const f of r.failures) assert.match(f.reason, /expected a JPEG or PNG/);
  for (let i = 0; i < paths.length; i++) {
    const img = r.data.subarray(i * px, (i + 1) * px);
    if (good.includes(paths[i])) {
      assert.equal(r.ok[i], true);
      assert.ok(img.every((v) => Math.abs(v - 100) <= 15), `good image ${paths[i]}`);
    } else {
      assert.equal(r.ok[i], false);
      assert.ok(img.every((v) => v === 0), `failed image ${paths[i]} left zeros`);
    }
  }
  // Warm: same failures (decode errors remembered), nothing decoded.
  const warm = await loadImages(paths, { size: SIZE, channels: 1, cacheDir });
  assert.equal(warm.decoded, 0);
  assert.deepEqual(warm.failures, r.failures);
  assert.deepEqual(warm.data, r.data);
});

Deno.test("loadImages: without a cache, and with any concurrency, results are the same", async () => {
  const dir = await Deno.makeTempDir({ dir: tmp });
  const paths = await writeDistinct(join(dir, "imgs"), 5);
  const a = await loadImages(paths, { size: SIZE, channels: 1, cacheDir: null, concurrency: 1 });
  const b = await loadImages(paths, { size: SIZE, channels: 1, cacheDir: null, concurrency: 8 });
  assert.equal(a.decoded, 5);
  assert.equal(b.decoded, 5);
  assert.deepEqual(a.data, b.data);
  const empty = await loadImages([], { size: SIZE, channels: 1, cacheDir: null });
  assert.equal(empty.data.length, 0);
  assert.deepEqual(empty.failures, []);
  await assert.rejects(() => loadImages(paths, { size: 0, channels: 1 }), RangeError);
});
