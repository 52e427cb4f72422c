/**
 * Runs tfjs-backend-wasm's multi-threaded build (`tfjs-backend-wasm-threaded-simd.wasm`, XNNPACK
 * with a pthreadpool) under Deno, which tfjs disables for Node-like runtimes (tfjs issue #3830).
 *
 * Why by hand: tfjs ships the threaded build but its loader cannot start the pthread workers
 * outside a browser, and no published package does. Three things stop it under Deno, each found by
 * trying (see the record in lib/train/parallel/trainer.ts):
 *
 * 1. `WASM_HAS_MULTITHREAD_SUPPORT` returns false whenever `IS_NODE` is true (Deno exposes
 *    `process`, so it is): we set the flag to true.
 * 2. Emscripten's Node path does `global.Worker = require("worker_threads").Worker` (replacing
 *    Deno's Web Worker global) and then `new Worker(blobUrl)`; Deno's `node:worker_threads`
 *    rejects blob URLs (`ERR_WORKER_PATH`). We intercept the global during initialisation and
 *    start each pthread worker with `{eval: true}` on the worker source tfjs ships, patched three
 *    ways: newlines escaped (tfjs does the same before making its Blob), the `location`
 *    assignment dropped (Deno's worker global has a getter-only `location`: "Cannot set property
 *    location of #<DedicatedWorkerGlobalScope> which has only a getter"), and the main script
 *    loaded from its file path instead of the Blob that the main thread posts (Blobs cannot be
 *    loaded with `importScripts` there). The Blob in the "load" message is replaced by a string.
 * 3. The C side caps the pool at `emscripten_num_logical_cores() / 2` (it assumes two hardware
 *    threads per core) and that is `os.cpus().length` under Node: on a 2-core machine the pool
 *    gets 1 thread whatever `setThreadsCount` asks. We report twice the requested count from
 *    `os.cpus()` while the module instantiates, then restore it.
 *
 * The pthread workers are created once (emscripten pre-spawns its pool of 8). Emscripten `ref`s a
 * Node worker while it runs a pthread and XNNPACK's pool threads never finish, so the process
 * would never exit: our workers ignore `ref()`.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { getThreadsCount, setThreadsCount } from "@tensorflow/tfjs-backend-wasm";
import os from "node:os";
import { Worker as NodeWorker } from "node:worker_threads";
import { createRequire } from "node:module";
import { stopKernelThreads } from "./simd/mod.ts";
import type { WasmBackendLike } from "./_heap.ts";

/**
 * The default number of wasm threads: 2 where the machine has two cores or more (our kernels split
 * over a pool of threads on tfjs' threaded build), else 1. They serve what runs in this thread:
 * prediction, evaluation, models on a pretrained base, and the training of the models that
 * data-parallel workers do not speed up (`defaultTrainWorkers` in lib/train/parallel/workers.ts
 * gives the others two workers of one thread each). Measured on the idle 2-core AMD EPYC
 * (AVX-512), 2026-12-04: a whole 150 px cnn_reg epoch of `deno task train` took 60.1 and 61.5 s
 * with two kernel threads against 71.4 and 71.1 s with two workers and one thread, the workers
 * then rebuilding TF.js' stock layers; 2026-12-05, with the project's layers in the workers, 43.8 s
 * against 41.9 s. On a machine busy with other work two workers did better (88.2 s against
 * 102.9 s at load about 2, docs/full-profile.md): there, `XRAY_WASM_THREADS=1` trains every model
 * on workers. One full test-suite run in three once hung with kernel threads on, on a machine
 * loaded by a long report (not explained); since then the full suite three times, tests/train/ 13
 * times and the report tests 6 times in a row passed with them on (lib/backend/README.md). More
 * than two threads are untested, so the default stays at 2 on larger machines.
 */
export const DEFAULT_WASM_THREADS: number = Math.min(
  2,
  Math.max(1, navigator.hardwareConcurrency || 1),
);

/**
 * The threads the wasm backend computes with, from one place: `XRAY_WASM_THREADS` (a positive
 * integer) when set, else {@link DEFAULT_WASM_THREADS}. 1 means tfjs' single-threaded build and
 * no kernel pool.
 * @throws when `XRAY_WASM_THREADS` is set to something else than a positive integer.
 */
