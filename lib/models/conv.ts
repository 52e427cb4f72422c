/**
 * TF.js' Conv2D layer, trained as one fused kernel on wasm. In training TF.js runs a convolution
 * with a ReLU as three ops (Conv2D, Add for the bias, Relu: two extra passes over the
 * activations, ~12 ms of cnn_reg's ~450 ms one-thread step, on one thread); here, where the wasm
 * backend's fast kernels are on (they register the `FusedConv2D` gradient,
 * lib/backend/wasm/conv_bias_relu.ts), a training call runs `FusedConv2D` with the bias and the
 * ReLU in its stores, and its gradient is the unfused ops' own: the same bits.
 *
 * Everything else (inference, other backends, other activations, dilation, channels-first) is the
 * stock layer's. The class keeps TF.js' serialised name, "Conv2D": saved models are unchanged and
 * load into this class where it is imported (the browser page uses the stock class).
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { FusedConv2D, getGradient } from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";

type ConvArgs = Parameters<typeof tfl.layers.conv2d>[0];

// tfjs-layers does not export its Conv2D class; take it from an instance.
const StockConv2D = Object.getPrototypeOf(tfl.layers.conv2d({ filters: 1, kernelSize: 1 }))
  // deno-lint-ignore no-explicit-any
  .constructor as new (args: ConvArgs) => any;

/** The activations the fused training kernel applies (TF.js class name -> fused name). */
const FUSED_ACTIVATIONS = new Map([["relu", "relu"], ["linear", "linear"]]);

/** TF.js' Conv2D layer, fused in training on wasm (see the module comment). */
export class FastConv2D extends StockConv2D {
  static className = "Conv2D";

  // deno-lint-ignore no-explicit-any
  call(inputs: tf.Tensor | tf.Tensor[], kwargs: any): tf.Tensor | tf.Tensor[] {
    const x = Array.isArray(inputs) ? (inputs.length === 1 ? inputs[0] : null) : inputs;
    const activation = FUSED_ACTIVATIONS.get(this.activation?.getClassName?.());
    const fused = x !== null && activation !== undefined && tf.engine().state.gradientDepth > 0 &&
      tf.getBackend() === "wasm" && getGradient(FusedConv2D) !== undefined &&
      this.rank === 2 && this.dataFormat === "channelsLast" && x.rank === 4 &&
      x.dtype === "float32" && (this.dilationRate as number[]).every((d) => d === 1) &&
      (this.padding === "same" || this.padding === "valid");
    if (!fused) return super.call(inputs, kwargs);
    return tf.tidy(() => {
      const ins: Record<string, tf.Tensor> = { x: x!, filter: this.kernel.read() };
      if (this.bias != null) ins.bias = this.bias.read();
      return tf.engine().runKernel(FusedConv2D, ins as never, {
        strides: this.strides,
        pad: this.padding,
        dataFormat: "NHWC",
        dilations: this.dilationRate,
        activation,
      } as never) as tf.Tensor;
    });
  }
}
// The map is tfjs-core's, shared with tfjs-layers: this replaces the stock "Conv2D" entry.
tf.serialization.registerClass(
  FastConv2D as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>,
);

/** A Conv2D layer for the model files (FastConv2D); the arguments of `tf.layers.conv2d`. */
export function conv2d(args: ConvArgs): tfl.layers.Layer {
  return new FastConv2D(args) as tfl.layers.Layer;
}
