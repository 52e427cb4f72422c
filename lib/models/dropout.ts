/**
 * Dropout with a fast training mask. TF.js draws dropout noise with `tf.randomUniform`, a
 * JavaScript loop over seedrandom's alea generator (~20 ns a value): for cnn_reg's first
 * dropout (8x74x74x64, 2.8 M values) that was 40-60 ms of a ~450 ms training step, more than any
 * kernel but the convolutions, and TF.js then spends four passes (add, floor, div, mul) applying
 * it. Here the mask (0 or 1/keep) comes from mulberry32, a counter-style 32-bit generator
 * (lib/util/dropout_mask.ts: a few ns a value in TypeScript; on wasm a SIMD kernel makes it in
 * place, split over the kernel threads, the same bits), and is applied in one multiply, whose
 * gradient is the mask again.
 *
 * The class keeps TF.js' serialised name, "Dropout": saved models are unchanged and load with or
 * without this module (the browser page uses the stock class; inference never drops). Like TF.js
 * without a layer seed, each call draws its generator's seed from `Math.random`, which the
 * trainer seeds (lib/train). A layer `seed` does not fix the mask: TF.js' stock layer reuses the
 * same mask on every step when given one, which is not dropout.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { getKernel } from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { DROPOUT_MASK_KERNEL, dropoutMask } from "../util/dropout_mask.ts";

export { dropoutMask } from "../util/dropout_mask.ts";

type DropoutArgs = { rate: number; noiseShape?: number[]; seed?: number; name?: string };

// tfjs-layers does not export its Dropout class; take it from an instance.
const StockDropout = Object.getPrototypeOf(tfl.layers.dropout({ rate: 0.5 }))
  // deno-lint-ignore no-explicit-any
  .constructor as new (args: DropoutArgs) => any;

/** TF.js' Dropout layer with the fast mask in training (see the module comment). */
export class FastDropout extends StockDropout {
  static className = "Dropout";

  // deno-lint-ignore no-explicit-any
  call(inputs: tf.Tensor | tf.Tensor[], kwargs: any): tf.Tensor | tf.Tensor[] {
    const rate: number = this.rate;
    const training = kwargs?.training === true;
    if (!training || !(rate > 0 && rate < 1) || this.noiseShape != null) {
      return super.call(inputs, kwargs);
    }
    return tf.tidy(() => {
      this.invokeCallHook(inputs, kwargs);
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      const seed = Math.floor(Math.random() * 4294967296);
      // On wasm the mask is made in place on the backend's memory, on its kernel threads.
      const mask = tf.getBackend() === "wasm" && getKernel(DROPOUT_MASK_KERNEL, "wasm")
        ? tf.engine().runKernel(DROPOUT_MASK_KERNEL, {}, {
          shape: x.shape,
          rate,
          seed,
        }) as tf.Tensor
        : tf.tensor(dropoutMask(x.size, rate, seed), x.shape, "float32");
      return tf.mul(x, mask);
    });
  }
}
// The map is tfjs-core's, shared with tfjs-layers: this replaces the stock "Dropout" entry.
tf.serialization.registerClass(
  FastDropout as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>,
);

/** A dropout layer for the model files (FastDropout). */
export function dropout(args: DropoutArgs): tfl.layers.Layer {
  return new FastDropout(args) as tfl.layers.Layer;
}
