/**
 * Input of the data-parallel workers: uint8 pixels scaled to float in the worker (so only bytes
 * cross threads), and per-sample loss weights from class weights as `fit({classWeight})` makes
 * them. The step itself (loss, gradient, optimizer) is `../step.ts`.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";

/** How uint8 pixels become model input: `x = (u8 * scale - mean) / std`. */
export interface PixelScaling {
  scale: number;
  mean: number;
  std: number;
}

/** Default scaling: pixels / 255. */
export const DEFAULT_SCALING: PixelScaling = { scale: 1 / 255, mean: 0, std: 1 };

/**
 * Model input as floats, `n * prod(inputShape)` values: uint8 pixels are scaled with `scaling`; a
 * Float32Array is taken as already preprocessed (e.g. augmented and normalised by the caller).
 */
export function pixelsToFloat(
  x: Uint8Array | Float32Array,
  n: number,
  inputShape: number[],
  scaling: PixelScaling,
): Float32Array {
  const per = inputShape.reduce((a, b) => a * b, 1);
  if (x.length !== n * per) {
    throw new Error(
      `train step: x has ${x.length} values, expected ${n} x ${inputShape.join("x")} = ${n * per}`,
    );
  }
  if (x instanceof Float32Array) return x;
  const f = new Float32Array(x.length);
  const { scale, mean, std } = scaling;
  for (let i = 0; i < x.length; i++) f[i] = (x[i] * scale - mean) / std;
  return f;
}

/** {@link pixelsToFloat} as a tensor `[n, ...inputShape]`. */
export function pixelsToTensor(
  x: Uint8Array | Float32Array,
  n: number,
  inputShape: number[],
  scaling: PixelScaling,
): tf.Tensor {
  return tf.tensor(pixelsToFloat(x, n, inputShape, scaling), [n, ...inputShape], "float32");
}

/**
 * Per-sample loss weights from class weights, as `fit({classWeight})` computes them: the class of
 * a sample is its label (one output) or the argmax of its one-hot row (several outputs).
 */
export function sampleWeightsFromClasses(
  y: Float32Array,
  n: number,
  outDim: number,
  classWeights: Record<number, number>,
): Float32Array {
  const w = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let cls: number;
    if (outDim === 1) cls = Math.round(y[i]);
    else {
      cls = 0;
      for (let j = 1; j < outDim; j++) if (y[i * outDim + j] > y[i * outDim + cls]) cls = j;
    }
    const cw = classWeights[cls];
    if (cw === undefined) {
      throw new Error(`train step: classWeights has no entry for class ${cls} (sample ${i})`);
    }
    w[i] = cw;
  }
  return w;
}
