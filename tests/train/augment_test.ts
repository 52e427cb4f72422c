import assert from "node:assert/strict";
import {
  augmentInto,
  augmentOptionsFor,
  DEFAULT_AUGMENT,
  STRONG_AUGMENT,
} from "../../lib/train/augment.ts";
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

Deno.test("strong augmentation: seeded, in range, differs from standard; standard draws unchanged", () => {
  const pre = preprocessingFor("compact", { size: 16 });
  const src = Uint8Array.from({ length: 256 }, (_, i) => (i * 53) % 256);
  const a = new Float32Array(256), b = new Float32Array(256), c = new Float32Array(256);
  augmentInto(src, pre, makeRng(9), a, 0, STRONG_AUGMENT);
  augmentInto(src, pre, makeRng(9), b, 0, augmentOptionsFor("strong"));
  assert.deepEqual(a, b);
  assert.ok(a.every((v) => v >= 0 && v <= 1));
  augmentInto(src, pre, makeRng(9), c, 0, augmentOptionsFor("standard"));
  assert.notDeepEqual(a, c);
  assert.equal(augmentOptionsFor(undefined), DEFAULT_AUGMENT);
  // The standard set draws six numbers per image (no aspect, gamma or noise draws).
  const rng = makeRng(4);
  augmentInto(src, pre, rng, c, 0);
  const ref = makeRng(4);
  for (let k = 0; k < 6; k++) ref();
  assert.equal(rng(), ref());
});
