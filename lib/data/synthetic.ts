/**
 * A synthetic chest X-ray dataset for tests and demos: small grayscale pictures with two dark lung
 * fields on a lighter body, spine and ribs; pneumonia adds bright opaque patches inside the lungs
 * (bacteria: one or two dense focal consolidations; virus: a diffuse haze with small patches), a
 * difference a small CNN learns in a few epochs. Files get the real dataset's names
 * (`personN_bacteria_M.jpeg`, `personN_virus_M.jpeg`, `IM-XXXX-YYYY.jpeg`,
 * `NORMAL2-IM-XXXX-YYYY.jpeg`, rarely the `_K` / `-ZZZZ` variants), one to three images per
 * patient, and no patient in two splits. Everything is seeded: the same options write the same
 * bytes.
 *
 * @example
 * ```ts
 * import { writeSyntheticDataset } from "./synthetic.ts";
 * const root = await Deno.makeTempDir();
 * const { files } = await writeSyntheticDataset(root, { perClass: 10, size: 64, seed: 1 });
 * // root/train/NORMAL/IM-0001-0001.jpeg, root/test/PNEUMONIA/person3_bacteria_5.jpeg, ...
 * ```
 * @module
 */
import sharp from "sharp";
import { join } from "node:path";
import { makeRng, randNormal } from "../util/rng.ts";
import type { Rng } from "../util/rng.ts";
import type { ClassName, SplitName, Subtype } from "./types.ts";

/** Options of {@link writeSyntheticDataset}. */
export interface SyntheticOptions {
  /** Images per class and split (a number, or one per class for imbalance); default 12. */
  perClass?: number | { NORMAL: number; PNEUMONIA: number };
  /** Width and height in pixels; default 64. */
  size?: number;
  /** Seed; default 0. */
  seed?: number;
  /** Splits to write (Kaggle layout only); default train, val and test. */
  splits?: SplitName[];
  /** `kaggle`: ROOT/<split>/<CLASS>/; `flat`: ROOT/<CLASS>/ (splits ignored). Default kaggle. */
  layout?: "kaggle" | "flat";
  /** Draw ribs; default true. */
  ribs?: boolean;
  /** A second site's acquisition, applied to every image (see {@link SiteShift}); default none. */
  shift?: SiteShift;
}

/**
 * How a second site's images differ: a gamma curve, then gain and offset on the 0..255 values,
 * and a bright frame `border` (a fraction of the side) like a collimation edge or film border.
 */
export interface SiteShift {
  /** Gamma of u -> u^gamma on [0, 1] values (default 1). */
  gamma?: number;
  /** Multiplier of the values (default 1). */
  gain?: number;
  /** Added to the values (default 0). */
  offset?: number;
  /** Width of a bright (value 235) frame, as a fraction of the side (default 0: none). */
  border?: number;
}

/** Applies a site shift to one grey size x size image in place. */
export function shiftImage(px: Uint8Array, size: number, shift: SiteShift): Uint8Array {
  const g = shift.gamma ?? 1, gain = shift.gain ?? 1, off = shift.offset ?? 0;
  const edge = Math.round((shift.border ?? 0) * size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = y * size + x;
      const inFrame = x < edge || y < edge || x >= size - edge || y >= size - edge;
      const v = inFrame ? 235 : 255 * (px[i] / 255) ** g * gain + off;
      px[i] = v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
    }
  }
  return px;
}

/** Anatomy of one patient, in fractions of the image size (each image jitters it slightly). */
export interface Anatomy {
  cx: number;
  cy: number;
  bodyRx: number;
  bodyRy: number;
  lungDx: number;
  lungRx: number;
  lungRy: number;
  body: number;
  lung: number;
  ribPhase: number;
}

