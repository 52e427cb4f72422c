import assert from "node:assert/strict";
import { distanceProfile, leakageAudit } from "../../lib/eval/leakage.ts";
import { hammingDistance, type PHash } from "../../lib/eval/phash.ts";
import type { SplitRecord } from "../../lib/data/types.ts";
import { makeRng } from "../../lib/util/rng.ts";

function rec(relPath: string, patientId: string, split: SplitRecord["split"]): SplitRecord {
  return {
    path: `/d/${relPath}`,
    relPath,
    label: "PNEUMONIA",
    y: 1,
    subtype: "bacteria",
    patientId,
    parsed: true,
    officialSplit: null,
    split,
  };
}

Deno.test("leakageAudit counts shared patients and cross-split near duplicates", () => {
  const records = [
    rec("t1", "p1", "train"),
    rec("t2", "p2", "train"),
    rec("v1", "p1", "val"), // shared patient p1, same image as t1
    rec("v2", "p3", "val"), // near duplicate of t2 under another patient id (distance 2)
    rec("s1", "p4", "test"), // far from everything
    rec("s2", "p5", "test"), // same as v2 (val-test), distance 0
    rec("t3", "p6", "train"), // unreadable
  ];
  const h: (PHash | null)[] = [
    [0xf0f0f0f0, 0x0f0f0f0f],
    [0x12345678, 0x9abcdef0],
    [0xf0f0f0f0, 0x0f0f0f0f],
    [0x12345678 ^ 0b11, 0x9abcdef0],
    [0x0f0f0f0f, 0xf0f0f0f0],
    [0x12345678 ^ 0b11, 0x9abcdef0],
    null,
  ];
  const a = leakageAudit(records, h, { maxDistance: 4 });
  assert.equal(a.unhashed, 1);
  assert.deepEqual(a.sharedPatients, {
    count: 1,
    examples: [{ patientId: "p1", splits: ["train", "val"] }],
  });
  assert.equal(a.nearDuplicates.pairs, 4); // t1-v1, t2-v2, t2-s2, v2-s2
  assert.equal(a.nearDuplicates.samePatient, 1);
  assert.equal(a.nearDuplicates.differentPatients, 3);
  assert.deepEqual(a.nearDuplicates.bySplits, { "train-val": 2, "train-test": 1, "val-test": 1 });
  assert.equal(a.nearDuplicates.evalImagesWithTrainTwin, 3); // v1, v2, s2
  assert.deepEqual(a.nearDuplicates.examples.map((p) => p.distance), [0, 0, 2, 2]);
  assert.equal(a.nearDuplicates.confirmed, null);
  assert.deepEqual(a.nearDuplicates.withinSplit, {
    pairs: 0,
    confirmed: null,
    samePatient: 0,
    examples: [],
  });
  assert.equal(leakageAudit(records, h, { maxDistance: 1 }).nearDuplicates.pairs, 2);
  // a confirmation test that accepts only exact hash matches
  const exact = (i: number, j: number) => hammingDistance(h[i]!, h[j]!) === 0;
  const c = leakageAudit(records, h, { maxDistance: 4, confirm: exact }).nearDuplicates;
  assert.deepEqual(
    [c.confirmed, c.confirmedDifferentPatients, c.evalImagesWithConfirmedTrainTwin],
    [
      2,
      1,
      1,
    ],
  );
  assert.equal(c.examples.filter((e) => e.confirmed).length, 2);
  // the same-split pair shows up once v2 and s2 share a split
  const moved = records.map((r) => (r.relPath === "s2" ? { ...r, split: "val" as const } : r));
  const w = leakageAudit(moved, h, { maxDistance: 4, confirm: exact }).nearDuplicates.withinSplit;
  assert.deepEqual([w.pairs, w.confirmed, w.samePatient], [1, 1, 0]);
  assert.deepEqual([w.examples[0].a, w.examples[0].b, w.examples[0].distance], ["v2", "s2", 0]);
  assert.throws(() => leakageAudit(records, h.slice(1)), /7 records but 6 hashes/);
  const prof = distanceProfile(records, h, makeRng(1), 100);
  assert.equal(prof.differentPatients.reduce((s, x) => s + x, 0), 100);
  assert.equal(prof.samePatient[0], 1); // p1's two images
});
