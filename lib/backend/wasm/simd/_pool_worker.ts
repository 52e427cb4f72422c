/**
 * One thread of {@link KernelPool} (`pool.ts`), a `node:worker_threads` worker: instantiates the
 * kernel module on the shared memory it is given, says "ready", then waits on the control block
 * for parts to run until told to stop. It blocks in `Atomics.wait` between parts and never
 * returns to its event loop while the pool is open.
 * @module
 */
import { parentPort, workerData } from "node:worker_threads";
import { CONTROL, POOL_KERNELS, type PoolInit, runClaimed } from "./pool.ts";

type Fn = (...args: number[]) => void;

function serve({ module, memory, control, index, threads }: PoolInit): void {
  let fns: Fn[];
  try {
    const exports = new WebAssembly.Instance(module, { env: { memory } }).exports;
    fns = POOL_KERNELS.map((name) => exports[name] as Fn);
  } catch (err) {
    parentPort!.postMessage(String(err));
    return;
  }
  const c = new Int32Array(control);
  const { SEQ, STOP, ERR } = CONTROL;
  const args: number[] = [];
  const run = (fn: number, a: number[]) => fns[fn](...a);
  const failed = () => Atomics.store(c, ERR, index);
  // Read before saying "ready": the first part may be posted as soon as the main thread hears it.
  let seen = Atomics.load(c, SEQ);
  parentPort!.postMessage("ready");
  for (;;) {
    Atomics.wait(c, SEQ, seen);
    seen = Atomics.load(c, SEQ);
    if (Atomics.load(c, STOP)) break;
    // Part `index` first, then whatever the other threads have not taken.
    runClaimed(c, threads, index, run, failed, args);
  }
}

serve(workerData as PoolInit);
