/**
 * Fast kernels for the wasm backend, registered by `mod.ts` in "fast" mode.
 * Measured on this 2-core machine, the stock wasm kernels they replace are slow or wrong:
 *
 * - `XrayReluGrad`: the ReLU gradient in one pass (see `relu_grad.ts`).
 * - `Multiply` of same-shape float32 tensors and `XrayDropoutMask` (the dropout mask made on the
 *   heap) on the kernel threads (see `elementwise.ts`).
 * - `Conv2D` and `FusedConv2D` (bias; linear, ReLU or ReLU6): a SIMD kernel with fused
 *   multiply-add (see `conv.ts`), faster than XNNPACK's.
 * - `Conv2DBackpropFilter` (missing in wasm) and `Conv2DBackpropInput` (a scalar loop): see
 *   `conv_grads.ts`.
 * - `MaxPool` 2x2 stride 2 (SIMD, on the kernel threads).
 * - `MaxPoolGrad`: recomputes each window's argmax from x (first maximum, as the cpu backend) and
 *   scatters dy there; the stock kernel drops gradients of negative maxima (see the tests). The
 *   2x2 stride-2 case with C % 4 == 0 runs as SIMD (`simd/kernels.c`).
 * - `Sum` and `Mean` over leading axes (bias gradients, batch-norm statistics): one pass, float64
 *   accumulators (stock wasm transposes the input first); SIMD (`simd/kernels.c`) where C % 4 == 0.
 * - `Tile`: block copies inside the heap (batch-norm gradients tile per-channel statistics).
 * - `Identity`, and `Cast` to the same dtype: share the input's data instead of copying it (as
 *   the cpu backend does).
 * - `BatchMatMul` with a transposed operand: transposes it (or, when that moves fewer floats, the
 *   other operand and the result) in TypeScript, then runs the fast untransposed product (a 41472x576 by 41472x32 product took 43 ms untransposed, 1180 ms with
 *   transposeA).
 * @module
 */
import {
  backend_util,
  BatchMatMul,
  Cast,
  Conv2D,
  Conv2DBackpropFilter,
  Conv2DBackpropInput,
  FusedConv2D,
  Identity,
  type KernelConfig,
  type KernelFunc,
  MaxPool,
  MaxPoolGrad,
  Mean,
  Multiply,
  Sum,
  type TensorInfo,
  Tile,
  util,
} from "@tensorflow/tfjs-core";
import { addr, alloc, f32, free, heapF32, type WasmBackendLike } from "./_heap.ts";
import { simdKernels } from "./simd/mod.ts";
import { type Args, callStock, transposeLast2 } from "./_ops.ts";
import { conv2dBackpropFilterFast, conv2dBackpropInputFast } from "./conv_grads.ts";
import { conv2dFast, fusedConv2dFast } from "./conv.ts";
import { RELU_GRAD, RELU_GRAD_BIAS, reluGradBiasWasm, reluGradWasm } from "./relu_grad.ts";
import { dropoutMaskWasm, multiplyFast } from "./elementwise.ts";
import { DROPOUT_MASK_KERNEL } from "../../util/dropout_mask.ts";
export { COL2IM_MAX_CHANNELS, setCol2imMaxChannels } from "./conv_grads.ts";

/**
 * `MaxPool` 2x2, stride 2, no padding (the models' pooling), C % 4 == 0: the SIMD kernel, split
 * over the kernel threads by output rows (XNNPACK's split badly: 4.0 of 5.5 ms on the main thread
 * at 2 threads for cnn_reg); anything else goes to the stock kernel.
 */
function maxPoolFast(args: Args): TensorInfo {
  const { inputs, backend, attrs } = args;
  const be = backend as WasmBackendLike;
  const { x } = inputs;
  const simd = x.dtype === "float32" && x.shape.length === 4 && x.shape[3] % 4 === 0
    ? simdKernels(be)
    : null;
  if (simd) {
    const info = backend_util.computePool2DInfo(
      x.shape as [number, number, number, number],
      attrs.filterSize,
      attrs.strides,
      1,
      attrs.pad,
      attrs.dimRoundingMode,
    );
    const { batchSize: B, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW } =
      info;
    if (
      info.filterHeight === 2 && info.filterWidth === 2 && info.strideHeight === 2 &&
      info.strideWidth === 2 && info.padInfo.top === 0 && info.padInfo.left === 0 &&
      H >= 2 * OH && W >= 2 * OW
    ) {
      const out = alloc(be, [B, OH, OW, C]);
      if (B * OH * OW * C > 0) simd.max_pool_2x2(addr(be, x), addr(be, out), B, H, W, C, OH, OW);
      return out;
    }
  }
  return callStock(MaxPool, inputs, backend, attrs);
}

