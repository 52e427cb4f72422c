/**
 * Picks the TensorFlow.js backend: `@tensorflow/tfjs-node-gpu` if it loads, then `webgpu` on a
 * hardware adapter (`webgpu.ts`; a software adapter such as lavapipe is skipped), then
 * `@tensorflow/tfjs-node` (`node.ts`), then `@tensorflow/tfjs-backend-wasm`, then `cpu`: the GPU
 * backends first, then the CPU ones. A flag (`prefer`) or the environment variable `XRAY_BACKEND`
 * forces one (a forced webgpu accepts a software adapter). On wasm it registers this project's
 * gradient kernels (wasm ships without `Conv2DBackpropFilter`, so it could not train a CNN
 * otherwise).
 *
 * @example
 * ```ts
 * import { describeBackend, initBackend } from "./lib/backend/select.ts";
 * const info = await initBackend();
 * console.log(describeBackend(info)); // e.g. "TF.js backend: wasm (1 thread, SIMD) ..."
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
// tfjs-core's node bundle registers no gradient functions; tfjs-layers' bundle registers them all.
import "@tensorflow/tfjs-layers";
import { getThreadsCount } from "@tensorflow/tfjs-backend-wasm";
import { setWasmKernels, type WasmKernelMode } from "./wasm/mod.ts";
import {
  kernelThreads,
  simdKernels,
  simdKernelsEnabled,
  simdKernelsSupported,
  startKernelThreads,
} from "./wasm/simd/mod.ts";
import {
  disableWasmThreads,
  enableWasmThreads,
  wasmThreadedActive,
  wasmThreadsSetting,
} from "./wasm/threaded.ts";
import type { WasmBackendLike } from "./wasm/_heap.ts";
import {
  type AdapterSummary,
  describeAdapter,
  gpuDeviceNodes,
  initWebGpu,
  noGpuDeviceReason,
} from "./webgpu.ts";
import { initNodeBackend, nodeSkipReason } from "./node.ts";

/** Backends in the order they are tried. */
export const BACKEND_ORDER = ["tfjs-node-gpu", "webgpu", "tfjs-node", "wasm", "cpu"] as const;
/** A backend this project can select. */
export type BackendChoice = (typeof BACKEND_ORDER)[number];

/** What {@link initBackend} got. */
export interface BackendInfo {
  /** The choice that is active ("tfjs-node-gpu", "webgpu", "tfjs-node", "wasm" or "cpu"). */
  name: BackendChoice;
  /** The name TF.js knows it by (`tf.getBackend()`: "tensorflow", "webgpu", "wasm" or "cpu"). */
  tfName: string;
  /**
   * Threads the backend computes with (wasm: the threads our kernels and XNNPACK split each call
   * over, from `XRAY_WASM_THREADS` or the cores; cpu and webgpu: 1, the thread that runs or
   * drives it; tfjs-node: the CPU count).
   */
  threads: number;
  /**
   * On wasm: where the thread count came from ("XRAY_WASM_THREADS", "default", or "option" for
   * `InitBackendOptions.threads`), and why fewer threads run than asked, if so; else null.
   */
  threadsFrom: { from: string; note: string | null } | null;
  /** On webgpu: the adapter (vendor, description, whether it is a software renderer); else null. */
  adapter: AdapterSummary | null;
  /** Backends tried before this one (or not tried because one was forced), with why. */
  skipped: { name: string; reason: string }[];
  /** How the choice was made: "auto", "prefer" (the flag) or "env" (`XRAY_BACKEND`). */
  forcedBy: "auto" | "prefer" | "env";
  /** On wasm: which gradient kernels are registered ("fast" or "reference"); else null. */
  wasmKernels: WasmKernelMode | null;
  /** On wasm: whether the SIMD build is in use; else null. */
  simd: boolean | null;
  /**
   * On wasm: whether our relaxed-SIMD (fused multiply-add) kernels of `wasm/simd/` run the
   * convolutions, pooling gradients and sums (fast kernels, an engine with relaxed SIMD, not
   * switched off by `XRAY_WASM_SIMD=off`); else null.
   */
  simdKernels: boolean | null;
}