/** Smooth 0..1 inside-ness of an ellipse (1 inside, 0 outside, soft edge of width `soft`). */
function ellipse(
  u: number,
  v: number,
  cx: number,
  cy: number,
  rx: number,
  ry: number,
  soft = 0.15,
): number {
  const d = Math.sqrt(((u - cx) / rx) ** 2 + ((v - cy) / ry) ** 2);
  return 1 / (1 + Math.exp((d - 1) / soft * 6));
}

function drawAnatomy(rng: Rng): Anatomy {
  const j = (s: number) => randNormal(rng) * s;
  return {
    cx: 0.5 + j(0.02),
    cy: 0.55 + j(0.02),
    bodyRx: 0.42 + j(0.02),
    bodyRy: 0.52 + j(0.02),
    lungDx: 0.19 + j(0.01),
    lungRx: 0.13 + j(0.01),
    lungRy: 0.27 + j(0.015),
    body: 150 + j(10),
    lung: 55 + j(8),
    ribPhase: rng() * Math.PI * 2,
  };
}

/**
 * Renders one grayscale chest-like picture (size x size, uint8). `subtype` selects the
 * pathology: `normal` none, `bacteria` dense focal patches, `virus` diffuse haze and small
 * patches, all inside the lung fields.
 */
export function renderChest(
  rng: Rng,
  size: number,
  subtype: Subtype,
  opts: { anatomy?: Anatomy; ribs?: boolean } = {},
): Uint8Array {
  const base = opts.anatomy ?? drawAnatomy(rng);
  const j = (s: number) => randNormal(rng) * s;
  // Per-image jitter: positioning and exposure differ between a patient's images.
  const a = { ...base, cx: base.cx + j(0.015), cy: base.cy + j(0.015), body: base.body + j(6) };
  const lungs = [a.cx - a.lungDx, a.cx + a.lungDx];
  const lungCy = a.cy - 0.1;
  // Patches: centres inside a lung, radius and strength by subtype.
  const patches: { x: number; y: number; r: number; amp: number }[] = [];
  let haze = 0;
  if (subtype !== "normal") {
    const count = subtype === "bacteria" ? 1 + Math.floor(rng() * 2) : 2 + Math.floor(rng() * 3);
    for (let k = 0; k < count; k++) {
      const side = lungs[Math.floor(rng() * 2)];
      patches.push({
        x: side + j(a.lungRx * 0.35),
        y: lungCy + (rng() - 0.3) * a.lungRy * 1.1,
        r: subtype === "bacteria" ? 0.06 + rng() * 0.05 : 0.035 + rng() * 0.03,
        amp: subtype === "bacteria" ? 70 + rng() * 30 : 40 + rng() * 20,
      });
    }
    haze = subtype === "virus" ? 22 + rng() * 10 : 6;
  }
  const ribs = opts.ribs ?? true;
  const out = new Uint8Array(size * size);
  for (let y = 0; y < size; y++) {
    const v = (y + 0.5) / size;
    for (let x = 0; x < size; x++) {
      const u = (x + 0.5) / size;
      const body = ellipse(u, v, a.cx, a.cy, a.bodyRx, a.bodyRy, 0.08);
      let val = 18 + body * (a.body - 18);
      // Spine / mediastinum: bright vertical band.
      val += 35 * Math.exp(-(((u - a.cx) / 0.05) ** 2)) * body;
      // Heart: bright mass low on the image's right (patient's left).
      val += 20 * ellipse(u, v, a.cx + 0.07, a.cy + 0.05, 0.12, 0.1, 0.2);
      const lung = Math.max(
        ellipse(u, v, lungs[0], lungCy, a.lungRx, a.lungRy),
        ellipse(u, v, lungs[1], lungCy, a.lungRx, a.lungRy),
      );
      let lungVal = a.lung + haze;
      if (ribs) {
        const curve = v + 0.08 * ((u - a.cx) / a.lungRx) ** 2 * 0.3;
        lungVal += 18 * Math.max(0, Math.sin(curve * 40 + a.ribPhase)) ** 6;
      }
      for (const p of patches) {
        lungVal += p.amp * Math.exp(-(((u - p.x) ** 2 + (v - p.y) ** 2) / (2 * p.r * p.r)));
      }
      val = val * (1 - lung) + Math.min(val + 40, lungVal) * lung;
      val += randNormal(rng) * 5;
      out[y * size + x] = val < 0 ? 0 : val > 255 ? 255 : Math.round(val);
    }
  }
  return out;
}

