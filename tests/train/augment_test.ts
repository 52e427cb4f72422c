import assert from "node:assert/strict";
import { augmentInto } from "../../lib/train/augment.ts";
import { preprocessingFor } from "../../lib/models/registry.ts";
import { makeRng } from "../../lib/util/rng.ts";

Deno.test("augmentation is seeded, stays in [0, 1], and with zero ranges is the identity", () => {
  const pre = preprocessingFor("compact", { size: 8 });
  const src = Uint8Array.from({ length: 64 }, (_, i) => (i * 37) % 256);
  const a = new Float32Array(64), b = new Float32Array(64), c = new Float32Array(64);
  augmentInto(src, pre, makeRng(5), a, 0);
  augmentInto(src, pre, makeRng(5), b, 0);
  assert.deepEqual(a, b);
  assert.ok(a.every((v) => v >= 0 && v <= 1));
  assert.notDeepEqual(Array.from(a), Array.from(src, (v) => v / 255));
  augmentInto(src, pre, makeRng(5), c, 0, {
    rotateDeg: 0,
    shift: 0,
    zoom: 0,
    brightness: 0,
    contrast: 0,
  });
  c.forEach((v, i) => assert.ok(Math.abs(v - src[i] / 255) < 1e-6));
});
