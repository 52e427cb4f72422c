/**
 * Seeded randomness, so that every split, balance and augmentation is reproducible.
 *
 * @example
 * ```ts
 * import { makeRng, shuffle } from "./rng.ts";
 * const rng = makeRng(42);
 * const order = shuffle([1, 2, 3, 4], rng);
 * ```
 * @module
 */

/** A function returning uniform floats in [0, 1). */
export type Rng = () => number;

/**
 * Mulberry32: a small, fast 32-bit PRNG. Written by hand because neither the JS runtime nor our
 * libraries offer a seedable generator (Math.random cannot be seeded).
 */
export function makeRng(seed: number): Rng {
  let a = (seed >>> 0) ^ 0x9e3779b9;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher-Yates shuffle into a new array. */
export function shuffle<T>(items: readonly T[], rng: Rng): T[] {
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** Standard normal sample (Box-Muller). */
export function randNormal(rng: Rng): number {
  const u = Math.max(rng(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}
