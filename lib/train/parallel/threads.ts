/**
 * Runs tfjs-backend-wasm's multi-threaded build (`tfjs-backend-wasm-threaded-simd.wasm`, XNNPACK
 * with a pthreadpool) under Deno, which tfjs disables for Node-like runtimes (tfjs issue #3830).
 *
 * Why by hand: tfjs ships the threaded build but its loader cannot start the pthread workers
 * outside a browser, and no published package does. Three things stop it under Deno, each found by
 * trying (see the record in `parallel.ts`):
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
  if (!(await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT"))) {
    throw new Error(
      "enableWasmThreads: this runtime has no wasm SIMD; the threaded build needs it",
    );
  }
  const source = patchedPthreadSource();
  let reinitialised = false;
  const registry = tf.engine().registry as Record<string, unknown>;
  if (registry["wasm"] !== undefined) {
    const factory = tf.findBackendFactory("wasm");
    if (factory == null) throw new Error("enableWasmThreads: wasm backend has no factory");
    tf.removeBackend("wasm");
    tf.registerBackend("wasm", factory, 2);
    reinitialised = true;
  }

  class PthreadWorker extends NodeWorker {
    constructor(_url: string | URL, options?: Record<string, unknown>) {
      super(source, { ...(options ?? {}), eval: true });
      super.unref();
    }
    // Emscripten refs a worker while it runs a pthread, and XNNPACK's pool threads never return:
    // the process would never exit. The main thread blocks while the pool works, so an unref'd
    // pool is never left running unattended.
    override ref(): void {}
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
  }
  return { threads: getThreadsCount(), reinitialised };
}
