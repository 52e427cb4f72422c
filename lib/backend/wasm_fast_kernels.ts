/**
 * Fast backward kernels for the wasm backend (issue 3), built from the primitives that the wasm
 * backend runs fast (XNNPACK's Conv2D and its untransposed BatchMatMul), plus TypeScript loops on
 * the wasm heap for the data movement. Written by hand because tfjs-backend-wasm 4.22 ships no
 * `Conv2DBackpropFilter` and slow scalar loops for `Conv2DBackpropInput` and `MaxPoolGrad`, and
 * runs `BatchMatMul` with a transposed operand far slower than without (measured: a
 * 41472x576 by 41472x32 product takes 43 ms as [576x41472]·[41472x32], 1180 ms with transposeA).
 *
 * - `Conv2DBackpropFilter`: dW = colᵀ·dy, with colᵀ [KH·KW·CI, B·OH·OW] built directly in that
 *   (already transposed) layout, so the product needs no transposed operand.
 * - `Conv2DBackpropInput`: dx = conv2d(dy dilated by the stride and padded, filter flipped
 *   spatially with in/out channels swapped), run by the stock (XNNPACK) Conv2D.
 * - `MaxPoolGrad`: recomputes each window's argmax from x (first maximum, as the cpu backend) and
 *   scatters dy there.
 * - `Sum` and `Mean` over leading axes (bias gradients, batch-norm statistics): one pass with
 *   float64 accumulators (stock wasm transposes the input first).
 * - `Tile`: block copies inside the heap (batch-norm gradients tile per-channel statistics).
 * - `BatchMatMul`: transposes a transposed operand in TypeScript first, then runs the fast
 *   untransposed product.
 * @module
 */
import {
  backend_util,
  BatchMatMul,
  Conv2D,
  Conv2DBackpropFilter,
  Conv2DBackpropInput,
  type KernelConfig,
  type KernelFunc,
  MaxPoolGrad,
  Mean,
  Sum,
  type TensorInfo,
  Tile,
  util,
} from "@tensorflow/tfjs-core";
import { alloc, assertNHWC, f32, free, heapF32, type WasmBackendLike } from "./wasm_heap.ts";
import { stockWasmKernel } from "./wasm_kernels.ts";

/** Input gradients of convolutions with at most this many input channels use col2im. */
export let COL2IM_MAX_CHANNELS = 4;
/** For experiments (lib/bench): changes {@link COL2IM_MAX_CHANNELS}. */
export function setCol2imMaxChannels(n: number): void {
  COL2IM_MAX_CHANNELS = n;
}

type Args = { inputs: Record<string, TensorInfo>; backend: unknown; attrs: Record<string, any> };

function stockFunc(name: string): KernelFunc {
  const k = stockWasmKernel(name);
  if (!k) throw new Error(`wasm backend has no stock ${name} kernel to build on`);
  return k.kernelFunc;
}

