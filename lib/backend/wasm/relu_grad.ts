/**
 * The ReLU gradient in one pass on wasm. TF.js differentiates ReLU as `mul(dy, cast(step(x)))`:
 * three kernels and three passes over the activations (for cnn_reg's first layer, 8x148x148x64,
 * Step and Multiply took ~25 ms of a ~450 ms step). `XrayReluGrad` writes dx = dy where x > 0,
 * else 0 (a NaN x gives 0, where TF.js' step would give NaN).
 *
 * {@link registerReluGradient} replaces the ReLU gradient for every backend: where the active
 * backend has no `XrayReluGrad` kernel (cpu, webgpu, tfjs-node, or wasm with the reference kernels)
 * it computes TF.js' own expression.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { getKernel, registerGradient, Relu, type TensorInfo } from "@tensorflow/tfjs-core";
import { addr, alloc, f32, type WasmBackendLike } from "./_heap.ts";
import type { Args } from "./_ops.ts";
import { simdKernels } from "./simd/mod.ts";

/** Kernel name of the one-pass ReLU gradient (inputs dy, x). */
export const RELU_GRAD = "XrayReluGrad";

/** `XrayReluGrad` on wasm: SIMD where available, else a TypeScript loop on the heap. */
export function reluGradWasm({ inputs, backend }: Args): TensorInfo {
  const be = backend as WasmBackendLike;
  const { dy, x } = inputs;
  const out = alloc(be, x.shape as number[]);
  const n = x.shape.reduce((a, b) => a * b, 1);
  const simd = simdKernels(be);
  if (simd && x.dtype === "float32") {
    simd.relu_grad(addr(be, dy), addr(be, x), addr(be, out), n);
    return out;
  }
  const dyv = f32(be, dy), xv = be.typedArrayFromHeap(x), dx = f32(be, out);
  for (let i = 0; i < n; i++) dx[i] = xv[i] > 0 ? dyv[i] : 0;
  return out;
}

let registered = false;

/** Registers the ReLU gradient described above (once). */
export function registerReluGradient(): void {
  if (registered) return;
  registered = true;
  registerGradient({
    kernelName: Relu,
    inputsToSave: ["x"],
    gradFunc: (dy, saved) => {
      const [x] = saved;
      const d = dy as tf.Tensor;
      return {
        x: () =>
          getKernel(RELU_GRAD, tf.getBackend()) && d.dtype === "float32"
            ? tf.engine().runKernel(RELU_GRAD, { dy: d, x }) as tf.Tensor
            : tf.mul(d, tf.cast(tf.step(x), "float32")),
      };
    },
  });
}
