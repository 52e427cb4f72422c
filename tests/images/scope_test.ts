import assert from "node:assert/strict";
import { dicomAgeYears, dicomWarnings, imageStats, scopeWarnings } from "../../lib/images/scope.ts";
import type { DicomInfo } from "../../lib/images/dicom.ts";
import { renderChest } from "../../lib/data/synthetic.ts";
import { makeRng } from "../../lib/util/rng.ts";
import { oodFixture } from "./_ood_fixture.ts";

const S = 32;
const chests = Array.from(
  { length: 40 },
  (_, i) => renderChest(makeRng(i), S, i % 2 ? "normal" : "virus"),
);
const ood = oodFixture(chests, S);
const codes = (
  raw: Parameters<typeof imageStats>[0],
  input: Uint8Array,
  distance: number | null = 1,
) =>
  scopeWarnings({ stats: imageStats(raw, input, S, 1), distance, dicom: null, size: S }, ood).map((
    w,
  ) => w.code);

Deno.test("imageStats on hand-made pictures", () => {
  const flat = new Uint8Array(S * S).fill(100);
  const s = imageStats(null, flat, S, 1);
  assert.deepEqual([s.mean, s.std, s.dark, s.bright, s.asymmetry], [100, 0, 0, 0, 0]);
  const half = new Uint8Array(S * S).map((_, i) => (i % S < S / 2 ? 0 : 255));
  const h = imageStats(null, half, S, 1);
  assert.deepEqual([h.dark, h.bright], [0.5, 0.5]);
  assert.ok(Math.abs(h.asymmetry - 2) < 1e-9, "a left/right split is perfectly anti-symmetric");
  const rgb = {
    data: new Uint8Array([255, 0, 0, 10, 10, 10]),
    width: 2,
    height: 1,
    channels: 3 as const,
  };
  assert.equal(imageStats(rgb, flat, S, 1).colour, 127.5);
});

Deno.test("scopeWarnings: training-like chests pass; colour, small, dark, bright, flat, far are flagged", () => {
  const passing = chests.filter((c) => codes(null, c).length === 0).length;
  // Each range lets the extreme 0.5% of either tail out: with 40 images, about one per tail.
  assert.ok(passing >= 32, `${passing} of 40 training-like chests pass`);
  const typical = chests.find((c) => codes(null, c).length === 0)!;
  const colour = {
    data: new Uint8Array(S * S * 3).map((_, i) => (i % 3 ? 30 : 220)),
    width: S,
    height: S,
    channels: 3 as const,
  };
  assert.ok(codes(colour, typical).includes("colour"));
  const small = { data: new Uint8Array(10 * 10), width: 10, height: 10, channels: 1 as const };
  assert.ok(codes(small, typical).includes("too_small"));
  assert.ok(codes(null, new Uint8Array(S * S).fill(2)).includes("too_dark"));
  assert.ok(codes(null, new Uint8Array(S * S).fill(252)).includes("saturated"));
  assert.ok(codes(null, new Uint8Array(S * S).fill(120)).includes("low_contrast"));
  assert.deepEqual(codes(null, typical, 5), ["unfamiliar"]);
  assert.deepEqual(
    scopeWarnings(
      { stats: imageStats(null, typical, S, 1), distance: 9, dicom: null, size: S },
      null,
    ),
    [],
    "without ood.json only the fixed checks run",
  );
});

Deno.test("DICOM tags: modality, body part, lateral view, age", () => {
  const base = {
    modality: "DX",
    bodyPart: "CHEST",
    viewPosition: "PA",
    patientAge: "003Y",
  } as DicomInfo;
  assert.deepEqual(dicomWarnings(base), []);
  const all = dicomWarnings({
    ...base,
    modality: "CT",
    bodyPart: "HEAD",
    viewPosition: "LL",
    patientAge: "045Y",
  });
  assert.deepEqual(all.map((w) => w.code), [
    "dicom_modality",
    "dicom_body_part",
    "dicom_lateral",
    "dicom_age",
  ]);
  assert.match(all[0].message, /CT: not a radiograph \(a CT slice\?\)/);
  assert.equal(dicomAgeYears("018M"), 1.5);
  assert.equal(dicomAgeYears("nonsense"), null);
  assert.deepEqual(dicomWarnings({ ...base, patientAge: "006M" }).map((w) => w.code), [
    "dicom_age",
  ]);
});
