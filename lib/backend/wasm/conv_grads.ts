/**
 * Fast convolution gradients for the wasm backend, built from the primitives the wasm
 * backend runs fast: XNNPACK's Conv2D and its untransposed BatchMatMul. Data movement (im2col,
 * col2im, layout changes) is done in TypeScript on the wasm heap. Written by hand because
 * tfjs-backend-wasm 4.22 ships no `Conv2DBackpropFilter` and a slow scalar `Conv2DBackpropInput`.
 *
 * - Filter gradient: dW = colᵀ·dy, with colᵀ [KH·KW·CI, B·OH·OW] built directly in that layout
 *   from an NCHW copy of x (contiguous runs), so the product needs no transposed operand; when
 *   KH·KW·CI < CO the operands are swapped (see {@link filterGradByCol}).
 * - Input gradient: a convolution of dy (dilated by the stride, padded) with the filter flipped
 *   spatially and its in/out channels swapped, run by the stock (XNNPACK) Conv2D; for inputs with
 *   few channels a matmul + col2im instead.
 * @module
 */
import {
  backend_util,
  BatchMatMul,
  Conv2DBackpropInput,
  type TensorInfo,
} from "@tensorflow/tfjs-core";
import {
  addr,
  alloc,
  f32,
  free,
  heapF32,
  releaseView,
  viewAt,
  type WasmBackendLike,
} from "./_heap.ts";
import { convGeometryArgs, simdKernels } from "./simd/mod.ts";
import {
  winoFilterGradScratchFloats,
  winoFilterGradSlices,
  winoGeometryArgs,
} from "./simd/split.ts";
import { conv2dFast, usesWinograd } from "./conv.ts";
import { type Args, callStock, transposeInto, transposeLast2, view } from "./_ops.ts";
import { conv2dInfoNHWC, type ConvDims, convDims } from "./_conv_geometry.ts";

/** Input gradients of convolutions with at most this many input channels use col2im. */
export let COL2IM_MAX_CHANNELS = 4;
/** For experiments (bench/): changes {@link COL2IM_MAX_CHANNELS}. */
export function setCol2imMaxChannels(n: number): void {
  COL2IM_MAX_CHANNELS = n;
}