function maxPoolGradFast({ inputs, backend, attrs }: Args): TensorInfo {
  const be = backend as WasmBackendLike;
  const { dy, input } = inputs;
  const info = backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    attrs.filterSize,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const { batchSize: B, inHeight: H, inWidth: W, inChannels: C, outHeight: OH, outWidth: OW } =
    info;
  const { filterHeight: FH, filterWidth: FW, strideHeight: sh, strideWidth: sw } = info;
  const top = info.padInfo.top, left = info.padInfo.left;
  const out = alloc(be, input.shape as number[]);
  const xv = f32(be, input), dyv = f32(be, dy), dx = f32(be, out);
  if (FH === 2 && FW === 2 && sh === 2 && sw === 2 && top === 0 && left === 0) {
    if (H !== 2 * OH || W !== 2 * OW) dx.fill(0); // odd sizes: the last row/column is not written
    const simd = C % 4 === 0 ? simdKernels(be) : null;
    if (simd) {
      simd.max_pool_2x2_grad(addr(be, input), addr(be, dy), addr(be, out), B, H, W, C, OH, OW);
      return out;
    }
    maxPool2x2Grad(xv, dyv, dx, B, H, W, C, OH, OW);
    return out;
  }
  dx.fill(0);
  const best = new Int32Array(C), bestVal = new Float32Array(C);
  for (let b = 0; b < B; b++) {
    for (let oy = 0; oy < OH; oy++) {
      const y0 = Math.max(0, oy * sh - top), y1 = Math.min(H, oy * sh - top + FH);
      for (let ox = 0; ox < OW; ox++) {
        const x0 = Math.max(0, ox * sw - left), x1 = Math.min(W, ox * sw - left + FW);
        bestVal.fill(-Infinity);
        best.fill(-1);
        // Scan order (row, then column) and strict '>' keep the first maximum, as the cpu backend.
        for (let iy = y0; iy < y1; iy++) {
          for (let ix = x0; ix < x1; ix++) {
            const p = ((b * H + iy) * W + ix) * C;
            for (let c = 0; c < C; c++) {
              const v = xv[p + c];
              if (v > bestVal[c] || best[c] < 0) {
                bestVal[c] = v;
                best[c] = p + c;
              }
            }
          }
        }
        const o = ((b * OH + oy) * OW + ox) * C;
        for (let c = 0; c < C; c++) if (best[c] >= 0) dx[best[c]] += dyv[o + c];
      }
    }
  }
  return out;
}

/** The common 2x2, stride 2, unpadded case: four candidates per window, each dx written once. */
function maxPool2x2Grad(
  xv: Float32Array,
  dyv: Float32Array,
  dx: Float32Array,
  B: number,
  H: number,
  W: number,
  C: number,
  OH: number,
  OW: number,
) {
  const rowStride = W * C;
  for (let b = 0; b < B; b++) {
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        const p00 = ((b * H + 2 * oy) * W + 2 * ox) * C, p01 = p00 + C;
        const p10 = p00 + rowStride, p11 = p10 + C;
        const o = ((b * OH + oy) * OW + ox) * C;
        for (let c = 0; c < C; c++) {
          // First maximum in scan order (strict '>'), as the cpu backend. The windows tile the
          // input, so every element of the window is written once: no zero-fill pass needed.
          const a = xv[p00 + c], b1 = xv[p01 + c], c1 = xv[p10 + c], d1 = xv[p11 + c];
          let w = 0, v = a;
          if (b1 > v) (v = b1), (w = 1);
          if (c1 > v) (v = c1), (w = 2);
          if (d1 > v) w = 3;
          const g = dyv[o + c];
          dx[p00 + c] = w === 0 ? g : 0;
          dx[p01 + c] = w === 1 ? g : 0;
          dx[p10 + c] = w === 2 ? g : 0;
          dx[p11 + c] = w === 3 ? g : 0;
        }
      }
    }
  }
}

