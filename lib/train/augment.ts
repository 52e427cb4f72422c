/**
 * Seeded image augmentation on uint8 HWC pixels: small rotation, shift, zoom (one affine warp,
 * bilinear, edges clamped), then brightness and contrast, written straight into the float batch.
 * The `strong` set ({@link STRONG_AUGMENT}) widens every range and adds an aspect change (zoom
 * differs between the axes), a gamma curve and pixel noise: the differences in positioning,
 * exposure and detector between sites; `framing` ({@link FRAMING_AUGMENT}) also zooms in further.
 *
 * Written by hand because tfjs-layers has no augmentation layers, and doing it on the uint8
 * cache in plain JS keeps it identical on every backend, seedable and cheap (one pass per image).
 * @module
 */
import type { Preprocessing } from "../models/types.ts";
import { randNormal, type Rng } from "../util/rng.ts";

/** Ranges of the random transforms (each drawn uniformly in [-r, r] or [lo, hi]). */
export interface AugmentOptions {
  /** Max rotation in degrees. */
  rotateDeg: number;
  /** Max shift as a fraction of the side. */
  shift: number;
  /** Zoom factor range [1 - zoom, 1 + zoom] (> 1 magnifies). */
  zoom: number;
  /** Zoom factor range [1 - zoom, zoomMax] instead, to zoom in further than out (optional). */
  zoomMax?: number;
  /** Max additive brightness change, in units of the [0, 1] pixel range. */
  brightness: number;
  /** Contrast factor range [1 - contrast, 1 + contrast] around the image mean. */
  contrast: number;
  /** Aspect change: x zoom times and y zoom divided by 1 + a, a in [-aspect, aspect] (optional). */
  aspect?: number;
  /** Gamma curve u -> u^g, log g uniform in [-log(1 + gamma), log(1 + gamma)] (optional). */
  gamma?: number;
  /** Maximum standard deviation of Gaussian pixel noise, in [0, 1] pixel units (optional). */
  noise?: number;
}

/** The training augmentation settings a run can ask for (`augmentation` in its config). */
export type AugmentationStrength = "standard" | "strong" | "framing";

/** Defaults: small changes that keep an X-ray plausible. */
export const DEFAULT_AUGMENT: AugmentOptions = {
  rotateDeg: 10,
  shift: 0.08,
  zoom: 0.1,
  brightness: 0.1,
  contrast: 0.15,
};

/** Wider ranges plus aspect, gamma and noise, for robustness to another site's acquisition. */
export const STRONG_AUGMENT: AugmentOptions = {
  rotateDeg: 15,
  shift: 0.12,
  zoom: 0.2,
  brightness: 0.2,
  contrast: 0.35,
  aspect: 0.12,
  gamma: 0.4,
  noise: 0.03,
};

/**
 * Strong, plus zooming in up to 1.5x: the site's normal films that the strong model over-scores
 * are framed tighter than the training folder's (the lungs fill the film, little background;
 * chapter 16's image statistics), so framing must not tell the classes apart.
 */
export const FRAMING_AUGMENT: AugmentOptions = { ...STRONG_AUGMENT, zoomMax: 1.5 };

/** The ranges of each strength. */
const BY_STRENGTH: Readonly<Record<AugmentationStrength, AugmentOptions>> = {
  standard: DEFAULT_AUGMENT,
  strong: STRONG_AUGMENT,
  framing: FRAMING_AUGMENT,
};

/** Every strength, in the order the CLI lists them. */
export const AUGMENTATION_STRENGTHS = Object.keys(BY_STRENGTH) as AugmentationStrength[];

/** The options of a strength name (absent: standard). */
export function augmentOptionsFor(strength: AugmentationStrength | undefined): AugmentOptions {
  return BY_STRENGTH[strength ?? "standard"];
}

const sym = (rng: Rng, r: number) => (rng() * 2 - 1) * r;

/**
 * Writes an augmented, normalised copy of one image (`src`, size*size*channels uint8) into
 * `out` at `offset`. Draws six numbers from `rng`, one more for each of `aspect` and `gamma`
 * that is set, and with `noise` one for its level plus two per pixel value.
 */
export function augmentInto(
  src: Uint8Array,
  pre: Preprocessing,
  rng: Rng,
  out: Float32Array,
  offset: number,
  opts: AugmentOptions = DEFAULT_AUGMENT,
): void {
  const { size: s, channels: c } = pre;
  const angle = (sym(rng, opts.rotateDeg) * Math.PI) / 180;
  const zoom = opts.zoomMax === undefined
    ? 1 + sym(rng, opts.zoom)
    : 1 - opts.zoom + rng() * (opts.zoomMax - 1 + opts.zoom);
  const tx = sym(rng, opts.shift) * s, ty = sym(rng, opts.shift) * s;
  const bright = sym(rng, opts.brightness);
  const contrast = 1 + sym(rng, opts.contrast);
  const aspect = opts.aspect ? 1 + sym(rng, opts.aspect) : 1;
  const gamma = opts.gamma ? Math.exp(sym(rng, Math.log(1 + opts.gamma))) : 1;
  const noise = opts.noise ? rng() * opts.noise : 0;
  // Inverse map: output pixel -> source coordinates (rotate and scale about the centre).
  const cos = Math.cos(angle) / zoom, sin = Math.sin(angle) / zoom, mid = (s - 1) / 2;
  const ax = 1 / aspect, ay = aspect;
  let mean = 0;
  for (let i = 0; i < src.length; i++) mean += src[i];
  mean = mean / src.length / 255;
  const a = pre.scale * 255, inv = 1 / pre.std;
  for (let y = 0; y < s; y++) {
    for (let x = 0; x < s; x++) {
      const dx = x - mid - tx, dy = y - mid - ty;
      let sx = (cos * dx + sin * dy) * ax + mid, sy = (-sin * dx + cos * dy) * ay + mid;
      sx = sx < 0 ? 0 : sx > s - 1 ? s - 1 : sx;
      sy = sy < 0 ? 0 : sy > s - 1 ? s - 1 : sy;
      const x0 = Math.floor(sx), y0 = Math.floor(sy);
      const x1 = x0 + 1 < s ? x0 + 1 : x0, y1 = y0 + 1 < s ? y0 + 1 : y0;
      const fx = sx - x0, fy = sy - y0;
      for (let ch = 0; ch < c; ch++) {
        const v00 = src[(y0 * s + x0) * c + ch], v01 = src[(y0 * s + x1) * c + ch];
        const v10 = src[(y1 * s + x0) * c + ch], v11 = src[(y1 * s + x1) * c + ch];
        const v = ((v00 * (1 - fx) + v01 * fx) * (1 - fy) + (v10 * (1 - fx) + v11 * fx) * fy) / 255;
        let u = (v - mean) * contrast + mean + bright;
        if (noise > 0) u += noise * randNormal(rng);
        u = u < 0 ? 0 : u > 1 ? 1 : u;
        if (gamma !== 1) u = u ** gamma;
        out[offset + (y * s + x) * c + ch] = (u * a - pre.mean) * inv;
      }
    }
  }
}