function callStock(
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
function view(info: TensorInfo, shape: number[]): TensorInfo {
  return { dataId: info.dataId, shape, dtype: info.dtype };
}

function conv2dBackpropFilterFast({ inputs, backend, attrs }: Args): TensorInfo {
  const be = backend as WasmBackendLike;
  const { x, dy } = inputs;
  assertNHWC("Conv2DBackpropFilter", attrs.dataFormat);
  const info = backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    attrs.filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    "channelsLast",
  );
  const [KH, KW, CI, CO] = info.filterShape;
  const { batchSize: B, inHeight: H, inWidth: W, outHeight: OH, outWidth: OW } = info;
  const { strideHeight: sh, strideWidth: sw } = info;
  const top = info.padInfo.top, left = info.padInfo.left;
  const K = KH * KW * CI, N = B * OH * OW;
  if (K < CO) return filterGradByCol(be, x, dy, info);
  const xT = alloc(be, [B, CI, H, W]);
  const colT = alloc(be, [K, N]);
  // 1. x (NHWC) -> xT (NCHW), so that every row of colT is made of contiguous runs of xT.
  const xv = f32(be, x), xtv = f32(be, xT);
  const HW = H * W;
  for (let b = 0; b < B; b++) {
    const src0 = b * HW * CI, dst0 = b * CI * HW;
    for (let p = 0; p < HW; p++) {
      const s = src0 + p * CI;
      for (let ci = 0; ci < CI; ci++) xtv[dst0 + ci * HW + p] = xv[s + ci];
    }
  }
  // 2. colT[(kh, kw, ci), (b, oy, ox)] = xT[b, ci, oy*sh + kh - top, ox*sw + kw - left] (0 outside).
  const [heap, xo] = heapF32(be, xT);
  const co = heapF32(be, colT)[1];
  for (let kh = 0; kh < KH; kh++) {
    for (let kw = 0; kw < KW; kw++) {
      // Output columns whose input column is inside the image (stride 1 case).
      const lo = Math.max(0, left - kw), hi = Math.min(OW, W - kw + left);
      for (let ci = 0; ci < CI; ci++) {
        const rowOff = co + ((kh * KW + kw) * CI + ci) * N;
        for (let b = 0; b < B; b++) {
          const plane = xo + (b * CI + ci) * HW;
          for (let oy = 0; oy < OH; oy++) {
            const iy = oy * sh + kh - top;
            const dst = rowOff + (b * OH + oy) * OW;
            if (iy < 0 || iy >= H) {
              heap.fill(0, dst, dst + OW);
              continue;
            }
            const src = plane + iy * W + kw - left; // + ox*sw
            if (sw === 1) {
              if (lo > 0) heap.fill(0, dst, dst + lo);
              if (hi > lo) heap.copyWithin(dst + lo, src + lo, src + hi);
              if (hi < OW) heap.fill(0, dst + Math.max(lo, hi), dst + OW);
            } else {
              for (let ox = 0; ox < OW; ox++) {
                const ix = ox * sw + kw - left;
                heap[dst + ox] = ix >= 0 && ix < W ? heap[src + ox * sw] : 0;
              }
            }
          }
        }
      }
    }
  }
  free(be, xT);
  // 3. dW [K, CO] = colT [K, N] · dy [N, CO]: no transposed operand.
  const prod = callStock(BatchMatMul, { a: colT, b: view(dy, [N, CO]) }, be, {
    transposeA: false,
    transposeB: false,
  });
  free(be, colT);
  return view(prod, info.filterShape as number[]);
}

/**
 * Filter gradient when K = KH·KW·CI is smaller than CO (e.g. a first layer on RGB input): XNNPACK
 * packs the right operand of a product anew for every new tensor (measured ~10 ns per element),
 * so the smaller of the two long operands must be on the right: dWᵀ [CO, K] = dyᵀ [CO, N] · col
 * [N, K]. Measured for 27x175232x64: 38 ms this way, 156 ms as colT · dy. (Doing it in chunks of
 * 4096 rows of N, to stay in cache, measured slower: 101 vs 66 CPU ms.)
 */
function filterGradByCol(
  be: WasmBackendLike,
  x: TensorInfo,
  dy: TensorInfo,
  info: backend_util.Conv2DInfo,
): TensorInfo {
  const [KH, KW, CI, CO] = info.filterShape;
  const { batchSize: B, outHeight: OH, outWidth: OW } = info;
  const K = KH * KW * CI, N = B * OH * OW;
  const col = alloc(be, [N, K]);
  const xv = f32(be, x), cv = f32(be, col);
  im2colRows(xv, cv, info, 0, N);
  const dyT = transposeLast2(be, view(dy, [N, CO]));
  const prodT = callStock(BatchMatMul, { a: dyT, b: col }, be, {
    transposeA: false,
    transposeB: false,
  });
  free(be, dyT);
  free(be, col);
  // prodT is dWᵀ [CO, K]; the filter is [K, CO].
  const prod = transposeLast2(be, view(prodT, [CO, K]));
  free(be, prodT);
  return view(prod, info.filterShape as number[]);
}

/**
 * Rows n0..n1 of the im2col matrix: col[(b, oy, ox), (kh, kw, ci)] = x[b, oy*sh + kh - top,
 * ox*sw + kw - left, ci], 0 outside the image. Inside the image the KW·CI values of one (kh) are
 * contiguous in x.
 */
