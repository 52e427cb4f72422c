import assert from "node:assert/strict";
import {
  augmentInto,
  augmentOptionsFor,
  DEFAULT_AUGMENT,
  FRAMING_AUGMENT,
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

Deno.test("framing augmentation zooms in further than strong, with the same draws", () => {
  assert.equal(augmentOptionsFor("framing"), FRAMING_AUGMENT);
  assert.deepEqual({ ...FRAMING_AUGMENT, zoomMax: undefined }, {
    ...STRONG_AUGMENT,
    zoomMax: undefined,
  });
  const pre = preprocessingFor("compact", { size: 32 });
  // A bright central square (a third of the side) on black: zooming in makes it cover more.
  const src = Uint8Array.from({ length: 32 * 32 }, (_, i) => {
    const x = i % 32, y = Math.floor(i / 32);
    return Math.abs(x - 15.5) < 5.5 && Math.abs(y - 15.5) < 5.5 ? 255 : 0;
  });
  const zoomOnly = { rotateDeg: 0, shift: 0, zoom: 0.2, brightness: 0, contrast: 0 };
  const cover = (opts: typeof zoomOnly & { zoomMax?: number }) => {
    const out = new Float32Array(src.length), rng = makeRng(3);
    let bright = 0;
    for (let k = 0; k < 200; k++) {
      augmentInto(src, pre, rng, out, 0, opts);
      bright += out.filter((v) => v > 0.5).length;
    }
    return bright / 200 / src.length;
  };
  const sym = cover(zoomOnly), zin = cover({ ...zoomOnly, zoomMax: 1.5 });
  // Symmetric zoom in [0.8, 1.2] keeps the square near 1/9 of the image on average; [0.8, 1.5]
  // averages 1.15x, about 1.3 times the area.
  assert.ok(Math.abs(sym - 121 / 1024) < 0.02, `symmetric zoom: ${sym}`);
  assert.ok(zin > sym * 1.2, `zoom in: ${zin} vs ${sym}`);
  // One draw for the zoom either way: the rest of the stream is unchanged.
  const r1 = makeRng(8), r2 = makeRng(8), out = new Float32Array(src.length);
  augmentInto(src, pre, r1, out, 0, zoomOnly);
  augmentInto(src, pre, r2, out, 0, { ...zoomOnly, zoomMax: 1.5 });
  assert.equal(r1(), r2());
});
