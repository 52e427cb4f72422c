/**
 * Small helpers for kernels written in TypeScript that read and write tensors of the wasm backend
 * directly on its heap (no copies). Shared by the reference and the fast kernels.
 *
 * Heap views are invalidated when the wasm memory grows (every allocation may grow it), so take
 * views with {@link f32} only after the last allocation of a kernel call.
 * @module
 */
import type { TensorInfo } from "@tensorflow/tfjs-core";

/** The parts of tfjs-backend-wasm's `BackendWasm` that our kernels use (it exports no such type). */
export interface WasmBackendLike {
  makeOutput(
    shape: number[],
    dtype: "float32" | "int32" | "bool",
    memoryOffset?: number,
  ): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array | Int32Array | Uint8Array;
  disposeData(dataId: object, force?: boolean): boolean;
  incRef(dataId: object): void;
  dataIdMap: {
    get(dataId: object): { memoryOffset: number; id: number } | undefined;
    delete(dataId: object): boolean;
  };
  wasm: { HEAPF32: Float32Array; tfjs: { disposeData(id: number): void } };
}

/**
 * A tensor that aliases `shape`'s worth of floats inside `base`'s data, starting `offset` floats
 * in (no copy), so that a stock kernel can work on a slice. Release it with {@link releaseView},
 * never with {@link free} (the memory belongs to `base`).
 */
export function viewAt(
  backend: WasmBackendLike,
  base: TensorInfo,
  offset: number,
  shape: number[],
): TensorInfo {
  const d = backend.dataIdMap.get(base.dataId);
  if (!d) throw new Error(`wasm kernel: tensor [${base.shape}] is not on the wasm backend`);
  return backend.makeOutput(shape, "float32", d.memoryOffset + offset * 4);
}

/** Forgets a tensor made by {@link viewAt} without freeing its memory. */
export function releaseView(backend: WasmBackendLike, info: TensorInfo): void {
  const d = backend.dataIdMap.get(info.dataId);
  if (!d) return;
  backend.dataIdMap.delete(info.dataId);
  backend.wasm.tfjs.disposeData(d.id); // drops the C++ registration (and cached XNNPACK operators)
}

/**
 * The whole wasm heap as float32, and the float index where `info`'s data starts; for bulk copies
 * inside the heap (`copyWithin`). Same invalidation rule as {@link f32}.
 */
export function heapF32(backend: WasmBackendLike, info: TensorInfo): [Float32Array, number] {
  const d = backend.dataIdMap.get(info.dataId);
  if (!d) throw new Error(`wasm kernel: tensor [${info.shape}] is not on the wasm backend`);
  return [backend.wasm.HEAPF32, d.memoryOffset >> 2];
}

/** A float32 view of a tensor's data on the wasm heap (no copy). Throws for other dtypes. */
export function f32(backend: WasmBackendLike, info: TensorInfo): Float32Array {
  if (info.dtype !== "float32") {
    throw new Error(`wasm kernel: expected a float32 tensor, got ${info.dtype} [${info.shape}]`);
  }
  return backend.typedArrayFromHeap(info) as Float32Array;
}

/** Allocates an uninitialised float32 tensor on the wasm heap. */
export function alloc(backend: WasmBackendLike, shape: number[]): TensorInfo {
  return backend.makeOutput(shape, "float32");
}

/** Frees a temporary tensor made by {@link alloc} or by a kernel called from inside a kernel. */
export function free(backend: WasmBackendLike, info: TensorInfo): void {
  backend.disposeData(info.dataId, true);
}

/** Throws unless the data format is NHWC, the only layout these kernels implement. */
export function assertNHWC(kernel: string, dataFormat: string | undefined): void {
  if (dataFormat !== undefined && dataFormat !== "NHWC") {
    throw new Error(
      `${kernel} (wasm, registered by lib/backend): only NHWC is supported, got ${dataFormat}`,
    );
  }
}

/** The byte address of `info`'s data in the wasm memory (for the SIMD kernels of `simd/`). */
export function addr(backend: WasmBackendLike, info: TensorInfo): number {
  const d = backend.dataIdMap.get(info.dataId);
  if (!d) throw new Error(`wasm kernel: tensor [${info.shape}] is not on the wasm backend`);
  return d.memoryOffset;
}
