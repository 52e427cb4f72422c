/**
 * Convolution geometry shared by the hand-written wasm gradient kernels (`reference.ts`,
 * `conv_grads.ts`): the kernels' attributes turned into tfjs's `Conv2DInfo`, and its sizes
 * under the short names the loops use.
 * @module
 */
import { backend_util } from "@tensorflow/tfjs-core";
import { assertNHWC } from "./_heap.ts";
import type { Args } from "./_ops.ts";

type Shape4 = [number, number, number, number];

/**
 * Geometry of a plain (undilated, not depthwise) NHWC convolution of an input of `inShape` by a
 * filter of `filterShape`, from a gradient kernel's attributes; throws unless `attrs.dataFormat`
 * is NHWC (`kernel` names the kernel in that error).
 */
export function conv2dInfoNHWC(
  kernel: string,
  inShape: number[],
  filterShape: number[],
  attrs: Args["attrs"],
): backend_util.Conv2DInfo {
  assertNHWC(kernel, attrs.dataFormat);
  return backend_util.computeConv2DInfo(
    inShape as Shape4,
    filterShape as Shape4,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    "channelsLast",
  );
}

/** Geometry of a depthwise convolution, from a depthwise gradient kernel's attributes. */
export function depthwiseInfo(
  inShape: number[],
  filterShape: number[],
  attrs: Args["attrs"],
): backend_util.Conv2DInfo {
  return backend_util.computeConv2DInfo(
    inShape as Shape4,
    filterShape as Shape4,
    attrs.strides,
    attrs.dilations,
    attrs.pad,
    attrs.dimRoundingMode,
    true,
  );
}

/** Sizes of a convolution under short names: batch, input, output, filter, strides, padding. */
export interface ConvDims {
  B: number;
  H: number;
  W: number;
  OH: number;
  OW: number;
  KH: number;
  KW: number;
  CI: number;
  CO: number;
  sh: number;
  sw: number;
  /** Padding above the first input row / left of the first input column. */
  top: number;
  left: number;
}

/** The sizes of `info` as {@link ConvDims} (filter sizes from `info.filterShape`). */
export function convDims(info: backend_util.Conv2DInfo): ConvDims {
  const [KH, KW, CI, CO] = info.filterShape;
  return {
    B: info.batchSize,
    H: info.inHeight,
    W: info.inWidth,
    OH: info.outHeight,
    OW: info.outWidth,
    KH,
    KW,
    CI,
    CO,
    sh: info.strideHeight,
    sw: info.strideWidth,
    top: info.padInfo.top,
    left: info.padInfo.left,
  };
}
