/**
 * The replicas' gradient exchange: a SharedArrayBuffer that every worker of a
 * `DataParallelTrainer` maps, holding one gradient slot per replica (two sets, by the parity of
 * the step) and a barrier. Each worker writes its shard's gradient into its slot, waits at the
 * barrier for the others, then computes the same weighted average from all slots and applies it
 * with its own optimizer: the main thread is off the step's critical path (it sends shards and
 * reads losses), and no gradient crosses a message.
 *
 * Why two sets of slots: a worker that has passed step s's barrier may write step s + 1's
 * gradient while a slower one still reads step s's slots; it cannot reach step s + 2's write
 * before every worker has arrived at step s + 1's barrier, that is, has finished reading step s.
 *
 * Why by hand: the exchange lives inside one synchronous step of each worker (`Atomics.wait`),
 * between tfjs calls; no library does an all-reduce over Deno workers.
 *
 * Failure: a worker whose gradient failed still arrives, with its index in `FAILED`, and after
 * the barrier every worker throws (none applies the step, so the replicas stay equal). The main
 * thread sets `ABORT` when a worker dies or the trainer is disposed; a worker waiting at the
 * barrier then throws instead of waiting for ever.
 * @module
 */

/** Control words (Int32): arrived count, barrier generation, failed replica + 1, abort. */
const ARRIVED = 0, GENERATION = 1, FAILED = 2, ABORT = 3;
/** Int32 words before the slots (keeps the slots 16-byte aligned). */
const HEADER = 4;
/** How long one `Atomics.wait` at the barrier lasts before the abort flag is checked again. */
const WAIT_SLICE_MS = 500;

/** One replica's handle on the exchange (the main thread only creates and aborts it). */
export class GradientExchange {
  private readonly control: Int32Array;
  /** The f64 sums of {@link average}, made on first use. */
  private acc: Float64Array | null = null;

  private constructor(
    /** The shared memory, to send to every worker. */
    readonly buffer: SharedArrayBuffer,
    /** Number of replicas. */
    readonly replicas: number,
    /** Values of one gradient. */
    readonly size: number,
  ) {
    this.control = new Int32Array(buffer, 0, HEADER);
  }

  /** A new exchange for `replicas` gradients of `size` values. */
  static create(replicas: number, size: number): GradientExchange {
    if (!Number.isInteger(replicas) || replicas < 1) {
      throw new Error(`GradientExchange: replicas must be a positive integer, got ${replicas}`);
    }
    if (!Number.isInteger(size) || size < 0) {
      throw new Error(`GradientExchange: size must be a non-negative integer, got ${size}`);
    }
    const buffer = new SharedArrayBuffer(4 * (HEADER + 2 * replicas * size));
    return new GradientExchange(buffer, replicas, size);
  }

  /** The exchange in `buffer` (made by {@link create} with these sizes), in a worker. */
  static attach(buffer: SharedArrayBuffer, replicas: number, size: number): GradientExchange {
    if (buffer.byteLength !== 4 * (HEADER + 2 * replicas * size)) {
      throw new Error(
        `GradientExchange: ${buffer.byteLength} bytes do not hold ${replicas} x 2 gradients of ${size}`,
      );
    }
    return new GradientExchange(buffer, replicas, size);
  }

  /** Replica `k`'s slot for steps of this parity (0 or 1). */
  slot(parity: number, k: number): Float32Array {
    return new Float32Array(
      this.buffer,
      4 * (HEADER + ((parity & 1) * this.replicas + k) * this.size),
      this.size,
    );
  }

  /**
   * Waits until every replica has arrived for this step; `failed` says this replica's gradient
   * failed. Throws (in every replica) if one failed, or if the exchange was aborted.
   */
  arrive(index: number, failed = false): void {
    const c = this.control;
    if (failed) Atomics.compareExchange(c, FAILED, 0, index + 1);
    const generation = Atomics.load(c, GENERATION);
    if (Atomics.add(c, ARRIVED, 1) === this.replicas - 1) {
      Atomics.store(c, ARRIVED, 0);
      Atomics.add(c, GENERATION, 1);
      Atomics.notify(c, GENERATION);
    } else {
      while (Atomics.load(c, GENERATION) === generation) {
        if (Atomics.load(c, ABORT)) {
          throw new Error(
            "the gradient exchange was aborted (a replica failed, or the trainer was disposed)",
          );
        }
        Atomics.wait(c, GENERATION, generation, WAIT_SLICE_MS);
      }
    }
    const bad = Atomics.load(c, FAILED);
    if (bad) throw new Error(`replica ${bad - 1} failed in this step or an earlier one`);
  }

  /**
   * The weighted average of this parity's slots into `out`: sum over k of `weights[k]` times
   * slot k, in f64 in order of k (replicas with weight 0 skipped), then rounded to f32. Every
   * replica computes the very same bits.
   */
  average(parity: number, weights: number[], out: Float32Array): void {
    if (weights.length !== this.replicas || out.length !== this.size) {
      throw new Error("GradientExchange.average: weights or output of the wrong size");
    }
    // Reused every step (this runs once a step in every replica, on the hot path).
    const acc = this.acc ??= new Float64Array(this.size);
    acc.fill(0);
    weights.forEach((w, k) => {
      if (w === 0) return;
      const g = this.slot(parity, k);
      for (let j = 0; j < acc.length; j++) acc[j] += w * g[j];
    });
    out.set(acc);
  }

  /** Makes every replica waiting at (or later arriving at) the barrier throw. */
  abort(): void {
    Atomics.store(this.control, ABORT, 1);
    Atomics.notify(this.control, GENERATION);
  }
}
