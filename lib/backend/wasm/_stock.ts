/**
 * The stock wasm kernels as shipped, remembered before `setWasmKernels` (mod.ts) replaces them, so
 * that our kernels can fall back to them. Its own module so that the kernels (`_ops.ts`) can read
 * it without importing mod.ts, which imports them.
 * @module
 */
import { getKernel, type KernelConfig } from "@tensorflow/tfjs-core";

/** Kernel name -> the stock wasm kernel (undefined when wasm had none). Filled by mod.ts. */
export const stock = new Map<string, KernelConfig | undefined>();

/**
 * The stock wasm kernel `name` as shipped (before we replaced it), for fast kernels that fall
 * back to it. Undefined when wasm has none.
 */
export function stockWasmKernel(name: string): KernelConfig | undefined {
  return stock.has(name) ? stock.get(name) : getKernel(name, "wasm");
}
