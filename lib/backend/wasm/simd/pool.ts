/**
 * Threads for the SIMD kernels inside one training step: `threads - 1` Deno workers, each with its
 * own instance of the kernel module on the same shared `WebAssembly.Memory` (tfjs' threaded
 * build), plus the calling thread. A kernel call is cut into parts that write disjoint outputs
 * (see `parallel.ts`); {@link KernelPool.run} hands part k to worker k, runs part 0 itself and
 * returns when every part is done, so that to tfjs the kernel is as synchronous as before.
 *
 * Why by hand: tfjs' kernels must return synchronously, so no message-passing pool (promises) can
 * run inside one; the hand-off is a few integers in a SharedArrayBuffer, woken with
 * `Atomics.notify` and waited for with `Atomics.wait` (a futex each way). Measured on the 2-core
 * EPYC: see `parallel.ts`.
 *
 * The workers are unref'd: a process that never calls {@link KernelPool.close} still exits. A
 * part that throws (e.g. a trap) is reported by `run` as an error naming the kernel and thread.
 * @module
 */
import { Worker as NodeWorker } from "node:worker_threads";

/** Control block layout (Int32Array indices). */
const SEQ = 0, PENDING = 1, FN = 2, STOP = 3, ERR = 4, ARGS = 8;
/** Most i32 arguments of one kernel part. */
export const MAX_ARGS = 28;

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
] as const;
/** A kernel the pool can run. */
export type PoolKernel = (typeof POOL_KERNELS)[number];

/** What the main thread sends each worker once. */
export interface PoolInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  control: SharedArrayBuffer;
  index: number;
}

type Fn = (...args: number[]) => void;

/** A started pool; see the module comment. */
export class KernelPool {
  private closed = false;

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
      new Int32Array(new SharedArrayBuffer(4 * (ARGS + MAX_ARGS))),
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
    const control = new SharedArrayBuffer(4 * (ARGS + threads * MAX_ARGS));
    const workers: NodeWorker[] = [];
    try {
      await Promise.all(
        Array.from({ length: threads - 1 }, (_, i) => {
          const init: PoolInit = { module, memory, control, index: i + 1 };
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
    if (parts.length > this.threads) {
      throw new Error(`KernelPool: ${parts.length} parts for ${this.threads} threads`);
    }
    const c = this.control;
    const others = parts.length - 1;
    if (others > 0) {
      for (let k = 1; k <= others; k++) {
        const p = parts[k], base = ARGS + k * MAX_ARGS;
        if (p.length > MAX_ARGS) throw new Error(`KernelPool: ${p.length} arguments for ${name}`);
        for (let i = 0; i < p.length; i++) c[base + i] = p[i];
        c[base + MAX_ARGS - 1] = p.length; // the last slot holds the argument count
      }
      // Workers beyond `others` see a zero count and skip this round.
      for (let k = others + 1; k < this.threads; k++) c[ARGS + (k + 1) * MAX_ARGS - 1] = 0;
      c[FN] = POOL_KERNELS.indexOf(name);
      Atomics.store(c, ERR, 0);
      Atomics.store(c, PENDING, this.threads - 1);
      Atomics.add(c, SEQ, 1);
      Atomics.notify(c, SEQ);
    }
    let error: unknown = null;
    try {
      this.local[name](...parts[0]);
    } catch (e) {
      error = e;
    }
    if (others > 0) {
      for (;;) {
        const left = Atomics.load(c, PENDING);
        if (left === 0) break;
        Atomics.wait(c, PENDING, left, 1000);
      }
      const failed = Atomics.load(c, ERR);
      if (failed && !error) {
        error = new Error(`KernelPool: ${name} failed on worker ${failed}`);
      }
    }
    if (error) {
      throw error instanceof Error
        ? new Error(`KernelPool: ${name} failed: ${error.message}`, { cause: error })
        : error;
    }
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
export const CONTROL = { SEQ, PENDING, FN, STOP, ERR, ARGS } as const;
