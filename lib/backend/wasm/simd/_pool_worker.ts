/**
 * One thread of {@link KernelPool} (`pool.ts`), a `node:worker_threads` worker: instantiates the
 * kernel module on the shared memory it is given, says "ready", then waits on the control block
 * for parts to run until told to stop. It blocks in `Atomics.wait` between parts and never
 * returns to its event loop while the pool is open.
 * @module
 */
import { parentPort, workerData } from "node:worker_threads";
import { CONTROL, MAX_ARGS, POOL_KERNELS, type PoolInit } from "./pool.ts";

type Fn = (...args: number[]) => void;

function serve({ module, memory, control, index }: PoolInit): void {
  let fns: Fn[];
  try {
    const exports = new WebAssembly.Instance(module, { env: { memory } }).exports;
    fns = POOL_KERNELS.map((name) => exports[name] as Fn);
  } catch (err) {
    parentPort!.postMessage(String(err));
    return;
  }
  const c = new Int32Array(control);
  const { SEQ, PENDING, FN, STOP, ERR, ARGS } = CONTROL;
  const base = ARGS + index * MAX_ARGS;
  const args: number[] = [];
  // Read before saying "ready": the first part may be posted as soon as the main thread hears it.
  let seen = Atomics.load(c, SEQ);
  parentPort!.postMessage("ready");
  for (;;) {
    Atomics.wait(c, SEQ, seen);
    seen = Atomics.load(c, SEQ);
    if (Atomics.load(c, STOP)) break;
    const n = c[base + MAX_ARGS - 1];
    if (n > 0) {
      args.length = n;
      for (let i = 0; i < n; i++) args[i] = c[base + i];
      try {
        fns[c[FN]](...args);
      } catch {
        Atomics.store(c, ERR, index);
      }
    }
    if (Atomics.sub(c, PENDING, 1) === 1) Atomics.notify(c, PENDING);
  }
}

serve(workerData as PoolInit);
