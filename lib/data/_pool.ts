/**
 * Bounded-concurrency map (private helper of the data layer).
 * @module
 */

/**
 * Maps `fn` over `items` with at most `limit` calls in flight; results keep the input order.
 * Written by hand: a dozen lines, and no dependency of ours offers it. A rejection of `fn`
 * rejects the whole map, so callers that must not stop catch inside `fn`.
 */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
  onDone?: (done: number, total: number) => void,
): Promise<R[]> {
  if (!Number.isInteger(limit) || limit < 1) {
    throw new RangeError(`concurrency must be a positive integer, got ${limit}`);
  }
  const out = new Array<R>(items.length);
  let next = 0, done = 0;
  async function worker(): Promise<void> {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
      onDone?.(++done, items.length);
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
