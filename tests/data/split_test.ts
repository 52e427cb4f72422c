import assert from "node:assert/strict";
import { join } from "node:path";
import {
  checkFractions,
  loadOrCreateManifest,
  makeSplits,
  manifestKey,
  planSplits,
  readManifest,
  sharedPatients,
  stratifiedPatientSplit,
  writeManifest,
} from "../../lib/data/split.ts";
import type { ImageRecord, SplitName, SplitRecord } from "../../lib/data/types.ts";
import { makeRng } from "../../lib/util/rng.ts";
import { kaggleFiles, tempDir, writeTree } from "./_fixtures.ts";

/**
 * In-memory records: `normal` NORMAL patients and `pneumonia` PNEUMONIA patients with 1-5 images
 * each (seeded), all in `split` (null = flat layout).
 */
function fakeRecords(
  normal: number,
  pneumonia: number,
  split: SplitName | null = null,
  seed = 1,
  idBase = 0,
): ImageRecord[] {
  const rng = makeRng(seed);
  const out: ImageRecord[] = [];
  const dir = split ? `${split}/` : "";
  for (let p = 0; p < normal + pneumonia; p++) {
    const y = p < normal ? 0 : 1;
    const label = y === 0 ? "NORMAL" : "PNEUMONIA";
    const id = y === 0 ? `IM-${idBase + p}` : `person${idBase + p}`;
    const n = 1 + Math.floor(rng() * 5);
    for (let k = 0; k < n; k++) {
      const name = y === 0 ? `${id}-000${k}.jpeg` : `${id}_bacteria_${k}.jpeg`;
      const relPath = `${dir}${label}/${name}`;
      out.push({
        path: `/data/${relPath}`,
        relPath,
        label,
        y,
        subtype: y === 0 ? "normal" : "bacteria",
        patientId: id,
        parsed: true,
        officialSplit: split,
      });
    }
  }
  return out;
}

/** Asserts that every input record is assigned exactly once, in input order. */
function assertEachOnce(input: ImageRecord[], out: SplitRecord[]): void {
  assert.equal(out.length, input.length);
  assert.deepEqual(out.map((r) => r.relPath), input.map((r) => r.relPath));
  assert.equal(new Set(out.map((r) => r.relPath)).size, input.length);
  for (const r of out) assert.ok(["train", "val", "test"].includes(r.split), r.split);
}

const share = (rs: SplitRecord[], split: SplitName, y: 0 | 1) =>
  rs.filter((r) => r.split === split && r.y === y).length / rs.filter((r) => r.y === y).length;

Deno.test("split (flat): every record once, no patient in two splits, stratified 80/10/10", () => {
  const input = fakeRecords(250, 700);
  const out = makeSplits(input, { seed: 42 });
  assertEachOnce(input, out);
  assert.equal(sharedPatients(out).size, 0);
  for (const y of [0, 1] as const) {
    assert.ok(Math.abs(share(out, "train", y) - 0.8) < 0.02, `train share of class ${y}`);
    assert.ok(Math.abs(share(out, "val", y) - 0.1) < 0.02, `val share of class ${y}`);
    assert.ok(Math.abs(share(out, "test", y) - 0.1) < 0.02, `test share of class ${y}`);
  }
  assert.equal(planSplits(input).strategy, "stratified");
});

Deno.test("split: same seed same split, different seed different split", () => {
  const input = fakeRecords(60, 150);
  const a = makeSplits(input, { seed: 7 }).map((r) => r.split);
  const b = makeSplits(input, { seed: 7 }).map((r) => r.split);
  const c = makeSplits(input, { seed: 8 }).map((r) => r.split);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
});

Deno.test("split: other fractions and the default seed", () => {
  const input = fakeRecords(200, 200);
  const out = makeSplits(input, { fractions: [0.6, 0.2, 0.2] });
  assertEachOnce(input, out);
  assert.ok(Math.abs(share(out, "train", 1) - 0.6) < 0.03);
  assert.ok(Math.abs(share(out, "test", 0) - 0.2) < 0.03);
  assert.deepEqual(
    makeSplits(input).map((r) => r.split),
    makeSplits(input, { seed: 42 }).map((r) => r.split),
  );
  const noTest = makeSplits(input, { fractions: [0.9, 0.1, 0] });
  assert.equal(noTest.filter((r) => r.split === "test").length, 0);
});

Deno.test("split: tiny strata still get a patient in every split", () => {
  const input = fakeRecords(3, 4);
  const out = makeSplits(input, { seed: 3 });
  assertEachOnce(input, out);
  assert.equal(sharedPatients(out).size, 0);
  for (const s of ["train", "val", "test"] as const) {
    for (const y of [0, 1] as const) {
      assert.ok(out.some((r) => r.split === s && r.y === y), `${s} has class ${y}`);
    }
  }
});