function im2colRows(
  xv: Float32Array,
  cv: Float32Array,
  info: backend_util.Conv2DInfo,
  n0: number,
  n1: number,
) {
  const [KH, KW, CI] = info.filterShape;
  const { inHeight: H, inWidth: W, outHeight: OH, outWidth: OW } = info;
  const { strideHeight: sh, strideWidth: sw } = info;
  const top = info.padInfo.top, left = info.padInfo.left;
  const span = KW * CI;
  let d = 0;
  for (let n = n0; n < n1; n++) {
    const ox = n % OW, t = (n - ox) / OW, oy = t % OH, b = (t - oy) / OH;
    const ix0 = ox * sw - left;
    const inside = ix0 >= 0 && ix0 + KW <= W;
    for (let kh = 0; kh < KH; kh++) {
      const iy = oy * sh + kh - top;
      if (iy < 0 || iy >= H) {
        for (let j = 0; j < span; j++) cv[d++] = 0;
      } else if (inside) {
        let s = ((b * H + iy) * W + ix0) * CI;
        for (let j = 0; j < span; j++) cv[d++] = xv[s++];
      } else {
        for (let kw = 0; kw < KW; kw++) {
          const ix = ix0 + kw;
          if (ix < 0 || ix >= W) {
            for (let ci = 0; ci < CI; ci++) cv[d++] = 0;
          } else {
            let s = ((b * H + iy) * W + ix) * CI;
            for (let ci = 0; ci < CI; ci++) cv[d++] = xv[s++];
          }
        }
      }
    }
  }
}

/**
 * Input gradient as dcol [N, K] = dy [N, CO] · Wᵀ [CO, K] followed by a col2im scatter-add in
 * TypeScript. Used when the input has few channels, where XNNPACK's convolution with a handful of
 * output channels is slow (measured: 32x64x64x16 -> 32x128x128x1, stride 2: see the commit log).
 */
function inputGradByCol2im(
  be: WasmBackendLike,
  dy: TensorInfo,
  filter: TensorInfo,
  info: backend_util.Conv2DInfo,
): TensorInfo {
  const [KH, KW, CI, CO] = info.filterShape;
  const { batchSize: B, inHeight: H, inWidth: W, outHeight: OH, outWidth: OW } = info;
  const { strideHeight: sh, strideWidth: sw } = info;
  const top = info.padInfo.top, left = info.padInfo.left;
  const K = KH * KW * CI, N = B * OH * OW;
  const wT = transposeLast2(be, view(filter, [K, CO]));
  const dcol = callStock(BatchMatMul, { a: view(dy, [N, CO]), b: wT }, be, {
    transposeA: false,
    transposeB: false,
  });
  free(be, wT);
  const out = alloc(be, info.inShape as number[]);
  const cv = f32(be, dcol), dx = f32(be, out);
  dx.fill(0);
  let p = 0;
  for (let b = 0; b < B; b++) {
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        for (let kh = 0; kh < KH; kh++) {
          const iy = oy * sh + kh - top;
          if (iy < 0 || iy >= H) {
            p += KW * CI;
            continue;
          }
          for (let kw = 0; kw < KW; kw++) {
            const ix = ox * sw + kw - left;
            if (ix < 0 || ix >= W) {
              p += CI;
              continue;
            }
            let d = ((b * H + iy) * W + ix) * CI;
            for (let ci = 0; ci < CI; ci++) dx[d++] += cv[p++];
          }
        }
      }
    }
  }
  free(be, dcol);
  return out;
}