export function wasmThreadsSetting(): { threads: number; from: "XRAY_WASM_THREADS" | "default" } {
  const env = Deno.env.get("XRAY_WASM_THREADS")?.trim();
  if (env) {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 1) {
      throw new Error(`XRAY_WASM_THREADS="${env}" is not a positive integer (e.g. 1 or 2)`);
    }
    return { threads: n, from: "XRAY_WASM_THREADS" };
  }
  return { threads: DEFAULT_WASM_THREADS, from: "default" };
}

/** The threaded wasm backend instance this module made, and its XNNPACK threads. */
let threaded: { instance: unknown; threads: number } | null = null;

/** Whether the active wasm backend instance is tfjs' threaded build (made by enableWasmThreads). */
export function wasmThreadedActive(): boolean {
  const registry = tf.engine().registry as Record<string, unknown>;
  return threaded !== null && registry["wasm"] === threaded.instance;
}

/**
 * Makes the wasm backend single-threaded again (tfjs' single-threaded build) if this module made
 * it threaded; tensors on the threaded instance are lost. Then activates it.
 */
export async function disableWasmThreads(): Promise<void> {
  if (wasmThreadedActive()) {
    stopKernelThreads(threaded!.instance as WasmBackendLike);
    const factory = tf.findBackendFactory("wasm");
    if (factory == null) throw new Error("disableWasmThreads: wasm backend has no factory");
    tf.removeBackend("wasm");
    tf.registerBackend("wasm", factory, 2);
  }
  threaded = null;
  tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false);
  if (!(await tf.setBackend("wasm"))) throw new Error("the wasm backend did not initialise");
}

/** Result of {@link enableWasmThreads}. */
export interface WasmThreadsInfo {
  /** Threads XNNPACK's pool really uses (as reported by the wasm module). */
  threads: number;
  /** True when an already initialised single-threaded wasm backend was replaced. */
  reinitialised: boolean;
}

const WORKER_LOAD_PATCH =
  `if(typeof e.data.urlOrBlob=="string"){importScripts(e.data.urlOrBlob)}else{var objectUrl=URL.createObjectURL(e.data.urlOrBlob);importScripts(objectUrl);URL.revokeObjectURL(objectUrl)}`;
const LOCATION_PATCH = `location:{href:__filename},`;

/** The pthread worker source of tfjs-backend-wasm, patched to run under Deno's worker_threads. */
function patchedPthreadSource(): string {
  const entry = new URL(import.meta.resolve("@tensorflow/tfjs-backend-wasm"));
  const dir = new URL("../wasm-out/", entry);
  const workerJs = new URL("tfjs-backend-wasm-threaded-simd.worker.js", dir);
  const mainJs = new URL("tfjs-backend-wasm-threaded-simd.js", dir);
  const require = createRequire(import.meta.url);
  const mod = require(workerJs.pathname) as { wasmWorkerContents?: unknown };
  if (typeof mod.wasmWorkerContents !== "string") {
    throw new Error(`enableWasmThreads: ${workerJs.pathname} exports no wasmWorkerContents string`);
  }
  let src = mod.wasmWorkerContents.replace(/\n/g, "\\n");
  for (const needle of [WORKER_LOAD_PATCH, LOCATION_PATCH]) {
    if (!src.includes(needle)) {
      throw new Error(
        `enableWasmThreads: the pthread worker source in ${workerJs.pathname} changed ` +
          `(expected to find ${
            JSON.stringify(needle.slice(0, 40))
          }...); tfjs-backend-wasm 4.22.0 is supported`,
      );
    }
  }
  src = src.replace(WORKER_LOAD_PATCH, `importScripts(${JSON.stringify(mainJs.pathname)});`);
  src = src.replace(LOCATION_PATCH, "");
  return src;
}

