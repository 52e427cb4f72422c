import assert from "node:assert/strict";
import { formatDuration } from "../../lib/report/page_assets.ts";

Deno.test("formatDuration: one decimal under 10 s, whole seconds, then minutes and hours", () => {
  assert.equal(formatDuration(0.42), "0.4 s");
  assert.equal(formatDuration(12.6), "13 s");
  assert.equal(formatDuration(185), "3 min 05 s");
  assert.equal(formatDuration(3725), "1 h 02 min");
  assert.equal(formatDuration(NaN), "n/a");
});
