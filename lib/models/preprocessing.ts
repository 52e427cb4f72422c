/**
 * Model input safeguards and pixel normalisation: a model refuses input it was not built for,
 * with a message that says what it expected (as torchxrayvision does next to its weights).
 * @module
 */
import type { Preprocessing } from "./types.ts";

/** Throws unless `shape` is [n, size, size, channels] for this preprocessing. */
export function checkInputShape(
  pre: Preprocessing,
  shape: readonly number[],
  what = "input",
): void {
  const [, h, w, c] = shape;
  if (shape.length !== 4 || h !== pre.size || w !== pre.size || c !== pre.channels) {
    throw new Error(
      `${what} has shape [${shape.join(", ")}], but the model expects [n, ${pre.size}, ` +
        `${pre.size}, ${pre.channels}]: ${pre.size}x${pre.size} pixels, ${pre.channels} ` +
        `channel(s) (${pre.channels === 1 ? "grayscale" : "RGB"}), HWC, pixels as ` +
        `(u8 * ${pre.scale.toPrecision(4)} - ${pre.mean}) / ${pre.std}`,
    );
  }
}

/**
 * Throws when float input looks wrongly scaled for this preprocessing (e.g. raw 0-255 pixels
 * given to a model that expects [0, 1]).
 */
export function checkInputRange(pre: Preprocessing, x: ArrayLike<number>, what = "input"): void {
  const lo = (0 - pre.mean) / pre.std, hi = (255 * pre.scale - pre.mean) / pre.std;
  const slack = 0.5 * (hi - lo);
  let min = Infinity, max = -Infinity;
  for (let i = 0; i < x.length; i++) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
  }
  if (min < lo - slack || max > hi + slack) {
    throw new Error(
      `${what} values lie in [${min}, ${max}], but the model expects about [${lo}, ${hi}] ` +
        `(pixels as (u8 * ${pre.scale.toPrecision(4)} - ${pre.mean}) / ${pre.std}); ` +
        "was it scaled twice or not at all?",
    );
  }
}

/** Normalises uint8 pixels into `out` (allocated when not given) at `offset`. */
export function normalisePixels(
  pre: Preprocessing,
  u8: Uint8Array,
  out: Float32Array = new Float32Array(u8.length),
  offset = 0,
): Float32Array {
  const a = pre.scale / pre.std, b = -pre.mean / pre.std;
  for (let i = 0; i < u8.length; i++) out[offset + i] = u8[i] * a + b;
  return out;
}
