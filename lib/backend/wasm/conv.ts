/**
 * `Conv2D` for the wasm backend: the SIMD kernel of `simd/kernels.c` (fused multiply-add, no
 * im2col) where it applies (NHWC, dilation 1, output channels a multiple of 4), else the stock
 * XNNPACK kernel. Measured on the 2-core AVX-512 Xeon for cnn_reg's layers (ms per call,
 * XNNPACK vs SIMD, same run): 8x74x74x64 -> 32: 84 vs 51; 8x150x150x3 -> 64: 43 vs 25; the input
 * gradient's 8x72x72x32 -> 64 with padding 2: 69 vs 59 (`bench/profile.ts`, XRAY_WASM_SIMD=off/on).
 * 3x3 stride-1 convolutions with 16+ channels in and out run by Winograd's F(2x2, 3x3) instead
 * ({@link usesWinograd}; kernels.c): on the idle 2-core AMD EPYC, cnn_reg's 8x74x74x64 -> 32
 * layer took 20 ms on one thread against 36 ms direct (`bench/conv_kernels.ts`).
 * @module
 */
import { Conv2D, FusedConv2D, type TensorInfo } from "@tensorflow/tfjs-core";
import { addr, alloc, free, type WasmBackendLike } from "./_heap.ts";
import { type Args, callStock } from "./_ops.ts";
import { conv2dInfoNHWC, type ConvDims, convDims } from "./_conv_geometry.ts";
import { convGeometryArgs, simdKernels } from "./simd/mod.ts";
import { winoGeometryArgs, winoScratchFloats } from "./simd/split.ts";

let winograd = (Deno.env.get("XRAY_WASM_WINOGRAD") ?? "").trim().toLowerCase() !== "off";

/**
 * Turns Winograd's F(2x2, 3x3) for 3x3 stride-1 convolutions on or off (benchmarks and tests; on
 * by default, `XRAY_WASM_WINOGRAD=off` at start switches it off); returns the previous setting.
 */
export function setWinogradEnabled(on: boolean): boolean {
  const was = winograd;
  winograd = on;
  return was;
}

/**
 * Input channels from which F(2x2, 3x3) is used: below, the transforms (which grow with the
 * channels, not with their product) cost more than the multiply-adds they save.
 */
export const WINOGRAD_MIN_CHANNELS = 16;

/** Whether a convolution of these sizes runs by Winograd's F(2x2, 3x3). */
export function usesWinograd(d: ConvDims): boolean {
  return winograd && d.KH === 3 && d.KW === 3 && d.sh === 1 && d.sw === 1 && d.CI % 4 === 0 &&
    d.CO % 4 === 0 && d.CI >= WINOGRAD_MIN_CHANNELS && d.CO >= WINOGRAD_MIN_CHANNELS;
}

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
  if (usesWinograd(d)) {
    const u = alloc(be, [16, d.CI, d.CO]);
    const scratch = alloc(be, [winoScratchFloats(d.OW, d.CI, d.CO, simd.threads)]);
    simd.wino_filter(addr(be, filter), addr(be, u), d.CI, d.CO);
    simd.conv_wino(
      ...[addr(be, x), addr(be, u), addr(be, out), ...winoGeometryArgs(d)],
      ...[bias ? addr(be, bias) : 0, act, addr(be, scratch)],
    );
    free(be, u);
    free(be, scratch);
    return out;
  }
  const g = convGeometryArgs(d);
  simd.conv2d(addr(be, x), addr(be, filter), addr(be, out), ...g, bias ? addr(be, bias) : 0, act);
  return out;
}