Deno.test("split: bad fractions are refused with the values", () => {
  assert.throws(() => checkFractions([0.8, 0.1]), /three non-negative numbers/);
  assert.throws(() => checkFractions([0.8, 0.3, 0.1]), /must sum to 1.*0\.8, 0\.3, 0\.1/);
  assert.throws(() => checkFractions([0, 0.5, 0.5]), /train fraction must be positive/);
  assert.throws(() => checkFractions([1.2, -0.1, -0.1]), /non-negative/);
  assert.throws(() => makeSplits(fakeRecords(2, 2), { fractions: [0.5, 0.5, 0.5] }), /sum to 1/);
});

Deno.test("split (official): big enough val keeps every official split as it is", () => {
  const input = [
    ...fakeRecords(50, 100, "train", 1, 0),
    ...fakeRecords(10, 20, "val", 2, 1000),
    ...fakeRecords(10, 20, "test", 3, 2000),
  ];
  const plan = planSplits(input, { seed: 5 });
  assert.equal(plan.strategy, "official");
  assertEachOnce(input, plan.records);
  for (const r of plan.records) assert.equal(r.split, r.officialSplit);
  assert.deepEqual(plan.warnings, []);
});

Deno.test("split (official): tiny val is pooled with train and re-split by patient; test kept", () => {
  const train = fakeRecords(100, 300, "train", 1, 0);
  const val = fakeRecords(3, 3, "val", 2, 1000); // well under 5% of train
  const test = fakeRecords(20, 40, "test", 3, 2000);
  const input = [...train, ...val, ...test];
  assert.ok(val.length < 0.05 * train.length);
  const plan = planSplits(input, { seed: 11 });
  assert.equal(plan.strategy, "official+carved");
  assertEachOnce(input, plan.records);
  assert.equal(sharedPatients(plan.records).size, 0);
  for (const r of plan.records) {
    if (r.officialSplit === "test") assert.equal(r.split, "test");
    else assert.notEqual(r.split, "test");
  }
  // train:val keeps 80:10 of the pool.
  const pool = plan.records.filter((r) => r.officialSplit !== "test");
  const valShare = pool.filter((r) => r.split === "val").length / pool.length;
  assert.ok(Math.abs(valShare - 1 / 9) < 0.03, `val share ${valShare}`);
  assert.match(plan.warnings.join("\n"), /official val split has \d+ images .*pooled with train/);
  assert.match(plan.warnings.join("\n"), /official test split is kept/);
});

Deno.test("split (official): train only carves val and test by patient", () => {
  const input = fakeRecords(120, 330, "train");
  const plan = planSplits(input, { seed: 2 });
  assert.equal(plan.strategy, "official+carved");
  assertEachOnce(input, plan.records);
  assert.equal(sharedPatients(plan.records).size, 0);
  for (const y of [0, 1] as const) {
    assert.ok(Math.abs(share(plan.records, "test", y) - 0.1) < 0.03);
    assert.ok(Math.abs(share(plan.records, "val", y) - 0.1) < 0.03);
  }
  assert.match(
    plan.warnings[0],
    /There is no official val split; there is no official test split; re-split by patient into train\/val\/test,/,
  );
});

Deno.test("split (official): no test split carves test from train; a big val is kept", () => {
  const train = fakeRecords(100, 300, "train", 1, 0);
  const val = fakeRecords(20, 40, "val", 2, 1000);
  const input = [...train, ...val];
  const plan = planSplits(input, { seed: 4 });
  assert.equal(plan.strategy, "official+carved");
  assertEachOnce(input, plan.records);
  assert.equal(sharedPatients(plan.records).size, 0);
  for (const r of plan.records) {
    if (r.officialSplit === "val") assert.equal(r.split, "val");
    else assert.notEqual(r.split, "val");
  }
  // train:test keeps 80:10 of the official train.
  const fromTrain = plan.records.filter((r) => r.officialSplit === "train");
  const testShare = fromTrain.filter((r) => r.split === "test").length / fromTrain.length;
  assert.ok(Math.abs(testShare - 1 / 9) < 0.03, `test share ${testShare}`);
  assert.match(
    plan.warnings[0],
    /^There is no official test split; re-split by patient into train\/test \(the official val split is kept\)/,
  );
});

Deno.test("split (official): no train split keeps what is there and says so", () => {
  const input = [...fakeRecords(5, 5, "val", 1, 0), ...fakeRecords(5, 5, "test", 2, 100)];
  const plan = planSplits(input);
  assert.equal(plan.strategy, "official");
  for (const r of plan.records) assert.equal(r.split, r.officialSplit);
  assert.match(plan.warnings.join("\n"), /no train split/);
});

Deno.test("split (official): patients shared by official folders are reported", () => {
  const input = [
    ...fakeRecords(20, 20, "train", 1, 0),
    ...fakeRecords(5, 5, "val", 1, 0),
    ...fakeRecords(5, 5, "test", 1, 500),
  ];
  const plan = planSplits(input);
  assert.equal(plan.strategy, "official");
  assert.ok(sharedPatients(plan.records).size > 0);
  assert.match(plan.warnings.join("\n"), /patient\(s\) appear in more than one split/);
});

Deno.test("split: records that mix official and no split are refused", () => {
  const input = [...fakeRecords(2, 2, "train"), ...fakeRecords(2, 2, null, 1, 50)];
  assert.throws(() => makeSplits(input), /mix official splits/);
});