/** Zero-pads a number to `w` digits. */
const pad = (n: number, w = 4) => String(n).padStart(w, "0");

/**
 * Writes a seeded synthetic dataset under `root` and returns the written files (absolute,
 * sorted). Patients never span two splits; each has one to three images.
 */
export async function writeSyntheticDataset(
  root: string,
  opts: SyntheticOptions = {},
): Promise<{ root: string; files: string[] }> {
  const size = opts.size ?? 64;
  const layout = opts.layout ?? "kaggle";
  const splits: (SplitName | null)[] = layout === "flat"
    ? [null]
    : (opts.splits ?? ["train", "val", "test"]);
  const per = opts.perClass ?? 12;
  const count = (c: ClassName) => (typeof per === "number" ? per : per[c]);
  if (!Number.isInteger(size) || size < 8) {
    throw new RangeError(`size must be an integer >= 8, got ${size}`);
  }
  const rng = makeRng(opts.seed ?? 0);
  // Global counters, so names and patients are unique across splits.
  let imPatient = 100 + Math.floor(rng() * 50);
  let person = 1;
  const subtypeCounter = { bacteria: 1, virus: 1 };
  const jobs: { path: string; subtype: Subtype; anatomy: Anatomy; seed: number }[] = [];
  for (const split of splits) {
    for (const cls of ["NORMAL", "PNEUMONIA"] as ClassName[]) {
      const dir = split ? join(root, split, cls) : join(root, cls);
      let left = count(cls);
      while (left > 0) {
        const nImages = Math.min(left, 1 + Math.floor(rng() * 3));
        left -= nImages;
        const anatomy = drawAnatomy(rng);
        const names: string[] = [];
        let subtype: Subtype = "normal";
        if (cls === "NORMAL") {
          const prefix = rng() < 0.5 ? "IM-" : "NORMAL2-IM-";
          const id = pad(imPatient++);
          for (let k = 1; k <= nImages; k++) {
            const extra = k > 1 && rng() < 0.15 ? `-${pad(k)}` : "";
            names.push(`${prefix}${id}-${pad(extra ? 1 : k)}${extra}.jpeg`);
          }
        } else {
          subtype = rng() < 0.65 ? "bacteria" : "virus";
          const id = person++;
          for (let k = 0; k < nImages; k++) {
            const m = subtypeCounter[subtype]++;
            const extra = subtype === "virus" && rng() < 0.05
              ? `_${2 + Math.floor(rng() * 2)}`
              : "";
            names.push(`person${id}_${subtype}_${m}${extra}.jpeg`);
          }
        }
        for (const name of names) {
          jobs.push({ path: join(dir, name), subtype, anatomy, seed: Math.floor(rng() * 2 ** 31) });
        }
      }
      await Deno.mkdir(dir, { recursive: true });
    }
  }
  // Render and encode a few at a time (sharp encodes off the main thread).
  const files = jobs.map((j) => j.path);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const job = jobs[next++];
      const px = renderChest(makeRng(job.seed), size, job.subtype, {
        anatomy: job.anatomy,
        ribs: opts.ribs,
      });
      if (opts.shift) shiftImage(px, size, opts.shift);
      await sharp(px, { raw: { width: size, height: size, channels: 1 } })
        .toColourspace("b-w")
        .jpeg({ quality: 92 })
        .toFile(job.path);
    }
  };
  await Promise.all([worker(), worker(), worker()]);
  return { root, files: files.sort() };
}
