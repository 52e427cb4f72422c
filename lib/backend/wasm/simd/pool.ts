/**
 * Threads for the SIMD kernels inside one training step: `threads - 1` Deno workers, each with its
 * own instance of the kernel module on the same shared `WebAssembly.Memory` (tfjs' threaded
 * build), plus the calling thread. A kernel call is cut into parts that write disjoint outputs
 * (see `split.ts`); {@link KernelPool.run} hands part k to worker k, runs part 0 itself and
 * returns when every part is done, so that to tfjs the kernel is as synchronous as before.
 *
 * Why by hand: tfjs' kernels must return synchronously, so no message-passing pool (promises) can
 * run inside one; the hand-off is a few integers in a SharedArrayBuffer, woken with
 * `Atomics.notify` and waited for with `Atomics.wait` (a futex each way). Measured on the 2-core
 * EPYC: see lib/backend/README.md.
 *
 * Parts are claimed, not assigned: each part has a flag that a thread takes with a
 * compare-exchange (the calling thread starts with part 0, worker k with part k, then each takes
 * whatever is left), so that when a worker is late (descheduled on a busy machine, or slow to
 * wake) the calling thread runs its part instead of sleeping until it comes. Which thread runs a
 * part changes nothing in its result.
 *
 * The workers are unref'd: a process that never calls {@link KernelPool.close} still exits. A
 * part that throws (e.g. a trap) is reported by `run` as an error naming the kernel and thread.
 * @module
 */
import { Worker as NodeWorker } from "node:worker_threads";

/**
 * Control block layout (Int32Array indices): the round's sequence number (woken on), parts not
 * yet finished, the kernel, stop, the failed thread, the round open for claiming, its part count,
 * then one claim flag per part (the round number while open, its negation once claimed), then
 * the parts' arguments.
 */
const SEQ = 0, PENDING = 1, FN = 2, STOP = 3, ERR = 4, ROUND = 5, NPARTS = 6, FLAGS = 8;
/** Most i32 arguments of one kernel part. */
export const MAX_ARGS = 28;
/** Most parts of one call: this many per thread. */
export const PARTS_PER_THREAD = 4;
/** Index of the first argument slot, for a pool of `threads`. */
function argsBase(threads: number): number {
  return FLAGS + PARTS_PER_THREAD * threads;
}
/** Control block length (Int32 values) for a pool of `threads`. */
function controlLength(threads: number): number {
  return argsBase(threads) + PARTS_PER_THREAD * threads * MAX_ARGS;
}

/**
 * Claims and runs the open parts of the current round, starting with part `first`; returns the
 * number run. Shared by the calling thread and the workers.
 */
export function runClaimed(
  c: Int32Array,
  threads: number,
  first: number,
  run: (fn: number, args: number[]) => void,
  onError: () => void,
  scratch: number[],
): number {
  const round = Atomics.load(c, ROUND), n = Atomics.load(c, NPARTS);
  const base = argsBase(threads);
  let done = 0;
  for (let k = 0; k < n; k++) {
    const p = (first + k) % n;
    if (Atomics.compareExchange(c, FLAGS + p, round, -round) !== round) continue;
    const at = base + p * MAX_ARGS, count = c[at + MAX_ARGS - 1];
    scratch.length = count;
    for (let i = 0; i < count; i++) scratch[i] = c[at + i];
    try {
      run(c[FN], scratch);
    } catch {
      onError();
    }
    done++;
    if (Atomics.sub(c, PENDING, 1) === 1) Atomics.notify(c, PENDING);
  }
  return done;
}

/** The kernels a pool can run, by the index the workers know them by. */
export const POOL_KERNELS = [
  "conv2d",
  "conv_filter_grad",
  "max_pool_2x2_grad",
  "sum_rows",
  "relu_grad",
  "f64_to_f32",
  "mul",
  "dropout_mask",
  "adam",
  "relu_grad_sum",
  "sum_blocks",
  "max_pool_2x2",
  "wino_filter",
  "conv_wino",
  "conv_wino_filter_grad",
  "wino_filter_grad_out",
] as const;
/** A kernel the pool can run. */
export type PoolKernel = (typeof POOL_KERNELS)[number];

/** What the main thread sends each worker once. */
export interface PoolInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
  index: number;
  threads: number;
}

type Fn = (...args: number[]) => void;

/** A started pool; see the module comment. */
export class KernelPool {
  private closed = false;
  private round = 0;
  private readonly scratch: number[] = [];

  private constructor(
    /** Threads that compute, this one included. */
    readonly threads: number,
    private readonly control: Int32Array,
    private readonly workers: NodeWorker[],
    private readonly local: Record<PoolKernel, Fn>,
  ) {}

  /** A pool of one thread (this one): no workers, every part runs here. */
  static single(module: WebAssembly.Module, memory: WebAssembly.Memory): KernelPool {
    const instance = new WebAssembly.Instance(module, { env: { memory } });
    const local = instance.exports as unknown as Record<PoolKernel, Fn>;
    return new KernelPool(
      1,
      new Int32Array(new SharedArrayBuffer(4 * controlLength(1))),
      [],
      local,
    );
  }

