/**
 * The dropout mask the fast dropout layer (lib/models/dropout.ts) multiplies by: each value
 * 1 / (1 - rate) with probability 1 - rate and 0 otherwise, from a 32-bit seed, with mulberry32
 * (a counter-style generator: value i depends on seed + (i + 1) * 0x6d2b79f5 alone, so that any
 * range of the mask can be made on its own, e.g. by the wasm kernel `dropout_mask` in
 * lib/backend/wasm/simd/kernels.c, on several threads). Written by hand because no maintained
 * package ships a bulk generator to a typed array. The same seed gives the same mask on every
 * backend and machine.
 * @module
 */

/** Name of the kernel that makes a mask on a backend's memory (wasm; attrs shape, rate, seed). */
export const DROPOUT_MASK_KERNEL = "XrayDropoutMask";

/**
 * The integer threshold and the kept value of a mask at `rate`: a value is kept when the top 24
 * bits u of its generator output satisfy u / 2^24 >= rate, i.e. u >= cut.
 */
export function dropoutMaskParams(rate: number): { cut: number; scale: number } {
  if (!(rate >= 0 && rate < 1)) throw new Error(`dropoutMask: rate must be in [0, 1), got ${rate}`);
  return { cut: Math.ceil(rate * 16777216), scale: Math.fround(1 / (1 - rate)) };
}

/** Writes values [from, from + out.length) of the mask of `seed` at `rate` into `out`. */
export function dropoutMaskInto(out: Float32Array, rate: number, seed: number, from = 0): void {
  const { cut, scale } = dropoutMaskParams(rate);
  let a = (seed + Math.imul(from, 0x6d2b79f5)) | 0;
  const n = out.length;
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    // The sign bit of u - cut decides without a branch (a data-dependent branch made the loop 4x
    // slower: 31 vs 7.5 ms for 2.8 M values).
    out[i] = (1 ^ ((((t ^ (t >>> 14)) >>> 8) - cut) >>> 31)) * scale;
  }
}

/** The first n values of the mask of `seed` at `rate`. */
export function dropoutMask(n: number, rate: number, seed: number): Float32Array {
  const mask = new Float32Array(n);
  dropoutMaskInto(mask, rate, seed);
  return mask;
}
