/**
 * The gradient of `FusedConv2D` with a linear or ReLU activation, so that a training step can run
 * a convolution, its bias and its ReLU as one kernel (`lib/models/conv.ts` does on wasm).
 *
 * Why: in training, TF.js' `fused.conv2d` falls back to three ops for a ReLU (Conv2D, then Add for
 * the bias and Relu, each a full pass over the activations; for cnn_reg's first layer,
 * 8x148x148x64, the Add and the Relu took ~12 ms of a ~450 ms step and ran on one thread), and for
 * a linear activation its custom gradient computes every input's gradient, needed or not (a
 * network's first layer would pay an input gradient it never uses). Our SIMD `FusedConv2D`
 * (`conv.ts`) writes conv + bias, then ReLU, in its stores, split over the kernel threads.
 *
 * The gradient is the unfused ops' own, in the same order, so training gives the same bits:
 * dz = dy where y > 0 (ReLU; y > 0 exactly where conv + bias > 0), else dy; then the bias
 * gradient sum(dz) over the batch and pixel axes (Add's gradient), and the input and filter
 * gradients of the convolution from dz (Conv2D's, each computed only when asked for). On wasm dz
 * and the bias gradient come from one pass (`XrayReluGradBias`, relu_grad.ts).
 * Registered for every backend (`registerFusedConvGradient`, by `setWasmKernels("fast")`); where
 * `XrayReluGrad` is not registered, dz is TF.js' own `dy * step(y)`.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import {
  Conv2DBackpropFilter,
  Conv2DBackpropInput,
  FusedConv2D,
  getGradient,
  getKernel,
  registerGradient,
  unregisterGradient,
} from "@tensorflow/tfjs-core";
import { RELU_GRAD, RELU_GRAD_BIAS } from "./relu_grad.ts";

/** The ReLU gradient at output y (XrayReluGrad where registered, else TF.js' expression). */
function reluGrad(dy: tf.Tensor, y: tf.Tensor): tf.Tensor {
  return getKernel(RELU_GRAD, tf.getBackend()) && dy.dtype === "float32"
    ? tf.engine().runKernel(RELU_GRAD, { dy, x: y }) as tf.Tensor
    : tf.mul(dy, tf.cast(tf.step(y), "float32"));
}

const gradConfig: tf.GradConfig = {
  kernelName: FusedConv2D,
  inputsToSave: ["x", "filter"],
  outputsToSave: [true],
  gradFunc: (dy, saved, attrs) => {
    const [x, filter, y] = saved;
    const { strides, pad, dataFormat, dimRoundingMode, dilations, activation } =
      attrs as unknown as {
        strides: number | [number, number];
        pad: unknown;
        dataFormat?: string;
        dimRoundingMode?: string;
        dilations?: number | [number, number];
        activation?: string;
      };
    const act = activation ?? "linear";
    if (act !== "linear" && act !== "relu") {
      throw new Error(`FusedConv2D gradient (lib/backend): activation ${act} is not supported`);
    }
    const dil = dilations === undefined ? [1, 1] : [dilations].flat();
    if (dil.some((v) => v !== 1) || (dataFormat !== undefined && dataFormat !== "NHWC")) {
      throw new Error(
        `FusedConv2D gradient (lib/backend): only NHWC without dilation, got ${dataFormat} ` +
          `dilations ${dil}`,
      );
    }
    const d = dy as tf.Tensor;
    // With a ReLU on wasm: dz and the bias gradient in one pass (the same bits; the sums cost
    // next to nothing in that memory-bound pass, and are dropped where there is no bias).
    const oneSum = act === "relu" && d.dtype === "float32" &&
      getKernel(RELU_GRAD_BIAS, tf.getBackend()) !== undefined;
    let dz: tf.Tensor, db: tf.Tensor | null = null;
    if (oneSum) [dz, db] = tf.engine().runKernel(RELU_GRAD_BIAS, { dy: d, y }) as tf.Tensor[];
    else dz = act === "relu" ? reluGrad(d, y) : d;
    const common = { strides, pad, dataFormat: dataFormat ?? "NHWC", dimRoundingMode };
    return {
      x: () =>
        tf.engine().runKernel(Conv2DBackpropInput, { dy: dz, filter }, {
          ...common,
          inputShape: x.shape,
        } as never) as tf.Tensor,
      filter: () =>
        tf.engine().runKernel(Conv2DBackpropFilter, { x, dy: dz }, {
          ...common,
          filterShape: filter.shape,
        } as never) as tf.Tensor,
      bias: () => db ?? tf.sum(dz, [0, 1, 2]),
    };
  },
};

/** Registers the gradient above (idempotent). */
export function registerFusedConvGradient(): void {
  if (getGradient(FusedConv2D) !== gradConfig) registerGradient(gradConfig);
}

/** Removes it (the "reference" kernels: stock TF.js, whose layers then train unfused). */
export function unregisterFusedConvGradient(): void {
  if (getGradient(FusedConv2D) === gradConfig) unregisterGradient(FusedConv2D);
}
