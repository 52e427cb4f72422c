/** bench/conv_kernels.ts: every pass timed with Winograd on and off, and the setting restored. */
import assert from "node:assert/strict";
import { initBackend } from "../../lib/backend/select.ts";
import { setWinogradEnabled } from "../../lib/backend/wasm/conv.ts";
import { benchConvKernels } from "../../bench/conv_kernels.ts";

Deno.test("conv_kernels: five passes, Winograd on then off, positive times, setting restored", async () => {
  await initBackend({ prefer: "wasm" });
  const rows = benchConvKernels(1);
  assert.equal(rows.length, 10);
  assert.deepEqual(rows.map((r) => r.winograd), [...Array(5).fill(true), ...Array(5).fill(false)]);
  for (const r of rows) assert.ok(r.ms > 0 && r.gflops > 0, JSON.stringify(r));
  assert.equal(setWinogradEnabled(true), true, "the setting is back to on");
});
