/**
 * Straightforward (reference) gradient kernels for the wasm backend, which ships without
 * `Conv2DBackpropFilter` and the depthwise-convolution backprops, so it cannot train a CNN as is
 * (tfjs issue #8474). They are direct loops over the definition, in TypeScript on the wasm heap,
 * written by hand because no library provides these kernels for wasm. They are the correctness
 * baseline; `fast.ts` holds the fast versions used for training.
 * @module
 */
import {
  backend_util,
  Conv2DBackpropFilter,
  DepthwiseConv2dNativeBackpropFilter,
  DepthwiseConv2dNativeBackpropInput,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from "@tensorflow/tfjs-core";
import { alloc, f32, type WasmBackendLike } from "./_heap.ts";
import type { Args } from "./_ops.ts";
import { conv2dInfoNHWC, convDims, depthwiseInfo } from "./_conv_geometry.ts";

/** dW[kh,kw,ci,co] = sum over (b,oy,ox) of x[b, oy*sh+kh-top, ox*sw+kw-left, ci] * dy[b,oy,ox,co]. */
function conv2dBackpropFilterRef({ inputs, backend, attrs }: Args): TensorInfo {
  const be = backend as WasmBackendLike;
  const { x, dy } = inputs;
  const info = conv2dInfoNHWC("Conv2DBackpropFilter", x.shape, attrs.filterShape, attrs);
  const out = alloc(be, info.filterShape as number[]);
  const xv = f32(be, x), dyv = f32(be, dy), dw = f32(be, out);
  const acc = new Float64Array(dw.length);
  const { B, H, W, OH, OW, KH, KW, CI, CO, sh, sw, top, left } = convDims(info);
  for (let b = 0; b < B; b++) {
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        const dyOff = ((b * OH + oy) * OW + ox) * CO;
        for (let kh = 0; kh < KH; kh++) {
          const iy = oy * sh + kh - top;
          if (iy < 0 || iy >= H) continue;
          for (let kw = 0; kw < KW; kw++) {
            const ix = ox * sw + kw - left;
            if (ix < 0 || ix >= W) continue;
            const xOff = ((b * H + iy) * W + ix) * CI;
            const wOff = (kh * KW + kw) * CI * CO;
            for (let ci = 0; ci < CI; ci++) {
              const xval = xv[xOff + ci];
              if (xval === 0) continue;
              const o = wOff + ci * CO;
              for (let co = 0; co < CO; co++) acc[o + co] += xval * dyv[dyOff + co];
            }
          }
        }
      }
    }
  }
  dw.set(acc);
  return out;
}

/** Shared loop of both depthwise backprops: calls `visit` for every (x index, w index, dy index). */
function depthwiseVisit(
  info: backend_util.Conv2DInfo,
  visit: (xi: number, wi: number, dyi: number) => void,
) {
  const { inHeight: H, inWidth: W, inChannels: CI, outHeight: OH, outWidth: OW, outChannels: CO } =
    info;
  const { filterHeight: KH, filterWidth: KW, strideHeight: sh, strideWidth: sw } = info;
  const { dilationHeight: dh, dilationWidth: dw } = info;
  const mult = CO / CI, top = info.padInfo.top, left = info.padInfo.left;
  for (let b = 0; b < info.batchSize; b++) {
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        const dyOff = ((b * OH + oy) * OW + ox) * CO;
        for (let kh = 0; kh < KH; kh++) {
          const iy = oy * sh + kh * dh - top;
          if (iy < 0 || iy >= H) continue;
          for (let kw = 0; kw < KW; kw++) {
            const ix = ox * sw + kw * dw - left;
            if (ix < 0 || ix >= W) continue;
            const xOff = ((b * H + iy) * W + ix) * CI;
            const wOff = (kh * KW + kw) * CO;
            for (let ci = 0; ci < CI; ci++) {
              for (let q = 0; q < mult; q++) {
                const co = ci * mult + q;
                visit(xOff + ci, wOff + co, dyOff + co);
              }
            }
          }
        }
      }
    }
  }
}

function depthwiseBackpropFilterRef({ inputs, backend, attrs }: Args): TensorInfo {
  const be = backend as WasmBackendLike;
  const { x, dy } = inputs;
  const info = depthwiseInfo(x.shape, attrs.filterShape, attrs);
  const out = alloc(be, info.filterShape as number[]);
  const xv = f32(be, x), dyv = f32(be, dy), dwv = f32(be, out);
  const acc = new Float64Array(dwv.length);
  depthwiseVisit(info, (xi, wi, dyi) => {
    acc[wi] += xv[xi] * dyv[dyi];
  });
  dwv.set(acc);
  return out;
}

function depthwiseBackpropInputRef({ inputs, backend, attrs }: Args): TensorInfo {
  const be = backend as WasmBackendLike;
  const { dy, filter } = inputs;
  const info = depthwiseInfo(attrs.inputShape, filter.shape, attrs);
  const out = alloc(be, info.inShape as number[]);
  const wv = f32(be, filter), dyv = f32(be, dy), dxv = f32(be, out);
  const acc = new Float64Array(dxv.length);
  depthwiseVisit(info, (xi, wi, dyi) => {
    acc[xi] += wv[wi] * dyv[dyi];
  });
  dxv.set(acc);
  return out;
}

function config(kernelName: string, fn: (a: Args) => TensorInfo): KernelConfig {
  return { kernelName, backendName: "wasm", kernelFunc: fn as unknown as KernelFunc };
}

/** The reference kernels for the kernels that tfjs-backend-wasm 4.22 lacks. */
export const referenceKernels: KernelConfig[] = [
  config(Conv2DBackpropFilter, conv2dBackpropFilterRef),
  config(DepthwiseConv2dNativeBackpropFilter, depthwiseBackpropFilterRef),
  config(DepthwiseConv2dNativeBackpropInput, depthwiseBackpropInputRef),
];