  /**
   * Starts `threads - 1` workers on `memory` (which must be shared) and resolves once each has
   * instantiated `module` there. `threads` 1 starts none (every part then runs here).
   */
  static async start(
    module: WebAssembly.Module,
    memory: WebAssembly.Memory,
    threads: number,
  ): Promise<KernelPool> {
    if (!Number.isInteger(threads) || threads < 1) {
      throw new Error(`KernelPool: threads must be a positive integer, got ${threads}`);
    }
    if (threads > 1 && !(memory.buffer instanceof SharedArrayBuffer)) {
      throw new Error(
        "KernelPool: the wasm memory is not shared; threads need tfjs' threaded build",
      );
    }
    const instance = new WebAssembly.Instance(module, { env: { memory } });
    const local = instance.exports as unknown as Record<PoolKernel, Fn>;
    const control = new SharedArrayBuffer(4 * controlLength(threads));
    const workers: NodeWorker[] = [];
    try {
      await Promise.all(
        Array.from({ length: threads - 1 }, (_, i) => {
          const init: PoolInit = { module, memory, control, index: i + 1, threads };
          const w = new NodeWorker(new URL("./_pool_worker.ts", import.meta.url), {
            workerData: init,
          });
          workers.push(w);
          return new Promise<void>((resolve, reject) => {
            w.once("message", (m) => {
              if (m === "ready") resolve();
              else reject(new Error(`KernelPool: worker ${i + 1} failed to start: ${m}`));
            });
            w.once("error", (e) => {
              reject(new Error(`KernelPool: worker ${i + 1} failed to start: ${e.message}`));
            });
          });
        }),
      );
    } catch (e) {
      for (const w of workers) w.terminate();
      throw e;
    }
    // An idle pool must not keep the process alive (Deno's Web Workers cannot be unref'd, so the
    // workers are node:worker_threads ones).
    for (const w of workers) w.unref();
    return new KernelPool(threads, new Int32Array(control), workers, local);
  }

  /**
   * Runs `name` once per entry of `parts` (at most {@link threads}; each the kernel's i32
   * arguments): part 0 on this thread, part k on worker k, and returns when all are done. The
   * parts must write disjoint memory.
   */
  run(name: PoolKernel, parts: number[][]): void {
    if (this.closed) throw new Error("KernelPool: used after close()");
    if (parts.length === 0) return;
    if (parts.length > PARTS_PER_THREAD * this.threads) {
      throw new Error(`KernelPool: ${parts.length} parts for ${this.threads} threads`);
    }
    for (const p of parts) {
      if (p.length > MAX_ARGS - 1) throw new Error(`KernelPool: ${p.length} arguments for ${name}`);
    }
    if (parts.length === 1 || this.threads === 1) {
      // Nothing to share: run here, in order (no hand-off).
      for (const p of parts) this.call(name, () => this.local[name](...p));
      return;
    }
    const c = this.control, base = argsBase(this.threads);
    parts.forEach((p, k) => {
      const at = base + k * MAX_ARGS;
      for (let i = 0; i < p.length; i++) c[at + i] = p[i];
      c[at + MAX_ARGS - 1] = p.length; // the last slot holds the argument count
    });
    const round = this.round = this.round % 0x3fffffff + 1;
    c[FN] = POOL_KERNELS.indexOf(name);
    Atomics.store(c, ERR, 0);
    Atomics.store(c, PENDING, parts.length);
    Atomics.store(c, NPARTS, parts.length);
    for (let k = 0; k < parts.length; k++) Atomics.store(c, FLAGS + k, round);
    Atomics.store(c, ROUND, round);
    Atomics.add(c, SEQ, 1);
    Atomics.notify(c, SEQ);
    let error: unknown = null;
    runClaimed(
      c,
      this.threads,
      0,
      (fn, args) => {
        try {
          this.local[POOL_KERNELS[fn]](...args);
        } catch (e) {
          error ??= e;
          throw e;
        }
      },
      () => {},
      this.scratch,
    );
    for (;;) {
      const left = Atomics.load(c, PENDING);
      if (left === 0) break;
      Atomics.wait(c, PENDING, left, 1000);
    }
    const failed = Atomics.load(c, ERR);
    if (failed && !error) error = new Error(`KernelPool: ${name} failed on worker ${failed}`);
    if (error) throw this.wrap(name, error);
  }

  private call(name: PoolKernel, f: () => void): void {
    try {
      f();
    } catch (e) {
      throw this.wrap(name, e);
    }
  }

  private wrap(name: PoolKernel, error: unknown): unknown {
    return error instanceof Error
      ? new Error(`KernelPool: ${name} failed: ${error.message}`, { cause: error })
      : error;
  }

  /** Stops the workers; safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const c = this.control;
    Atomics.store(c, STOP, 1);
    Atomics.add(c, SEQ, 1);
    Atomics.notify(c, SEQ);
    for (const w of this.workers) w.terminate();
  }
}

/** Indices of the control block, for the worker. */
export const CONTROL = { SEQ, STOP, ERR } as const;
