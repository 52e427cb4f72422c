/**
 * The SIMD kernels of `kernels.c` (compiled into `kernels_wasm.ts`), instantiated on the wasm
 * backend's own memory so that they read and write tfjs tensors in place.
 *
 * {@link simdKernels} returns null, and the callers keep their TypeScript paths, where the engine
 * lacks wasm SIMD or relaxed SIMD, where the memory is shared (tfjs' threaded build: the module
 * imports an unshared memory), or while switched off by {@link setSimdKernelsEnabled} or
 * `XRAY_WASM_SIMD=off` (the benchmark's before/after).
 * @module
 */
import { KERNELS_WASM_BASE64 } from "./kernels_wasm.ts";
import type { WasmBackendLike } from "../_heap.ts";
import type { ConvDims } from "../_conv_geometry.ts";

/**
 * The geometry every convolution kernel takes after its three pointers, in kernels.c's order
 * (see {@link convGeometryArgs}).
 */
export type ConvGeometryArgs = [
  B: number,
  H: number,
  W: number,
  CI: number,
  OH: number,
  OW: number,
  CO: number,
  KH: number,
  KW: number,
  sh: number,
  sw: number,
  top: number,
  left: number,
];

/** The exported functions (pointers are byte offsets in tfjs' memory). */
export interface SimdKernels {
  conv_filter_grad(x: number, dy: number, acc: number, ...g: [...ConvGeometryArgs, number]): void;
  conv2d(
    x: number,
    w: number,
    y: number,
    ...g: [...ConvGeometryArgs, bias: number, act: number]
  ): void;
  max_pool_2x2_grad(
    x: number,
    dy: number,
    dx: number,
    B: number,
    H: number,
    W: number,
    C: number,
    OH: number,
    OW: number,
  ): void;
  sum_rows(x: number, acc: number, M: number, C: number): void;
  relu_grad(dy: number, x: number, dx: number, n: number): void;
  f64_to_f32(acc: number, out: number, n: number): void;
}

/** A convolution's sizes as {@link ConvGeometryArgs}. */
export function convGeometryArgs(d: ConvDims): ConvGeometryArgs {
  return [d.B, d.H, d.W, d.CI, d.OH, d.OW, d.CO, d.KH, d.KW, d.sh, d.sw, d.top, d.left];
}

let moduleCache: WebAssembly.Module | null | undefined;
const instances = new WeakMap<WebAssembly.Memory, SimdKernels | null>();
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

function compiled(): WebAssembly.Module | null {
  if (moduleCache === undefined) {
    try {
      const bin = atob(KERNELS_WASM_BASE64);
      const bytes = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
      moduleCache = new WebAssembly.Module(bytes); // throws without SIMD / relaxed SIMD
    } catch {
      moduleCache = null;
    }
  }
  return moduleCache;
}

/** The kernels bound to `memory`, or null where they cannot run there. */
export function simdKernelsFor(memory: WebAssembly.Memory): SimdKernels | null {
  if (instances.has(memory)) return instances.get(memory)!;
  const mod = compiled();
  let k: SimdKernels | null = null;
  if (mod) {
    try {
      k = new WebAssembly.Instance(mod, { env: { memory } }).exports as unknown as SimdKernels;
    } catch {
      k = null; // e.g. a shared memory (threaded build)
    }
  }
  instances.set(memory, k);
  return k;
}

/** The kernels for this backend's memory, or null (switched off, or unavailable there). */
export function simdKernels(backend: WasmBackendLike): SimdKernels | null {
  if (!enabled) return null;
  const memory = (backend.wasm as { asm?: { memory?: unknown } }).asm?.memory;
  return memory instanceof WebAssembly.Memory ? simdKernelsFor(memory) : null;
}

/** Whether this engine can compile the kernels at all (wasm SIMD and relaxed SIMD). */
export function simdKernelsSupported(): boolean {
  return compiled() !== null;
}