function conv2dBackpropInputFast(args: Args): TensorInfo {
  const { inputs, backend, attrs } = args;
  const be = backend as WasmBackendLike;
  const { dy, filter } = inputs;
  assertNHWC("Conv2DBackpropInput", attrs.dataFormat);
  const info = backend_util.computeConv2DInfo(
    attrs.inputShape,
    filter.shape as [number, number, number, number],
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    "channelsLast",
  );
  const [KH, KW, CI, CO] = info.filterShape;
  const { batchSize: B, inHeight: H, inWidth: W, outHeight: OH, outWidth: OW } = info;
  const { strideHeight: sh, strideWidth: sw } = info;
  // Correlating the stride-dilated dy (Hd x Wd) with the flipped filter gives dx when dy is padded
  // by KH-1-top above and enough below to make H + KH - 1 rows (same for columns).
  if (CI <= COL2IM_MAX_CHANNELS) return inputGradByCol2im(be, dy, filter, info);
  const Hd = (OH - 1) * sh + 1, Wd = (OW - 1) * sw + 1;
  const pt = KH - 1 - info.padInfo.top, pl = KW - 1 - info.padInfo.left;
  const pb = H + KH - 1 - pt - Hd, pr = W + KW - 1 - pl - Wd;
  if (pt < 0 || pl < 0 || pb < 0 || pr < 0) {
    return callStock(Conv2DBackpropInput, inputs, be, attrs); // unusual padding: stock kernel
  }
  const wT = alloc(be, [KH, KW, CO, CI]);
  let dyd: TensorInfo | null = null;
  if (sh > 1 || sw > 1) dyd = alloc(be, [B, Hd, Wd, CO]);
  const wv = f32(be, filter), wtv = f32(be, wT);
  // wT[kh, kw, co, ci] = w[KH-1-kh, KW-1-kw, ci, co]
  for (let kh = 0; kh < KH; kh++) {
    for (let kw = 0; kw < KW; kw++) {
      const src = ((KH - 1 - kh) * KW + (KW - 1 - kw)) * CI * CO, dst = (kh * KW + kw) * CO * CI;
      for (let ci = 0; ci < CI; ci++) {
        for (let co = 0; co < CO; co++) wtv[dst + co * CI + ci] = wv[src + ci * CO + co];
      }
    }
  }
  if (dyd) {
    const dv = f32(be, dy), ddv = f32(be, dyd);
    ddv.fill(0);
    for (let b = 0; b < B; b++) {
      for (let oy = 0; oy < OH; oy++) {
        for (let ox = 0; ox < OW; ox++) {
          const s = ((b * OH + oy) * OW + ox) * CO, d = ((b * Hd + oy * sh) * Wd + ox * sw) * CO;
          ddv.set(dv.subarray(s, s + CO), d);
        }
      }
    }
  }
  const out = callStock(Conv2D, { x: dyd ?? dy, filter: wT }, be, {
    strides: [1, 1],
    pad: [[0, 0], [pt, pb], [pl, pr], [0, 0]],
    dataFormat: "NHWC",
    dilations: [1, 1],
  });
  free(be, wT);
  if (dyd) free(be, dyd);
  return out;
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
  const xv = f32(be, x), ov = f32(be, out);
  const acc = new Float64Array(C);
  for (let i = 0, p = 0; i < M; i++) {
    for (let c = 0; c < C; c++) acc[c] += xv[p++];
  }
  if (kernel === Mean) { for (let c = 0; c < C; c++) acc[c] /= M; }
  ov.set(acc);
  return out;
}

/** Transposes the last two axes of a (batched) matrix on the heap, in TypeScript. */
function transposeLast2(be: WasmBackendLike, t: TensorInfo): TensorInfo {
  const r = t.shape.length, rows = t.shape[r - 2], cols = t.shape[r - 1];
  const batch = t.shape.slice(0, -2).reduce((a, b) => a * b, 1);
  const out = alloc(be, [...t.shape.slice(0, -2), cols, rows]);
  const src = f32(be, t), dst = f32(be, out);
  const T = 32; // tiles keep both reads and writes cache-friendly
  for (let b = 0; b < batch; b++) {
    const o = b * rows * cols;
    for (let i0 = 0; i0 < rows; i0 += T) {
      const i1 = Math.min(rows, i0 + T);
      for (let j0 = 0; j0 < cols; j0 += T) {
        const j1 = Math.min(cols, j0 + T);
        for (let i = i0; i < i1; i++) {
          for (let j = j0; j < j1; j++) dst[o + j * rows + i] = src[o + i * cols + j];
        }
      }
    }
  }
  return out;
}

function batchMatMulFast({ inputs, backend, attrs }: Args): TensorInfo {
  const be = backend as WasmBackendLike;
  let { a, b } = inputs;
  const { transposeA, transposeB } = attrs;
  if ((!transposeA && !transposeB) || a.dtype !== "float32" || b.dtype !== "float32") {
    return callStock(BatchMatMul, inputs, be, attrs);
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
    config(Conv2DBackpropFilter, conv2dBackpropFilterFast),
    config(Conv2DBackpropInput, conv2dBackpropInputFast),
    config(MaxPoolGrad, maxPoolGradFast),
    config(BatchMatMul, batchMatMulFast),
    config(Sum, sumFast),
    config(Mean, meanFast),
    config(Tile, tileFast),
  ];
}