Deno.test("stratifiedPatientSplit: covers every record, keeps patients whole", () => {
  const input = fakeRecords(30, 40);
  const map = stratifiedPatientSplit(input, [0.8, 0.1, 0.1], 1);
  assert.equal(map.size, input.length);
  const byPatient = new Map<string, Set<SplitName>>();
  for (const r of input) {
    const s = byPatient.get(r.patientId) ?? new Set();
    s.add(map.get(r.relPath)!);
    byPatient.set(r.patientId, s);
  }
  for (const [p, s] of byPatient) assert.equal(s.size, 1, p);
});

Deno.test("manifest: write, read back, and malformed files are named", async () => {
  const dir = await tempDir();
  try {
    const records = makeSplits(fakeRecords(5, 5));
    const path = join(dir, "m.json");
    const meta = {
      key: "k",
      seed: 42,
      fractions: [0.8, 0.1, 0.1] as [number, number, number],
      strategy: "stratified" as const,
      dataRoot: "/data",
      layout: "flat" as const,
      warnings: [],
    };
    const written = await writeManifest(path, records, meta);
    const read = await readManifest(path);
    assert.deepEqual(read, written);
    assert.equal(read.records.length, records.length);
    assert.deepEqual(Object.keys(read.records[0]).sort(), [
      "label",
      "patient",
      "relPath",
      "split",
      "subtype",
    ]);
    assert.equal(
      read.meta.counts.train + read.meta.counts.val + read.meta.counts.test,
      records.length,
    );
    assert.ok(!Number.isNaN(Date.parse(read.created)));
    await Deno.writeTextFile(
      join(dir, "bad.json"),
      JSON.stringify({ version: 1, meta: {}, records: [{ relPath: "a", split: "dev" }] }),
    );
    await assert.rejects(readManifest(join(dir, "bad.json")), /bad\.json: record 0 is malformed/);
    await Deno.writeTextFile(join(dir, "other.json"), "[1,2]");
    await assert.rejects(
      readManifest(join(dir, "other.json")),
      /other\.json is not a split manifest/,
    );
    await assert.rejects(readManifest(join(dir, "none.json")), /Cannot read .*none\.json/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("manifest: keyed by file list, seed and fractions", () => {
  const a = fakeRecords(3, 3);
  const f: [number, number, number] = [0.8, 0.1, 0.1];
  assert.equal(manifestKey(a, 1, f), manifestKey([...a].reverse(), 1, f));
  assert.notEqual(manifestKey(a, 1, f), manifestKey(a, 2, f));
  assert.notEqual(manifestKey(a, 1, f), manifestKey(a, 1, [0.7, 0.15, 0.15]));
  assert.notEqual(manifestKey(a, 1, f), manifestKey(a.slice(1), 1, f));
  assert.match(manifestKey(a, 1, f), /^[0-9a-f]{16}$/);
});

Deno.test("loadOrCreateManifest: creates once, reuses, never moves files", async () => {
  const root = await tempDir();
  const out = await tempDir();
  try {
    await writeTree(root, kaggleFiles(["train"]));
    const before = await listFiles(root);
    const first = await loadOrCreateManifest(root, { outDir: out, seed: 42 });
    assert.equal(first.created, true);
    assert.equal(first.strategy, "official+carved");
    assert.ok(first.manifestPath.startsWith(out));
    assert.equal(first.records.length, 4);
    assert.equal(sharedPatients(first.records).size, 0);
    const again = await loadOrCreateManifest(root, { outDir: out, seed: 42 });
    assert.equal(again.created, false);
    assert.equal(again.manifestPath, first.manifestPath);
    assert.deepEqual(again.records, first.records);
    assert.deepEqual(again.warnings, first.warnings);
    assert.deepEqual(await listFiles(root), before);
    // A manifest edited on disk is what counts when it is reused.
    const m = await readManifest(first.manifestPath);
    m.records[0].split = m.records[0].split === "train" ? "test" : "train";
    await Deno.writeTextFile(first.manifestPath, JSON.stringify(m));
    const edited = await loadOrCreateManifest(root, { outDir: out, seed: 42 });
    assert.equal(
      edited.records.find((r) => r.relPath === m.records[0].relPath)!.split,
      m.records[0].split,
    );
    // Another seed or another file list: another manifest.
    const other = await loadOrCreateManifest(root, { outDir: out, seed: 43 });
    assert.notEqual(other.manifestPath, first.manifestPath);
    await writeTree(root, { "train/NORMAL/IM-0999-0001.jpeg": "jpeg" });
    const grown = await loadOrCreateManifest(root, { outDir: out, seed: 42 });
    assert.equal(grown.created, true);
    assert.equal(grown.records.length, 5);
    assert.notEqual(grown.manifestPath, first.manifestPath);
  } finally {
    await Deno.remove(root, { recursive: true });
    await Deno.remove(out, { recursive: true });
  }
});

/** Every file under `dir`, relative, sorted. */
async function listFiles(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(join(dir, prefix))) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory) out.push(...await listFiles(dir, rel));
    else out.push(rel);
  }
  return out.sort();
}