/**
 * Initialises (or re-initialises) the wasm backend with its multi-threaded SIMD build and makes it
 * the active backend. Call it before building models; tensors made on an earlier wasm backend
 * instance are lost when it is replaced. Kernels registered for "wasm" (e.g. lib/backend's
 * gradient kernels) stay registered: the registry is keyed by backend name.
 *
 * @param threads pool size wanted (default: the number of CPUs); the wasm module caps it at 8.
 * @throws when SIMD is unsupported (the threaded build needs it) or initialisation fails; the
 *   `Worker` global and `os.cpus` are restored either way.
 */
export async function enableWasmThreads(threads = os.cpus().length): Promise<WasmThreadsInfo> {
  if (!Number.isInteger(threads) || threads < 1) {
    throw new Error(`enableWasmThreads: threads must be a positive integer, got ${threads}`);
  }
  if (wasmThreadedActive() && threaded!.threads === threads) {
    // Already made: switch to it (e.g. back from the cpu backend), keeping its tensors.
    if (!(await tf.setBackend("wasm"))) throw new Error("the wasm backend did not initialise");
    return { threads: getThreadsCount(), reinitialised: false };
  }
  if (!(await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT"))) {
    throw new Error(
      "enableWasmThreads: this runtime has no wasm SIMD; the threaded build needs it",
    );
  }
  const source = patchedPthreadSource();
  let reinitialised = false;
  const registry = tf.engine().registry as Record<string, unknown>;
  if (registry["wasm"] !== undefined) {
    if (wasmThreadedActive()) stopKernelThreads(registry["wasm"] as WasmBackendLike);
    const factory = tf.findBackendFactory("wasm");
    if (factory == null) throw new Error("enableWasmThreads: wasm backend has no factory");
    tf.removeBackend("wasm");
    tf.registerBackend("wasm", factory, 2);
    reinitialised = true;
  }

  // Emscripten refs a worker while it runs a pthread, and XNNPACK's pool threads never return:
  // the process would never exit. The main thread blocks while the pool works, so an unref'd
  // pool is never left running unattended. They stay ref'd until the module has loaded: its
  // start-up waits for their "loaded" messages, which an unref'd worker would not keep the event
  // loop alive for (Deno's test runner then fails with "Promise resolution is still pending").
  const started: NodeWorker[] = [];
  let loaded = false;
  class PthreadWorker extends NodeWorker {
    constructor(_url: string | URL, options?: Record<string, unknown>) {
      super(source, { ...(options ?? {}), eval: true });
      started.push(this);
    }
    override ref(): void {
      if (!loaded) super.ref();
    }
    override postMessage(msg: unknown, transfer?: readonly any[]): void {
      const m = msg as { cmd?: string; urlOrBlob?: unknown } | null;
      if (m && m.cmd === "load" && typeof m.urlOrBlob !== "string") {
        msg = { ...m, urlOrBlob: "loaded-from-file" };
      }
      super.postMessage(msg, transfer as any);
    }
  }

  const workerDesc = Object.getOwnPropertyDescriptor(globalThis, "Worker");
  const realCpus = os.cpus;
  tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", true);
  setThreadsCount(threads);
  Object.defineProperty(globalThis, "Worker", {
    configurable: true,
    get: () => PthreadWorker,
    set: () => {/* emscripten assigns worker_threads.Worker here; keep ours */},
  });
  const cpus = realCpus.call(os);
  (os as { cpus: () => os.CpuInfo[] }).cpus = () =>
    Array.from({ length: 2 * threads }, (_, i) => cpus[i % cpus.length]);
  try {
    const ok = await tf.setBackend("wasm");
    await tf.ready();
    if (!ok || tf.getBackend() !== "wasm") {
      throw new Error(
        `enableWasmThreads: tf.setBackend("wasm") failed (active: ${tf.getBackend()})`,
      );
    }
  } finally {
    (os as { cpus: () => os.CpuInfo[] }).cpus = realCpus;
    if (workerDesc) Object.defineProperty(globalThis, "Worker", workerDesc);
    loaded = true;
    for (const w of started) w.unref();
  }
  threaded = { instance: (tf.engine().registry as Record<string, unknown>)["wasm"], threads };
  return { threads: getThreadsCount(), reinitialised };
}
