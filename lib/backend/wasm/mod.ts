/**
 * Registers our gradient kernels on the wasm backend, in one of two modes:
 *
 * - `"fast"` (default): the missing kernels plus faster replacements of the slow stock backward
 *   kernels (see `fast.ts`); this is what training uses.
 * - `"reference"`: the stock wasm kernels, plus straightforward versions of the missing ones
 *   (`reference.ts`); the "stock kernels" baseline of the benchmark.
 *
 * Switching is cheap and can be done at any time between steps.
 * @module
 */
import {
  getKernel,
  type KernelConfig,
  registerKernel,
  unregisterKernel,
} from "@tensorflow/tfjs-core";
import { referenceKernels } from "./reference.ts";
import { fastKernels } from "./fast.ts";
import { stock } from "./_stock.ts";
import { registerReluGradient } from "./relu_grad.ts";
import { registerFusedConvGradient, unregisterFusedConvGradient } from "./conv_bias_relu.ts";
export { stockWasmKernel } from "./_stock.ts";

/** Which set of wasm gradient kernels is registered. */
export type WasmKernelMode = "fast" | "reference";

let current: WasmKernelMode | null = null;

function byName(list: KernelConfig[]): Map<string, KernelConfig> {
  return new Map(list.map((k) => [k.kernelName, k]));
}

/**
 * Registers the wasm gradient kernels of `mode` (replacing whatever is registered for those kernel
 * names). Returns the names of the kernels now provided by this project.
 */
export function setWasmKernels(mode: WasmKernelMode = "fast"): string[] {
  registerReluGradient(); // uses XrayReluGrad only while it is registered (fast mode)
  // Layers train a convolution, its bias and ReLU as one FusedConv2D where this is registered
  // (lib/models/conv.ts); the reference (stock) kernels train them unfused, as TF.js does.
  if (mode === "fast") registerFusedConvGradient();
  else unregisterFusedConvGradient();
  const fast = byName(fastKernels()), ref = byName(referenceKernels);
  const names = new Set([...fast.keys(), ...ref.keys()]);
  const ours: string[] = [];
  for (const name of names) {
    if (!stock.has(name)) stock.set(name, getKernel(name, "wasm"));
    const chosen = mode === "fast"
      ? (fast.get(name) ?? ref.get(name))
      : (stock.get(name) ?? ref.get(name));
    if (getKernel(name, "wasm") !== undefined) unregisterKernel(name, "wasm");
    if (chosen === undefined) continue;
    const base = stock.get(name);
    if (chosen === base) {
      registerKernel(chosen);
      continue;
    }
    // Keep the stock kernel's setup/dispose hooks: our kernels call the stock function, whose
    // wasm bindings are made by its setupFunc when a (new) wasm backend initialises.
    registerKernel({ ...chosen, setupFunc: base?.setupFunc, disposeFunc: base?.disposeFunc });
    ours.push(name);
  }
  current = mode;
  return ours.sort();
}

/** The mode last set by {@link setWasmKernels}, or null when it was never called. */
export function wasmKernelMode(): WasmKernelMode | null {
  return current;
}