/**
 * Tile by block copies inside the heap (`copyWithin`, doubling): the stock wasm Tile computes an
 * index per element and took 162 ms to tile [1,1,1,32] to [32,64,64,32] (batch-norm gradients
 * tile per-channel statistics like this).
 */
function tileFast({ inputs, backend, attrs }: Args): TensorInfo {
  const be = backend as WasmBackendLike;
  const { x } = inputs;
  const reps: number[] = attrs.reps;
  if (x.dtype !== "float32" || reps.length !== x.shape.length) {
    return callStock(Tile, inputs, be, attrs);
  }
  const r = x.shape.length;
  const outShape = x.shape.map((s, i) => s * reps[i]);
  const out = alloc(be, outShape);
  if (util.sizeFromShape(outShape) === 0) return out;
  const [heap, xo] = heapF32(be, x);
  const oo = heapF32(be, out)[1];
  const xStride = new Array<number>(r), oStride = new Array<number>(r);
  for (let d = r - 1, xs = 1, os = 1; d >= 0; d--) {
    xStride[d] = xs, oStride[d] = os;
    xs *= x.shape[d], os *= outShape[d];
  }
  // Writes the tiled block of x's sub-block at `src` (axes d..r-1) to `dst`.
  const fill = (d: number, src: number, dst: number) => {
    const s = x.shape[d];
    if (d === r - 1) heap.copyWithin(dst, src, src + s);
    else for (let i = 0; i < s; i++) fill(d + 1, src + i * xStride[d], dst + i * oStride[d]);
    const block = s * oStride[d], total = block * reps[d];
    for (let have = block; have < total;) {
      const n = Math.min(have, total - have);
      heap.copyWithin(dst + have, dst, dst + n);
      have += n;
    }
  };
  fill(0, xo, oo);
  return out;
}

/**
 * Sum over leading axes (e.g. a bias gradient: dy [B, H, W, C] summed to [C]); the stock wasm Sum
 * transposes the input first when the reduced axes are not the innermost. Float64 accumulators.
 */
function sumFast(args: Args): TensorInfo {
  return reduceLeading(args, Sum);
}

/** Mean over leading axes (batch-norm statistics, global average pooling over the batch). */
function meanFast(args: Args): TensorInfo {
  return reduceLeading(args, Mean);
}

function reduceLeading(
  { inputs, backend, attrs }: Args,
  kernel: typeof Sum | typeof Mean,
): TensorInfo {
  const be = backend as WasmBackendLike;
  const { x } = inputs;
  const rank = x.shape.length;
  const axes = util.parseAxisParam(attrs.axis, x.shape).sort((a, b) => a - b);
  const leading = axes.length > 0 && axes.length < rank && axes.every((a, i) => a === i);
  if (!leading || x.dtype !== "float32") return callStock(kernel, inputs, be, attrs);
  const kept = x.shape.slice(axes.length);
  const C = kept.reduce((a, b) => a * b, 1);
  const M = util.sizeFromShape(x.shape) / C;
  const outShape = attrs.keepDims ? [...axes.map(() => 1), ...kept] : kept;
  const out = alloc(be, outShape);
  const simd = C % 4 === 0 ? simdKernels(be) : null;
  if (simd) {
    const acc = alloc(be, [2 * C]); // C float64 values
    f32(be, acc).fill(0);
    simd.sum_rows(addr(be, x), addr(be, acc), M, C);
    if (kernel === Mean) {
      const a = new Float64Array(be.wasm.HEAPF32.buffer, addr(be, acc), C);
      for (let c = 0; c < C; c++) a[c] /= M;
    }
    simd.f64_to_f32(addr(be, acc), addr(be, out), C);
    free(be, acc);
    return out;
  }
  const xv = f32(be, x), ov = f32(be, out);
  const acc = new Float64Array(C);
  for (let i = 0, p = 0; i < M; i++) {
    for (let c = 0; c < C; c++) acc[c] += xv[p++];
  }
  if (kernel === Mean) { for (let c = 0; c < C; c++) acc[c] /= M; }
  ov.set(acc);
  return out;
}

