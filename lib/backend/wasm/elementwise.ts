/**
 * Element-wise kernels for the wasm backend that run on the kernel threads (`simd/split.ts`):
 *
 * - `Multiply` of two float32 tensors of one shape (dropout's mask and its gradient: for
 *   cnn_reg's 8x74x74x64 activations XNNPACK's multiply ran on one thread, ~1.7 ms a call at 2
 *   threads): the SIMD `mul`, split by elements, the same IEEE products; anything else (broadcast,
 *   other dtypes, no SIMD kernels) goes to the stock kernel.
 * - `XrayDropoutMask` (lib/util/dropout_mask.ts): the dropout mask made in place on the heap,
 *   instead of a TypeScript loop on one thread (~8 ms a step for cnn_reg) and a copy to the heap;
 *   the same bits.
 * @module
 */
import { Multiply, type TensorInfo } from "@tensorflow/tfjs-core";
import { addr, alloc, f32, type WasmBackendLike } from "./_heap.ts";
import { type Args, callStock } from "./_ops.ts";
import { simdKernels } from "./simd/mod.ts";
import { dropoutMaskInto, dropoutMaskParams } from "../../util/dropout_mask.ts";

/** `Multiply`: same-shape float32 on the kernel threads, else stock. */
export function multiplyFast(args: Args): TensorInfo {
  const { a, b } = args.inputs;
  const be = args.backend as WasmBackendLike;
  const simd = simdKernels(be);
  if (
    simd && a.dtype === "float32" && b.dtype === "float32" &&
    a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i])
  ) {
    const out = alloc(be, a.shape as number[]);
    const n = a.shape.reduce((p, d) => p * d, 1);
    if (n > 0) simd.mul(addr(be, a), addr(be, b), addr(be, out), n);
    return out;
  }
  return callStock(Multiply, args.inputs, args.backend, args.attrs);
}

/** `XrayDropoutMask` (no inputs; attrs shape, rate, seed): the mask, SIMD where available. */
export function dropoutMaskWasm({ backend, attrs }: Args): TensorInfo {
  const be = backend as WasmBackendLike;
  const shape = attrs.shape as number[], rate = attrs.rate as number, seed = attrs.seed as number;
  const { cut, scale } = dropoutMaskParams(rate);
  const out = alloc(be, shape);
  const n = shape.reduce((p, d) => p * d, 1);
  if (n === 0) return out;
  const simd = simdKernels(be);
  if (simd) simd.dropout_mask(addr(be, out), n, seed, cut, scale);
  else dropoutMaskInto(f32(be, out), rate, seed);
  return out;
}
