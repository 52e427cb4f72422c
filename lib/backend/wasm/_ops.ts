/**
 * Helpers for kernels that build on the stock wasm kernels: calling a stock kernel function,
 * re-viewing a tensor with another shape, transposing a matrix on the heap.
 * @module
 */
import type { KernelFunc, TensorInfo } from "@tensorflow/tfjs-core";
import { alloc, f32, type WasmBackendLike } from "./_heap.ts";
import { stockWasmKernel } from "./_stock.ts";

/** Arguments of a kernel function. */
export type Args = {
  inputs: Record<string, TensorInfo>;
  backend: unknown;
  attrs: Record<string, any>;
};

function stockFunc(name: string): KernelFunc {
  const k = stockWasmKernel(name);
  if (!k) throw new Error(`wasm backend has no stock ${name} kernel to build on`);
  return k.kernelFunc;
}

/** Runs the stock wasm kernel `name` (as shipped, even if we replaced it in the registry). */
export function callStock(
  name: string,
  inputs: Record<string, TensorInfo>,
  backend: unknown,
  attrs: object,
) {
  return stockFunc(name)({
    inputs,
    backend: backend as never,
    attrs: attrs as never,
  }) as TensorInfo;
}

/** Same data, another shape (the wasm kernels only read `shape` and `dataId`). */
export function view(info: TensorInfo, shape: number[]): TensorInfo {
  return { dataId: info.dataId, shape, dtype: info.dtype };
}

/** A new tensor holding `t` with its last two axes swapped (each matrix of a batch transposed). */
export function transposeLast2(be: WasmBackendLike, t: TensorInfo): TensorInfo {
  const r = t.shape.length, rows = t.shape[r - 2], cols = t.shape[r - 1];
  const batch = t.shape.slice(0, -2).reduce((a, b) => a * b, 1);
  const out = alloc(be, [...t.shape.slice(0, -2), cols, rows]);
  const src = f32(be, t), dst = f32(be, out);
  for (let b = 0; b < batch; b++) {
    const o = b * rows * cols;
    transposeInto(src, o, rows, cols, dst, o);
  }
  return out;
}

/**
 * dst[off + j*rows + i] = src[srcOff + i*cols + j] for a rows x cols block, in 32x32 tiles (tiles
 * keep both reads and writes cache-friendly).
 */
export function transposeInto(
  src: Float32Array,
  srcOff: number,
  rows: number,
  cols: number,
  dst: Float32Array,
  off: number,
): void {
  const T = 32;
  for (let i0 = 0; i0 < rows; i0 += T) {
    const i1 = Math.min(rows, i0 + T);
    for (let j0 = 0; j0 < cols; j0 += T) {
      const j1 = Math.min(cols, j0 + T);
      for (let i = i0; i < i1; i++) {
        for (let j = j0; j < j1; j++) dst[off + j * rows + i] = src[srcOff + i * cols + j];
      }
    }
  }
}