/**
 * `Identity` without a copy: tensors are immutable (variables swap their data on `assign`), so,
 * like the cpu backend, the output shares the input's data (reference counted). The stock wasm
 * kernel copies it (3 copies of 45 MB per cnn_reg training step).
 */
function identityFast({ inputs, backend }: Args): TensorInfo {
  const be = backend as WasmBackendLike;
  const { x } = inputs;
  if (x.dtype === "string") return callStock(Identity, inputs, be, {});
  be.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

/** `Cast` to the same dtype (the ReLU gradient casts a float32 step to float32): no copy. */
function castFast({ inputs, backend, attrs }: Args): TensorInfo {
  const { x } = inputs;
  if (x.dtype !== attrs.dtype || x.dtype === "string") {
    return callStock(Cast, inputs, backend, attrs);
  }
  return identityFast({ inputs, backend, attrs });
}

/** Transposes the last two axes of a (batched) matrix on the heap, in TypeScript. */
function batchMatMulFast({ inputs, backend, attrs }: Args): TensorInfo {
  const be = backend as WasmBackendLike;
  let { a, b } = inputs;
  const { transposeA, transposeB } = attrs;
  if ((!transposeA && !transposeB) || a.dtype !== "float32" || b.dtype !== "float32") {
    return callStock(BatchMatMul, inputs, be, attrs);
  }
  if (a.shape.length === 2 && b.shape.length === 2 && transposeA !== transposeB) {
    // One operand transposed: either transpose it, or compute the transposed product from the
    // other one, outᵀ = (the other)ᵀ · (this one as stored), and transpose the (M x N) result;
    // take whichever moves fewer floats. E.g. a Dense kernel gradient xᵀ·dy with x [32, 67500]
    // and dy [32, 15]: 2.2 M floats the first way, 1.0 M the second.
    const [M, N] = [transposeA ? a.shape[1] : a.shape[0], transposeB ? b.shape[0] : b.shape[1]];
    const Kd = transposeA ? a.shape[0] : a.shape[1];
    const direct = Kd * (transposeA ? M : N), flipped = Kd * (transposeA ? N : M) + M * N;
    if (flipped < direct) {
      // transposeA: out = aᵀ·b, outᵀ = bᵀ·a. transposeB: out = a·bᵀ, outᵀ = b·aᵀ.
      const other = transposeLast2(be, transposeA ? b : a);
      const outT = transposeA
        ? callStock(BatchMatMul, { a: other, b: a }, be, { transposeA: false, transposeB: false })
        : callStock(BatchMatMul, { a: b, b: other }, be, { transposeA: false, transposeB: false });
      free(be, other);
      const out = transposeLast2(be, outT);
      free(be, outT);
      return out;
    }
  }
  const temps: TensorInfo[] = [];
  if (transposeA) temps.push(a = transposeLast2(be, a));
  if (transposeB) temps.push(b = transposeLast2(be, b));
  const out = callStock(BatchMatMul, { a, b }, be, { transposeA: false, transposeB: false });
  for (const t of temps) free(be, t);
  return out;
}

function config(kernelName: string, fn: (a: Args) => TensorInfo): KernelConfig {
  return { kernelName, backendName: "wasm", kernelFunc: fn as unknown as KernelFunc };
}

/** The fast kernels (built on demand, after the stock kernels they call are registered). */
export function fastKernels(): KernelConfig[] {
  return [
    config(Conv2D, conv2dFast),
    config(FusedConv2D, fusedConv2dFast),
    config(Conv2DBackpropFilter, conv2dBackpropFilterFast),
    config(Conv2DBackpropInput, conv2dBackpropInputFast),
    config(MaxPool, maxPoolFast),
    config(MaxPoolGrad, maxPoolGradFast),
    config(BatchMatMul, batchMatMulFast),
    config(Sum, sumFast),
    config(Mean, meanFast),
    config(Tile, tileFast),
    config(Identity, identityFast),
    config(Cast, castFast),
    config(RELU_GRAD, reluGradWasm),
    config(RELU_GRAD_BIAS, reluGradBiasWasm as unknown as (a: Args) => TensorInfo),
    config(Multiply, multiplyFast),
    config(DROPOUT_MASK_KERNEL, dropoutMaskWasm),
  ];
}
