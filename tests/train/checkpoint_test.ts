/** The checkpoint's trainer state keeps NaN and infinities through JSON (lib/train/checkpoint.ts). */
import assert from "node:assert/strict";
import { decodeNonFinite, encodeNonFinite } from "../../lib/train/checkpoint.ts";

Deno.test("non-finite numbers survive the JSON round trip of the trainer state", () => {
  const state = {
    epoch: 1,
    best: -Infinity,
    history: [{ epoch: 1, val: { precision: NaN, auc: 1, big: Infinity }, lr: 0.002 }],
    name: "x",
    none: null,
  };
  const back = decodeNonFinite(JSON.parse(JSON.stringify(encodeNonFinite(state))));
  assert.deepEqual(back, state);
  // Without the encoding JSON turns them into null (what resumed runs wrote as empty CSV cells).
  assert.equal(JSON.parse(JSON.stringify({ p: NaN })).p, null);
});
