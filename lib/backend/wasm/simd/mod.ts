/**
 * The SIMD kernels of `kernels.c` (compiled into `kernels_wasm.ts`), instantiated on the wasm
 * backend's own memory so that they read and write tfjs tensors in place.
 *
 * On tfjs' threaded build (a shared memory) the module built for a shared memory is used, and
 * {@link startKernelThreads} starts a pool (`pool.ts`) that splits every call over several
 * threads (`split.ts`).
 *
 * {@link simdKernels} returns null, and the callers keep their TypeScript paths, where the engine
 * lacks wasm SIMD or relaxed SIMD, or while switched off by {@link setSimdKernelsEnabled} or
 * `XRAY_WASM_SIMD=off` (the benchmark's before/after).
 * @module
 */
import { KERNELS_SHARED_WASM_BASE64, KERNELS_WASM_BASE64 } from "./kernels_wasm.ts";
import { KernelPool } from "./pool.ts";
import { type SimdKernels, splitKernels } from "./split.ts";
import type { WasmBackendLike } from "../_heap.ts";

export { convGeometryArgs } from "./split.ts";
export type { ConvGeometryArgs, SimdKernels } from "./split.ts";

const modules = new Map<boolean, WebAssembly.Module | null>();
const instances = new WeakMap<WebAssembly.Memory, SimdKernels | null>();
const pools = new WeakMap<WebAssembly.Memory, KernelPool>();
let enabled = (Deno.env.get("XRAY_WASM_SIMD") ?? "").trim().toLowerCase() !== "off";

/** Turns the SIMD kernels on or off (for benchmarks and tests); returns the previous setting. */
export function setSimdKernelsEnabled(on: boolean): boolean {
  const was = enabled;
  enabled = on;
  return was;
}

/** Whether the SIMD kernels are switched on (they may still be unavailable: see simdKernels). */
export function simdKernelsEnabled(): boolean {
  return enabled;
}

/** The compiled module for an unshared or a shared memory, or null without relaxed SIMD. */
function compiled(shared = false): WebAssembly.Module | null {
  if (!modules.has(shared)) {
    let mod: WebAssembly.Module | null;
    try {
      const bin = atob(shared ? KERNELS_SHARED_WASM_BASE64 : KERNELS_WASM_BASE64);
      const bytes = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
      mod = new WebAssembly.Module(bytes); // throws without SIMD / relaxed SIMD
    } catch {
      mod = null;
    }
    modules.set(shared, mod);
  }
  return modules.get(shared)!;
}

function isShared(memory: WebAssembly.Memory): boolean {
  return typeof SharedArrayBuffer !== "undefined" && memory.buffer instanceof SharedArrayBuffer;
}

/**
 * The kernels bound to `memory`, or null where they cannot run there. On a shared memory with a
 * pool started by {@link startKernelThreads} they split each call over the pool's threads.
 */
export function simdKernelsFor(memory: WebAssembly.Memory): SimdKernels | null {
  if (instances.has(memory)) return instances.get(memory)!;
  const mod = compiled(isShared(memory));
  let k: SimdKernels | null = null;
  if (mod) {
    try {
      const pool = pools.get(memory) ?? KernelPool.single(mod, memory);
      k = splitKernels(pool);
    } catch {
      k = null;
    }
  }
  instances.set(memory, k);
  return k;
}

/** tfjs' memory: exported by the single-threaded build, imported (shared) by the threaded one. */
export function wasmMemoryOf(backend: WasmBackendLike): WebAssembly.Memory | null {
  const w = backend.wasm as { asm?: { memory?: unknown }; wasmMemory?: unknown };
  const m = w.asm?.memory ?? w.wasmMemory;
  return m instanceof WebAssembly.Memory ? m : null;
}

/** The kernels for this backend's memory, or null (switched off, or unavailable there). */
export function simdKernels(backend: WasmBackendLike): SimdKernels | null {
  if (!enabled) return null;
  const memory = wasmMemoryOf(backend);
  return memory ? simdKernelsFor(memory) : null;
}

/** Whether this engine can compile the kernels at all (wasm SIMD and relaxed SIMD). */
export function simdKernelsSupported(): boolean {
  return compiled() !== null;
}

/**
 * Starts a pool of `threads` threads (this one included) for the kernels on the backend's memory,
 * which must be shared (tfjs' threaded build, `threaded.ts`); from then on every kernel call is
 * split over them. Resolves with the pool's thread count; 1 when the kernels are unavailable.
 * A pool already started on this memory is kept.
 */
export async function startKernelThreads(
  backend: WasmBackendLike,
  threads: number,
): Promise<number> {
  const memory = wasmMemoryOf(backend);
  if (!memory) throw new Error("startKernelThreads: the wasm backend exposes no memory");
  const have = pools.get(memory);
  if (have) return have.threads;
  const mod = compiled(isShared(memory));
  if (!mod) return 1;
  const pool = await KernelPool.start(mod, memory, threads);
  pools.set(memory, pool);
  instances.delete(memory);
  return pool.threads;
}

/** Stops the kernel threads on the backend's memory, if any (the kernels then run here only). */
export function stopKernelThreads(backend: WasmBackendLike): void {
  const memory = wasmMemoryOf(backend);
  const pool = memory && pools.get(memory);
  if (!memory || !pool) return;
  pool.close();
  pools.delete(memory);
  instances.delete(memory);
}

/** Threads the kernels use on this backend's memory (1 without a pool). */
export function kernelThreads(backend: WasmBackendLike): number {
  const memory = wasmMemoryOf(backend);
  return (memory && pools.get(memory)?.threads) || 1;
}