/** `Conv2DBackpropFilter` (inputs x, dy). */
export function conv2dBackpropFilterFast({ inputs, backend, attrs }: Args): TensorInfo {
  const be = backend as WasmBackendLike;
  const { x, dy } = inputs;
  const info = conv2dInfoNHWC("Conv2DBackpropFilter", x.shape, attrs.filterShape, attrs);
  const { B, H, W, OH, OW, KH, KW, CI, CO, sh, sw, top, left } = convDims(info);
  const K = KH * KW * CI, N = B * OH * OW;
  const simd = simdKernels(be);
  if (simd && CO % 4 === 0 && info.dilationHeight === 1 && info.dilationWidth === 1) {
    return filterGradSimd(be, simd, x, dy, info);
  }
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
  // 2. colT[(kh, kw, ci), (b, oy, ox)] = xT[b, ci, oy*sh + kh - top, ox*sw + kw - left] (0 outside),
  // stored chunk by chunk: chunk c (output rows s = b*OH + oy in [c*rpc, (c+1)*rpc)) is a
  // [K, nc] matrix at offset K*n0, so that each chunk's product runs on operands in cache.
  const rpc = Math.max(1, Math.round(COLT_CHUNK / OW)), chunk = rpc * OW;
  const [heap, xo] = heapF32(be, xT);
  const co = heapF32(be, colT)[1];
  for (let kh = 0; kh < KH; kh++) {
    for (let kw = 0; kw < KW; kw++) {
      // Output columns whose input column is inside the image (stride 1 case).
      const lo = Math.max(0, left - kw), hi = Math.min(OW, W - kw + left);
      for (let ci = 0; ci < CI; ci++) {
        const r = (kh * KW + kw) * CI + ci;
        for (let b = 0; b < B; b++) {
          const plane = xo + (b * CI + ci) * HW;
          for (let oy = 0; oy < OH; oy++) {
            const seg = b * OH + oy, c = Math.floor(seg / rpc), n0 = c * chunk;
            const nc = Math.min(chunk, N - n0);
            const dst = co + K * n0 + r * nc + (seg - c * rpc) * OW;
            const iy = oy * sh + kh - top;
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
  // 3. dW [K, CO] = sum over chunks of colT_c [K, nc] · dy_c [nc, CO]: no transposed operand.
  const acc = new Float64Array(K * CO);
  accumulateChunkProducts(be, N, chunk, acc, (n0, nc) => [
    viewAt(be, colT, K * n0, [K, nc]),
    viewAt(be, dy, n0 * CO, [nc, CO]),
  ]);
  free(be, colT);
  const out = alloc(be, info.filterShape as number[]);
  f32(be, out).set(acc);
  return out;
}

/**
 * Filter gradient by the SIMD kernel of `simd/kernels.c`: no im2col, no layout change; a f64
 * accumulator on the heap, rounded to float32 at the end.
 */
function filterGradSimd(
  be: WasmBackendLike,
  simd: NonNullable<ReturnType<typeof simdKernels>>,
  x: TensorInfo,
  dy: TensorInfo,
  info: backend_util.Conv2DInfo,
): TensorInfo {
  const d = convDims(info);
  if (usesWinograd(d)) return filterGradWinograd(be, simd, x, dy, d, info);
  const n = d.KH * d.KW * d.CI * d.CO;
  const acc = alloc(be, [2 * n]); // n float64 values
  const out = alloc(be, info.filterShape as number[]);
  f32(be, acc).fill(0);
  const rows = Math.max(1, Math.round(FILTER_GRAD_TILE / d.OW));
  const g = convGeometryArgs(d);
  simd.conv_filter_grad(addr(be, x), addr(be, dy), addr(be, acc), ...g, rows);
  simd.f64_to_f32(addr(be, acc), addr(be, out), n);
  free(be, acc);
  return out;
}

/**
 * The filter gradient of a 3x3 stride-1 convolution by Winograd's F(3x3, 2x2) (kernels.c): f64
 * sums in the Winograd domain, [16, CI, CO] per slice of tile rows, then their sum's A^T m A
 * into the 3x3 filter.
 */
function filterGradWinograd(
  be: WasmBackendLike,
  simd: NonNullable<ReturnType<typeof simdKernels>>,
  x: TensorInfo,
  dy: TensorInfo,
  d: ConvDims,
  info: backend_util.Conv2DInfo,
): TensorInfo {
  const n = d.CI * d.CO, slices = winoFilterGradSlices(d.B, d.OH);
  const acc = alloc(be, [2 * slices * 16 * n]); // float64 values, zeroed by the kernel
  const scratch = alloc(be, [winoFilterGradScratchFloats(d.B, d.OH, d.OW, d.CI, d.CO)]);
  const out = alloc(be, info.filterShape as number[]);
  simd.conv_wino_filter_grad(
    ...[addr(be, x), addr(be, dy), addr(be, acc), ...winoGeometryArgs(d), addr(be, scratch)],
  );
  simd.wino_filter_grad_out(addr(be, acc), addr(be, out), n, slices);
  free(be, acc);
  free(be, scratch);
  return out;
}

/**
 * Output pixels per tile of {@link filterGradSimd} (whole output rows): a tile of dy and x stays
 * in cache while every filter block sweeps it. 256-1024 measured alike on the Xeon; 128 and 4096
 * were slower.
 */
const FILTER_GRAD_TILE = 512;

/**
 * Target columns per chunk of colT in {@link conv2dBackpropFilterFast} (rounded to whole output
 * rows). Measured (CPU ms, one product vs chunks of 8000): 144x131072x32 80 vs 44,
 * 576x41472x32 51 vs 43, 288x32768x64 54 vs 44.
 */
const COLT_CHUNK = 8000;

/**
 * Filter gradient when K = KH·KW·CI is smaller than CO (e.g. a first layer on RGB input): XNNPACK
 * packs the right operand of a product anew for every new tensor (measured ~10 ns per element),
 * so the smaller of the two long operands must be on the right: dWᵀ [CO, K] = dyᵀ [CO, N] · col
 * [N, K]. Measured for 27x175232x64: 38 ms this way, 156 ms as colT · dy. The product is done
 * in chunks of {@link FILTER_GRAD_CHUNK} rows of N (views into one dyᵀ laid out chunk by chunk
 * and into col), which keeps each chunk's operands in cache: 30 instead of 41 CPU ms there.
 */
function filterGradByCol(
  be: WasmBackendLike,
  x: TensorInfo,
  dy: TensorInfo,
  info: backend_util.Conv2DInfo,
): TensorInfo {
  const { B, OH, OW, KH, KW, CI, CO } = convDims(info);
  const K = KH * KW * CI, N = B * OH * OW;
  const chunk = Math.min(N, FILTER_GRAD_CHUNK);
  const col = alloc(be, [N, K]);
  const dyT = alloc(be, [CO, N]); // chunk c holds dyᵀ[:, c*chunk ...] as a [CO, nc] matrix
  const xv = f32(be, x), cv = f32(be, col), dyv = f32(be, dy), dtv = f32(be, dyT);
  im2colRows(xv, cv, info, 0, N);
  for (let n0 = 0; n0 < N; n0 += chunk) {
    const nc = Math.min(chunk, N - n0), base = n0 * CO;
    transposeInto(dyv, n0 * CO, nc, CO, dtv, base);
  }
  const acc = new Float64Array(CO * K);
  accumulateChunkProducts(be, N, chunk, acc, (n0, nc) => [
    viewAt(be, dyT, n0 * CO, [CO, nc]),
    viewAt(be, col, n0 * K, [nc, K]),
  ]);
  free(be, dyT);
  free(be, col);
  // acc is dWᵀ [CO, K]; the filter is [K, CO].
  const out = alloc(be, info.filterShape as number[]);
  const ov = f32(be, out);
  for (let k = 0; k < K; k++) {
    for (let co = 0; co < CO; co++) ov[k * CO + co] = acc[co * K + k];
  }
  return out;
}

/**
 * acc += the sum, over chunks of `chunk` rows of N (the last one shorter), of the untransposed
 * product of the two heap views that `operands(n0, nc)` returns for the chunk at row n0 with nc
 * rows; the views are released after each product.
 */
function accumulateChunkProducts(
  be: WasmBackendLike,
  N: number,
  chunk: number,
  acc: Float64Array,
  operands: (n0: number, nc: number) => [TensorInfo, TensorInfo],
): void {
  for (let n0 = 0; n0 < N; n0 += chunk) {
    const [a, b] = operands(n0, Math.min(chunk, N - n0));
    const part = callStock(BatchMatMul, { a, b }, be, { transposeA: false, transposeB: false });
    releaseView(be, a);
    releaseView(be, b);
    const pv = f32(be, part);
    for (let i = 0; i < acc.length; i++) acc[i] += pv[i];
    free(be, part);
  }
}

/**
 * Rows of N per product in {@link filterGradByCol} (products measured flat between 2048 and 16384;
 * not a power of two: a 4096-float stride made the chunked transpose 4x slower, cache aliasing).
 */
export const FILTER_GRAD_CHUNK = 4000;

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
  const { H, W, OH, OW, KH, KW, CI, sh, sw, top, left } = convDims(info);
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
  const { B, H, W, OH, OW, KH, KW, CI, CO, sh, sw, top, left } = convDims(info);
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

/** `Conv2DBackpropInput` (inputs dy, filter). */
export function conv2dBackpropInputFast(args: Args): TensorInfo {
  const { inputs, backend, attrs } = args;
  const be = backend as WasmBackendLike;
  const { dy, filter } = inputs;
  const info = conv2dInfoNHWC("Conv2DBackpropInput", attrs.inputShape, filter.shape, attrs);
  const { B, H, W, OH, OW, KH, KW, CI, CO, sh, sw, top, left } = convDims(info);
  // Correlating the stride-dilated dy (Hd x Wd) with the flipped filter gives dx when dy is padded
  // by KH-1-top above and enough below to make H + KH - 1 rows (same for columns).
  if (CI <= COL2IM_MAX_CHANNELS) return inputGradByCol2im(be, dy, filter, info);
  const Hd = (OH - 1) * sh + 1, Wd = (OW - 1) * sw + 1;
  const pt = KH - 1 - top, pl = KW - 1 - left;
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
  const out = conv2dFast({
    inputs: { x: dyd ?? dy, filter: wT },
    backend: be,
    attrs: {
      strides: [1, 1],
      pad: [[0, 0], [pt, pb], [pl, pr], [0, 0]],
      dataFormat: "NHWC",
      dilations: [1, 1],
    },
  });
  free(be, wT);
  if (dyd) free(be, dyd);
  return out;
}
