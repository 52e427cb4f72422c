import assert from "node:assert/strict";
import { GradientExchange } from "../../lib/train/parallel/_exchange.ts";

Deno.test("GradientExchange.average: weighted f64 sum in replica order, empty shards skipped", () => {
  const ex = GradientExchange.create(3, 4);
  ex.slot(1, 0).set([1, 2, 3, 1e-8]);
  ex.slot(1, 1).set([NaN, NaN, NaN, NaN]); // weight 0: an empty shard, never read
  ex.slot(1, 2).set([3, 4, 5, 1]);
  ex.slot(0, 0).set([100, 100, 100, 100]); // the other parity's slots are not read
  const out = new Float32Array(4);
  ex.average(1, [0.25, 0, 0.75], out);
  const want = [0.25 * 1 + 0.75 * 3, 0.25 * 2 + 0.75 * 4, 0.25 * 3 + 0.75 * 5];
  want.push(Math.fround(0.25 * Math.fround(1e-8) + 0.75));
  assert.deepEqual(Array.from(out), want.map(Math.fround));
  ex.average(1, [0.25, 0, 0.75], out); // the sums are reused: nothing carries over
  assert.deepEqual(Array.from(out), want.map(Math.fround));
  assert.throws(() => ex.average(1, [1, 0], out), /wrong size/);
});

Deno.test("GradientExchange: attach checks the size; one replica passes the barrier; a failure and an abort throw", () => {
  const ex = GradientExchange.create(1, 2);
  assert.throws(() => GradientExchange.attach(ex.buffer, 2, 2), /do not hold 2 x 2 gradients of 2/);
  const same = GradientExchange.attach(ex.buffer, 1, 2);
  same.slot(0, 0).set([7, 8]);
  assert.deepEqual(Array.from(ex.slot(0, 0)), [7, 8]); // the same memory
  ex.arrive(0);
  ex.arrive(0);
  assert.throws(() => ex.arrive(0, true), /replica 0 failed in this step or an earlier one/);
  assert.throws(() => ex.arrive(0), /replica 0 failed/); // it stays failed
  const two = GradientExchange.create(2, 1);
  two.abort();
  assert.throws(() => two.arrive(0), /exchange was aborted/); // waits for replica 1, sees the abort
  assert.throws(() => GradientExchange.create(0, 1), /positive integer/);
});
