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
import { addr, alloc, f32, free, type WasmBackendLike } from "./_heap.ts";
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

/**
 * Kernel name of the ReLU gradient with its column sums (inputs dy, y [..., C]; outputs dz, the
 * ReLU gradient, and db [C], dz summed over every axis but the last: a ReLU layer's bias
 * gradient), one pass instead of XrayReluGrad then Sum.
 */
export const RELU_GRAD_BIAS = "XrayReluGradBias";

/**
 * `XrayReluGradBias` on wasm: the SIMD kernel `relu_grad_sum` (the same bits as `relu_grad` then
 * `Sum`'s `sum_rows`) where C % 4 == 0, else those two kernels' TypeScript paths.
 */
export function reluGradBiasWasm({ inputs, backend }: Args): TensorInfo[] {
  const be = backend as WasmBackendLike;
  const { dy, y } = inputs;
  const C = y.shape[y.shape.length - 1];
  const M = y.shape.reduce((a, b) => a * b, 1) / C;
  const simd = C % 4 === 0 && y.dtype === "float32" ? simdKernels(be) : null;
  if (simd) {
    const dz = alloc(be, y.shape as number[]), db = alloc(be, [C]);
    const acc = alloc(be, [2 * C]); // C float64 values
    const part = alloc(be, [Math.ceil(M / 256) * C]); // f32 sums per block of 256 rows
    f32(be, acc).fill(0);
    if (M * C > 0) {
      const [a, b, c, d, e] = [dy, y, dz, acc, part].map((t) => addr(be, t));
      simd.relu_grad_sum(a, b, c, d, e, M, C);
    }
    free(be, part);
    simd.f64_to_f32(addr(be, acc), addr(be, db), C);
    free(be, acc);
    return [dz, db];
  }
  const dz = reluGradWasm({ inputs: { dy, x: y }, backend, attrs: {} });
  const db = alloc(be, [C]);
  const zv = f32(be, dz), ov = f32(be, db), sums = new Float64Array(C);
  for (let i = 0, p = 0; i < M; i++) {
    for (let c = 0; c < C; c++) sums[c] += zv[p++];
  }
  ov.set(sums);
  return [dz, db];
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
