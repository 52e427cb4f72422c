import assert from "node:assert/strict";
import { balance, classCounts, classWeights } from "../../lib/data/balance.ts";

/** `n0` records of class 0 then `n1` of class 1, each with a unique id. */
function recs(n0: number, n1: number): { id: number; y: 0 | 1 }[] {
  return Array.from({ length: n0 + n1 }, (_, id) => ({ id, y: id < n0 ? 0 : 1 }));
}

Deno.test("balance none: the same records, no weights", () => {
  const input = recs(3, 7);
  const out = balance(input, "none", 1);
  assert.deepEqual(out.records, input);
  assert.notEqual(out.records, input); // a copy
  assert.equal(out.classWeights, null);
});

Deno.test("balance down: majority sampled down to the minority, without replacement", () => {
  const input = recs(30, 87);
  const out = balance(input, "down", 42);
  assert.deepEqual(classCounts(out.records), [30, 30]);
  assert.equal(new Set(out.records.map((r) => r.id)).size, 60);
  // All minority records kept; input order kept.
  assert.deepEqual(out.records.filter((r) => r.y === 0), input.filter((r) => r.y === 0));
  const ids = out.records.map((r) => r.id);
  assert.deepEqual(ids, [...ids].sort((a, b) => a - b));
  assert.equal(out.classWeights, null);
  // Minority may be class 1 too.
  assert.deepEqual(classCounts(balance(recs(50, 8), "down", 1).records), [8, 8]);
});

Deno.test("balance up: minority repeated up to the majority", () => {
  const input = recs(30, 87);
  const out = balance(input, "up", 42);
  assert.deepEqual(classCounts(out.records), [87, 87]);
  assert.deepEqual(out.records.slice(0, input.length), input);
  // 57 extra = one whole copy (30) + 27 distinct others.
  const counts = new Map<number, number>();
  for (const r of out.records.filter((r) => r.y === 0)) {
    counts.set(r.id, (counts.get(r.id) ?? 0) + 1);
  }
  assert.equal(counts.size, 30);
  assert.deepEqual([...counts.values()].sort(), [...Array(3).fill(2), ...Array(27).fill(3)].sort());
  assert.deepEqual(classCounts(balance(recs(9, 4), "up", 3).records), [9, 9]);
});

Deno.test("balance weights: n / (2 * n_c), records untouched", () => {
  const input = recs(1341, 3875);
  const out = balance(input, "weights", 0);
  assert.equal(out.records.length, input.length);
  const w = out.classWeights!;
  assert.ok(Math.abs(w[0] - 5216 / (2 * 1341)) < 1e-12);
  assert.ok(Math.abs(w[1] - 5216 / (2 * 3875)) < 1e-12);
  // Each class then carries half of the total weight.
  assert.ok(Math.abs(w[0] * 1341 - w[1] * 3875) < 1e-9);
  assert.deepEqual(classWeights(recs(2, 2)), { 0: 1, 1: 1 });
});

Deno.test("balance: seeded (same seed same records, other seed other records)", () => {
  const input = recs(20, 90); // up: 3 whole copies + 10 sampled
  for (const mode of ["down", "up"] as const) {
    const a = balance(input, mode, 5).records.map((r) => r.id);
    assert.deepEqual(balance(input, mode, 5).records.map((r) => r.id), a, mode);
    assert.notDeepEqual(balance(input, mode, 6).records.map((r) => r.id), a, mode);
  }
});

Deno.test("balance: equal classes unchanged; one class or unknown mode refused", () => {
  const even = recs(4, 4);
  assert.deepEqual(balance(even, "down", 1).records, even);
  assert.deepEqual(balance(even, "up", 1).records, even);
  assert.throws(
    () => balance(recs(5, 0), "down", 1),
    /needs both classes; got 5 NORMAL and 0 PNEUMONIA/,
  );
  assert.throws(() => balance(recs(0, 5), "up", 1), /needs both classes/);
  assert.throws(() => balance(recs(5, 0), "weights", 1), /class weights need both classes/);
  // deno-lint-ignore no-explicit-any
  assert.throws(
    () => balance(even, "smote" as any, 1),
    /unknown balance mode "smote"; expected one of none, down, up, weights/,
  );
});