/** Options of {@link initBackend}. */
export interface InitBackendOptions {
  /** Force this backend (overrides `XRAY_BACKEND`); fails if it cannot be loaded. */
  prefer?: BackendChoice;
  /** Wasm gradient kernels: "fast" (default) or "reference" (stock + plain missing kernels). */
  wasmKernels?: WasmKernelMode;
  /**
   * Wasm threads (overrides `XRAY_WASM_THREADS` and the default, 1); 1 = tfjs'
   * single-threaded build. Data-parallel worker replicas ask for 1.
   */
  threads?: number;
}

let cached: { key: string; info: BackendInfo } | null = null;

function isChoice(s: string): s is BackendChoice {
  return (BACKEND_ORDER as readonly string[]).includes(s);
}

/** Why the wasm backend runs fewer threads than asked (set by {@link initWasm}), or null. */
let wasmThreadNote: string | null = null;

/**
 * The wasm backend with `threads` threads: tfjs' threaded build (XNNPACK's pool) plus our kernel
 * pool (`wasm/simd/pool.ts`) on its shared memory; 1 thread: the single-threaded build. Where the
 * threaded build cannot start, runs on one thread and says why in {@link wasmThreadNote}.
 */
async function initWasm(mode: WasmKernelMode, threads: number): Promise<void> {
  await import("@tensorflow/tfjs-backend-wasm");
  wasmThreadNote = null;
  if (threads > 1) {
    // Where our SIMD kernels run, they do a step's heavy work on their own pool; XNNPACK then keeps
    // one thread: what it still runs (small matMuls and broadcasts) gains nothing from more, and
    // its pool's workers spin after each op, taking a core from ours (2 threads, cnn_reg, 3
    // alternating profiles at load 5.9: 215-219 CPU ms a step against 219-232 with 2 XNNPACK
    // threads, main thread 110-113 against 111-119).
    const ours = mode === "fast" && simdKernelsEnabled() && simdKernelsSupported();
    try {
      await enableWasmThreads(ours ? 1 : threads);
    } catch (err) {
      wasmThreadNote = `one thread: ${(err as Error).message.split("\n")[0]}`;
      await disableWasmThreads();
    }
  } else if (wasmThreadedActive()) {
    await disableWasmThreads();
  } else if (!(await tf.setBackend("wasm"))) {
    throw new Error("the wasm backend did not initialise");
  }
  setWasmKernels(mode);
  if (wasmThreadedActive()) {
    await startKernelThreads(tf.backend() as unknown as WasmBackendLike, threads);
  }
}

/** Initialises `choice`; returns the WebGPU adapter on webgpu, else null. */
async function tryOne(
  choice: BackendChoice,
  mode: WasmKernelMode,
  forced: boolean,
  threads: number,
): Promise<AdapterSummary | null> {
  if (choice === "tfjs-node-gpu" || choice === "tfjs-node") {
    await initNodeBackend(choice);
    return null;
  }
  if (choice === "webgpu") {
    // Not even an adapter request where only a software renderer can exist (see
    // noGpuDeviceReason: it would load lavapipe into this process for nothing).
    if (!forced && gpuDeviceNodes()?.length === 0) throw new Error(noGpuDeviceReason());
    return await initWebGpu({ allowSoftware: forced });
  }
  if (choice === "wasm") {
    await initWasm(mode, threads);
    return null;
  }
  if (!(await tf.setBackend("cpu"))) throw new Error("the cpu backend did not initialise");
  return null;
}

function reasonOf(choice: BackendChoice, err: unknown): string {
  if (choice === "tfjs-node-gpu" || choice === "tfjs-node") return nodeSkipReason(choice, err);
  const msg = (err instanceof Error ? err.message : String(err)).split("\n")[0];
  // webgpu's errors are already reasons (no adapter, a software adapter).
  return choice === "webgpu" ? msg : `failed to load: ${msg}`;
}

/**
 * Selects and initialises the TF.js backend. Tries {@link BACKEND_ORDER} in order,
 * unless `opts.prefer` or env `XRAY_BACKEND` forces one (a forced backend that fails to load is an
 * error). Idempotent: a second call with the same request returns the same info without
 * re-initialising.
 */
