/**
 * `Conv2D` for the wasm backend: the SIMD kernel of `simd/kernels.c` (fused multiply-add, no
 * im2col) where it applies (NHWC, dilation 1, output channels a multiple of 4), else the stock
 * XNNPACK kernel. Measured on the 2-core AVX-512 Xeon for cnn_reg's layers (ms per call,
 * XNNPACK vs SIMD, same run): 8x74x74x64 -> 32: 84 vs 51; 8x150x150x3 -> 64: 43 vs 25; the input
 * gradient's 8x72x72x32 -> 64 with padding 2: 69 vs 59 (`bench/profile.ts`, XRAY_WASM_SIMD=off/on).
 * @module
 */
import { Conv2D, FusedConv2D, type TensorInfo } from "@tensorflow/tfjs-core";
import { addr, alloc, type WasmBackendLike } from "./_heap.ts";
import { type Args, callStock } from "./_ops.ts";
import { conv2dInfoNHWC, convDims } from "./_conv_geometry.ts";
import { convGeometryArgs, simdKernels } from "./simd/mod.ts";

/** `Conv2D` (inputs x, filter): SIMD where it applies, else stock. */
export function conv2dFast(args: Args): TensorInfo {
  return convSimd(args, null, 0) ?? callStock(Conv2D, args.inputs, args.backend, args.attrs);
}

/**
 * `FusedConv2D` (tfjs-layers' convolutions; inputs x, filter, bias?): SIMD with the bias and a
 * linear, ReLU or ReLU6 (MobileNet) activation folded into the output stores; other activations,
 * PReLU weights or a bias that is not one value per output channel go to the stock kernel.
 */
export function fusedConv2dFast(args: Args): TensorInfo {
  const { inputs, attrs } = args;
  const act = attrs.activation ?? "linear";
  const { bias, preluActivationWeights } = inputs;
  const co = inputs.filter.shape[3];
  const biasOk = bias === undefined ||
    (bias.dtype === "float32" && bias.shape.reduce((a, b) => a * b, 1) === co &&
      bias.shape[bias.shape.length - 1] === co);
  const code = ACTIVATIONS.get(act);
  if (code !== undefined && !preluActivationWeights && biasOk) {
    const out = convSimd(args, bias ?? null, code);
    if (out) return out;
  }
  return callStock(FusedConv2D, inputs, args.backend, attrs);
}

/** Activations the SIMD kernel applies in its stores (the kernel's `act` codes). */
const ACTIVATIONS = new Map<string, number>([["linear", 0], ["relu", 1], ["relu6", 2]]);

/** The SIMD convolution, or null where it does not apply (the caller runs the stock kernel). */
function convSimd(args: Args, bias: TensorInfo | null, act: number): TensorInfo | null {
  const { inputs, backend, attrs } = args;
  const be = backend as WasmBackendLike;
  const { x, filter } = inputs;
  const simd = simdKernels(be);
  const nhwc = attrs.dataFormat === undefined || attrs.dataFormat === "NHWC";
  if (
    !simd || !nhwc || x.dtype !== "float32" || filter.dtype !== "float32" ||
    filter.shape[3] % 4 !== 0
  ) {
    return null;
  }
  const info = conv2dInfoNHWC("Conv2D", x.shape, filter.shape, attrs);
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1) return null;
  const d = convDims(info);
  const out = alloc(be, [d.B, d.OH, d.OW, d.CO]);
  if (d.B * d.OH * d.OW * d.CO === 0) return out;
  const g = convGeometryArgs(d);
  simd.conv2d(addr(be, x), addr(be, filter), addr(be, out), ...g, bias ? addr(be, bias) : 0, act);
  return out;
}
