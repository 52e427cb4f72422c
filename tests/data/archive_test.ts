import assert from "node:assert/strict";
import { join } from "node:path";
import { archivePath, planArchive, renderPlanned, writeArchive } from "../../lib/data/archive.ts";
import { loadImages } from "../../lib/images/cache.ts";
import { sha256Hex } from "../../lib/util/hash.ts";

Deno.test("renderPlanned: the same pixels on every call, no two images alike from a small pool", () => {
  const plan = planArchive(600, 5);
  const seen = new Set<string>();
  for (const img of plan) {
    const px = renderPlanned(img, 32, 2);
    assert.deepEqual(renderPlanned(img, 32, 2), px);
    seen.add(sha256Hex(px));
  }
  assert.equal(seen.size, plan.length, "every image its own pixels, from 2 films per subtype");
  // Still the film of its subtype: a pneumonia image is closer to pneumonia images than to normal.
  const mean = (px: Uint8Array) => px.reduce((a, v) => a + v, 0) / px.length;
  const normal = plan.filter((p) => p.subtype === "normal").map((p) => mean(renderPlanned(p, 32)));
  const sick = plan.filter((p) => p.subtype !== "normal").map((p) => mean(renderPlanned(p, 32)));
  const avg = (xs: number[]) => xs.reduce((a, v) => a + v, 0) / xs.length;
  assert.ok(
    avg(sick) > avg(normal),
    `opacities brighten the lungs: ${avg(sick)} vs ${avg(normal)}`,
  );
});

Deno.test("writeArchive: distinct files the image cache decodes one by one; resume finishes an interrupted archive", async () => {
  const root = await Deno.makeTempDir({ prefix: "archive_" });
  try {
    const plan = planArchive(40, 2);
    const w = await writeArchive(root, "csv", plan, { size: 32, pool: 2 });
    assert.equal(w.kept, 0);
    const files = plan.map((p, i) => join(root, archivePath("csv", p, i)));
    const bytes = await Promise.all(files.map((f) => Deno.readFile(f)));
    assert.equal(new Set(bytes.map((b) => sha256Hex(b))).size, 40, "no two files the same bytes");
    const loaded = await loadImages(files, {
      size: 32,
      channels: 1,
      cacheDir: join(root, "cache"),
    });
    assert.equal(loaded.decoded, 40, "the content-keyed cache finds no duplicate to skip");
    // Interrupted: five files gone (atomic writes leave no half file). Resume writes only them.
    for (const i of [0, 7, 8, 21, 39]) await Deno.remove(files[i]);
    const again = await writeArchive(root, "csv", plan, { size: 32, pool: 2, resume: true });
    assert.equal(again.kept, 35);
    for (const [i, f] of files.entries()) {
      assert.deepEqual(await Deno.readFile(f), bytes[i], `${f} as first written`);
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