export async function initBackend(opts: InitBackendOptions = {}): Promise<BackendInfo> {
  const env = Deno.env.get("XRAY_BACKEND")?.trim();
  let forced: BackendChoice | null = null;
  let forcedBy: BackendInfo["forcedBy"] = "auto";
  if (opts.prefer !== undefined) {
    if (!isChoice(opts.prefer)) {
      throw new Error(
        `initBackend: unknown backend "${opts.prefer}"; expected one of ${
          BACKEND_ORDER.join(", ")
        }`,
      );
    }
    forced = opts.prefer;
    forcedBy = "prefer";
  } else if (env) {
    if (!isChoice(env)) {
      throw new Error(
        `XRAY_BACKEND="${env}" is not a backend; expected one of ${BACKEND_ORDER.join(", ")}`,
      );
    }
    forced = env;
    forcedBy = "env";
  }
  const envMode = Deno.env.get("XRAY_WASM_KERNELS")?.trim();
  if (envMode && envMode !== "fast" && envMode !== "reference") {
    throw new Error(`XRAY_WASM_KERNELS="${envMode}" is not valid; expected "fast" or "reference"`);
  }
  const mode: WasmKernelMode = opts.wasmKernels ?? (envMode as WasmKernelMode | undefined) ??
    "fast";
  const setting = opts.threads !== undefined
    ? { threads: opts.threads, from: "option" }
    : wasmThreadsSetting();
  if (!Number.isInteger(setting.threads) || setting.threads < 1) {
    throw new Error(`initBackend: threads must be a positive integer, got ${setting.threads}`);
  }
  const key = `${forcedBy}|${forced ?? "auto"}|${mode}|${setting.threads}`;
  if (cached && cached.key === key && tf.getBackend() === cached.info.tfName) {
    return cached.info;
  }

  const skipped: { name: string; reason: string }[] = [];
  const candidates = forced ? [forced] : [...BACKEND_ORDER];
  if (forced) {
    for (const other of BACKEND_ORDER) {
      if (other !== forced) {
        skipped.push({
          name: other,
          reason: `not tried: ${forcedBy === "env" ? "XRAY_BACKEND" : "prefer"}=${forced}`,
        });
      }
    }
  }
  for (const choice of candidates) {
    let adapter: AdapterSummary | null;
    try {
      adapter = await tryOne(choice, mode, forced !== null, setting.threads);
    } catch (err) {
      if (forced) {
        throw new Error(
          `Backend "${choice}" was forced (${forcedBy === "env" ? "XRAY_BACKEND" : "prefer"}) but ${
            reasonOf(choice, err)
          }`,
        );
      }
      skipped.push({ name: choice, reason: reasonOf(choice, err) });
      continue;
    }
    const tfName = tf.getBackend();
    const isWasm = choice === "wasm";
    const info: BackendInfo = {
      name: choice,
      tfName,
      threads: isWasm
        ? Math.max(getThreadsCount(), kernelThreads(tf.backend() as unknown as WasmBackendLike))
        : choice === "cpu" || choice === "webgpu"
        ? 1
        : navigator.hardwareConcurrency,
      threadsFrom: isWasm ? { from: setting.from, note: wasmThreadNote } : null,
      adapter,
      skipped,
      forcedBy,
      wasmKernels: isWasm ? mode : null,
      simd: isWasm ? tf.env().getBool("WASM_HAS_SIMD_SUPPORT") as boolean : null,
      simdKernels: isWasm
        ? mode === "fast" && simdKernels(tf.backend() as unknown as WasmBackendLike) !== null
        : null,
    };
    cached = { key, info };
    return info;
  }
  throw new Error(
    `No TF.js backend could be initialised: ${
      skipped.map((s) => `${s.name}: ${s.reason}`).join("; ")
    }`,
  );
}

/** One human line: the backend in use, its threads, and why the others were skipped. */
export function describeBackend(info: BackendInfo): string {
  const extra = info.name === "wasm"
    ? `, ${info.simd ? "SIMD" : "no SIMD"}, ${info.wasmKernels} gradient kernels${
      info.simdKernels ? ", relaxed-SIMD FMA convolutions" : ""
    }`
    : info.adapter
    ? `, adapter ${describeAdapter(info.adapter)}`
    : "";
  const how = info.forcedBy === "auto"
    ? ""
    : info.forcedBy === "env"
    ? " (forced by XRAY_BACKEND)"
    : " (forced)";
  const skipped = info.skipped.length
    ? `; skipped: ${info.skipped.map((s) => `${s.name} (${s.reason})`).join("; ")}`
    : "";
  const from = info.threadsFrom
    ? ` [${info.threadsFrom.from}${info.threadsFrom.note ? `; ${info.threadsFrom.note}` : ""}]`
    : "";
  return `TF.js backend: ${info.name}${how} (${info.threads} thread${
    info.threads === 1 ? "" : "s"
  }${from}${extra})${skipped}`;
}
