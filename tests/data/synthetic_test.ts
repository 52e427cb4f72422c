import assert from "node:assert/strict";
import { basename, dirname, join, relative } from "node:path";
import { renderChest, shiftImage, writeSyntheticDataset } from "../../lib/data/synthetic.ts";
import { loadImage, probeImage } from "../../lib/images/load.ts";
import { parseFileName } from "../../lib/data/names.ts";
import { sha256Hex } from "../../lib/util/hash.ts";
import { makeRng } from "../../lib/util/rng.ts";

const tmp = await Deno.makeTempDir({ prefix: "synthetic_test_" });
globalThis.addEventListener("unload", () => Deno.removeSync(tmp, { recursive: true }));

Deno.test("writeSyntheticDataset: Kaggle layout, counts, realistic names, patients within one split", async () => {
  const root = join(tmp, "kaggle");
  const { files } = await writeSyntheticDataset(root, { perClass: 7, size: 32, seed: 1 });
  assert.equal(files.length, 3 * 2 * 7);
  const patientSplit = new Map<string, string>();
  const perPatient = new Map<string, number>();
  for (const f of files) {
    const [split, cls] = relative(root, dirname(f)).split("/");
    assert.ok(["train", "val", "test"].includes(split), f);
    assert.ok(cls === "NORMAL" || cls === "PNEUMONIA", f);
    const { subtype, patientId } = parseFileName(basename(f));
    assert.ok(patientId, `unparsed name ${f}`);
    assert.equal(subtype === "normal", cls === "NORMAL", f);
    if (cls === "NORMAL") assert.match(basename(f), /^(NORMAL2-)?IM-\d{4}-\d{4}(-\d{4})?\.jpeg$/);
    else assert.match(basename(f), /^person\d+_(bacteria|virus)_\d+(_\d+)?\.jpeg$/);
    const seen = patientSplit.get(patientId!);
    assert.ok(seen === undefined || seen === split, `${patientId} in ${seen} and ${split}`);
    patientSplit.set(patientId!, split);
    perPatient.set(patientId!, (perPatient.get(patientId!) ?? 0) + 1);
  }
  for (const split of ["train", "val", "test"]) {
    for (const cls of ["NORMAL", "PNEUMONIA"]) {
      const n = [...Deno.readDirSync(join(root, split, cls))].length;
      assert.equal(n, 7, `${split}/${cls}`);
    }
  }
  assert.ok([...perPatient.values()].some((n) => n > 1), "some patients have several images");
  const p = await probeImage(files[0]);
  assert.deepEqual([p.width, p.height, p.channels, p.format], [32, 32, 1, "jpeg"]);
});

Deno.test("writeSyntheticDataset: same seed same bytes, other seed other bytes", async () => {
  const a = await writeSyntheticDataset(join(tmp, "a"), {
    perClass: 3,
    size: 24,
    seed: 5,
    splits: ["train"],
  });
  const b = await writeSyntheticDataset(join(tmp, "b"), {
    perClass: 3,
    size: 24,
    seed: 5,
    splits: ["train"],
  });
  const c = await writeSyntheticDataset(join(tmp, "c"), {
    perClass: 3,
    size: 24,
    seed: 6,
    splits: ["train"],
  });
  const hashes = async (r: { root: string; files: string[] }) =>
    await Promise.all(
      r.files.map(async (f) => relative(r.root, f) + ":" + sha256Hex(await Deno.readFile(f))),
    );
  assert.deepEqual(await hashes(a), await hashes(b));
  assert.notDeepEqual(await hashes(a), await hashes(c));
});

Deno.test("writeSyntheticDataset: flat layout and per-class counts", async () => {
  const root = join(tmp, "flat");
  const { files } = await writeSyntheticDataset(root, {
    layout: "flat",
    perClass: { NORMAL: 2, PNEUMONIA: 5 },
    size: 16,
  });
  assert.deepEqual([...Deno.readDirSync(root)].map((e) => e.name).sort(), ["NORMAL", "PNEUMONIA"]);
  assert.equal(files.filter((f) => f.includes("/NORMAL/")).length, 2);
  assert.equal(files.filter((f) => f.includes("/PNEUMONIA/")).length, 5);
});

Deno.test("synthetic pneumonia has brighter lung fields than normal (a learnable difference)", async () => {
  const root = join(tmp, "signal");
  const { files } = await writeSyntheticDataset(root, {
    perClass: 20,
    size: 48,
    seed: 2,
    splits: ["train"],
  });
  // Mean brightness of the lung boxes (both sides, upper-middle of the image).
  const lungMean = (px: Uint8Array, s: number) => {
    let sum = 0, n = 0;
    for (let y = Math.floor(s * 0.25); y < Math.floor(s * 0.65); y++) {
      for (const [x0, x1] of [[0.24, 0.38], [0.62, 0.76]]) {
        for (let x = Math.floor(s * x0); x < Math.floor(s * x1); x++) {
          sum += px[y * s + x];
          n++;
        }
      }
    }
    return sum / n;
  };
  const means = { NORMAL: [] as number[], PNEUMONIA: [] as number[] };
  for (const f of files) {
    const cls = f.includes("/NORMAL/") ? "NORMAL" : "PNEUMONIA";
    means[cls].push(lungMean(await loadImage(f, { size: 48, channels: 1 }), 48));
  }
  const avg = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  assert.ok(
    avg(means.PNEUMONIA) > avg(means.NORMAL) + 5,
    `pneumonia lungs ${avg(means.PNEUMONIA)} vs normal ${avg(means.NORMAL)}`,
  );
});

Deno.test("renderChest: lungs darker than the body, values in range", () => {
  const s = 40;
  const px = renderChest(makeRng(0), s, "normal", { ribs: false });
  assert.equal(px.length, s * s);
  const at = (u: number, v: number) => px[Math.floor(v * s) * s + Math.floor(u * s)];
  assert.ok(at(0.31, 0.45) + 40 < at(0.5, 0.85), "lung field darker than lower body");
  assert.ok(at(0.02, 0.02) < 60, "dark background outside the body");
});

Deno.test("shiftImage: gamma, gain, offset and a bright frame; writeSyntheticDataset applies it", async () => {
  const px = new Uint8Array(64).fill(100);
  shiftImage(px, 8, { gain: 0.5, offset: 10, border: 0.125 });
  assert.equal(px[0], 235, "frame");
  assert.equal(px[9], 60, "inside: 100 * 0.5 + 10");
  const g = shiftImage(new Uint8Array([64]), 1, { gamma: 0.5 })[0];
  assert.equal(g, Math.round(255 * Math.sqrt(64 / 255)));
  const root = join(tmp, "shifted");
  const { files } = await writeSyntheticDataset(root, {
    perClass: 2,
    size: 32,
    seed: 4,
    splits: ["test"],
    shift: { border: 0.1 },
  });
  const img = await loadImage(files[0], { size: 32, channels: 1 });
  assert.ok(img[0] > 200, `corner ${img[0]} is the bright frame`);
});
