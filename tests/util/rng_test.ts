import assert from "node:assert/strict";
import { makeRng, shuffle } from "../../lib/util/rng.ts";
import { readJson, writeJsonAtomic } from "../../lib/util/atomic.ts";

Deno.test("makeRng is reproducible and in [0, 1)", () => {
  const a = makeRng(7), b = makeRng(7), c = makeRng(8);
  const xs = Array.from({ length: 1000 }, a);
  assert.deepEqual(xs.slice(0, 10), Array.from({ length: 10 }, b));
  assert.notDeepEqual(xs.slice(0, 10), Array.from({ length: 10 }, c));
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  assert.ok(Math.abs(mean - 0.5) < 0.05, `mean ${mean}`);
});

Deno.test("shuffle is a seeded permutation", () => {
  const s = shuffle([1, 2, 3, 4, 5, 6], makeRng(1));
  assert.deepEqual([...s].sort(), [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(s, shuffle([1, 2, 3, 4, 5, 6], makeRng(1)));
});

Deno.test("writeJsonAtomic writes and leaves no temp file", async () => {
  const dir = await Deno.makeTempDir();
  await writeJsonAtomic(`${dir}/a/b.json`, { x: 1 });
  assert.deepEqual(await readJson(`${dir}/a/b.json`), { x: 1 });
  assert.deepEqual([...Deno.readDirSync(`${dir}/a`)].map((e) => e.name), ["b.json"]);
  await assert.rejects(readJson(`${dir}/missing.json`), /missing\.json/);
});
