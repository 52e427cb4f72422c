/**
 * Checks one TF.js backend against another (normally `cpu`, the plain-JavaScript reference):
 * the output and every gradient of each layer type the registered models use
 * ({@link LAYER_CASES}). `lib/train/fit_parity.ts` compares seeded fits of whole models. Used by
 * the backend tests and by the GPU check (`deno task gpu-check`).
 *
 * Both backends must be initialised (`initBackend({ prefer })`) before; these functions switch
 * between them with `tf.setBackend` and leave the last one active. Models are rebuilt on each
 * backend from seeded initialisers, inputs are seeded, and `Math.random` (which dropout draws
 * from) is seeded the same way on both.
 *
 * @example
 * ```ts
 * import { initBackend } from "./select.ts";
 * import { LAYER_CASES, layerParity } from "./parity.ts";
 * await initBackend({ prefer: "cpu" });
 * await initBackend({ prefer: "webgpu" });
 * for (const c of LAYER_CASES) console.log((await layerParity(c, "webgpu", "cpu")).maxError);
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { makeRng } from "../util/rng.ts";

/** One layer (or short stack) to check, on a batch of seeded inputs. */
export interface LayerCase {
  name: string;
  /** Input shape without the batch dimension. */
  input: number[];
  /** Images in the batch. */
  batch: number;
  /** Training mode (batch statistics, dropout). */
  training: boolean;
  /** Inputs are drawn uniformly from [-scale, scale]. Default 1. */
  scale?: number;
  /** Builds the layers, with seeded initialisers. */
  layers: () => tfl.layers.Layer[];
}

const seeded = (seed: number) => tfl.initializers.glorotUniform({ seed });
const uniform = (seed: number) =>
  tfl.initializers.randomUniform({ minval: 0.5, maxval: 1.5, seed });

/**
 * Every layer type of the registry's models: convolutions as cnn/cnn_reg (3x3 valid, ReLU, bias)
 * and compact (3x3 same, stride 2 and 1, no bias) use them, the depthwise convolution, ReLU6 and
 * zero padding of the transfer model's MobileNetV2 base, dense layers with ReLU, sigmoid and
 * softmax, batch norm in training and inference mode, max and average pooling (odd sizes too),
 * global average pooling, flatten and dropout. Sizes are tiny: the reference cpu backend is slow.
 */
export const LAYER_CASES: LayerCase[] = [
  {
    name: "conv2d 3x3 valid stride 1, bias, relu",
    input: [9, 9, 3],
    batch: 2,
    training: true,
    layers: () => [
      tfl.layers.conv2d({
        filters: 4,
        kernelSize: 3,
        activation: "relu",
        kernelInitializer: seeded(1),
        biasInitializer: uniform(2),
      }),
    ],
  },
  {
    name: "conv2d 3x3 same stride 2, no bias",
    input: [9, 9, 1],
    batch: 2,
    training: true,
    layers: () => [
      tfl.layers.conv2d({
        filters: 4,
        kernelSize: 3,
        strides: 2,
        padding: "same",
        useBias: false,
        kernelInitializer: seeded(3),
      }),
    ],
  },
  {
    name: "conv2d 3x3 same stride 1, no bias",
    input: [8, 8, 3],
    batch: 2,
    training: true,
    layers: () => [
      tfl.layers.conv2d({
        filters: 5,
        kernelSize: 3,
        padding: "same",
        useBias: false,
        kernelInitializer: seeded(4),
      }),
    ],
  },
  {
    name: "depthwise conv2d 3x3 same stride 1 and 2",
    input: [9, 9, 4],
    batch: 2,
    training: true,
    layers: () => [
      tfl.layers.depthwiseConv2d({
        kernelSize: 3,
        padding: "same",
        depthwiseInitializer: seeded(5),
      }),
      tfl.layers.depthwiseConv2d({
        kernelSize: 3,
        strides: 2,
        padding: "same",
        useBias: false,
        depthwiseInitializer: seeded(6),
      }),
    ],
  },
  {
    name: "zero padding, relu6",
    input: [5, 5, 2],
    batch: 2,
    training: true,
    scale: 8,
    layers: () => [tfl.layers.zeroPadding2d({ padding: 1 }), tfl.layers.reLU({ maxValue: 6 })],
  },
  {
    name: "flatten, dense relu, dense sigmoid",
    input: [4, 4, 3],
    batch: 3,
    training: true,
    layers: () => [
      tfl.layers.flatten(),
      tfl.layers.dense({
        units: 5,
        activation: "relu",
        kernelInitializer: seeded(7),
        biasInitializer: uniform(8),
      }),
      tfl.layers.dense({ units: 1, activation: "sigmoid", kernelInitializer: seeded(9) }),
    ],
  },
  {
    name: "dense softmax (3 classes)",
    input: [6],
    batch: 3,
    training: true,
    layers:
      () => [tfl.layers.dense({ units: 3, activation: "softmax", kernelInitializer: seeded(10) })],
  },
  {
    name: "batch norm, training mode",
    input: [6, 6, 4],
    batch: 3,
    training: true,
    layers: () => [
      tfl.layers.batchNormalization({
        momentum: 0.9,
        gammaInitializer: uniform(11),
        betaInitializer: uniform(12),
      }),
    ],
  },
  {
    name: "batch norm, inference mode",
    input: [6, 6, 4],
    batch: 3,
    training: false,
    layers: () => [
      tfl.layers.batchNormalization({
        gammaInitializer: uniform(13),
        movingVarianceInitializer: uniform(14),
      }),
    ],
  },
  {
    name: "max pool 2x2 (odd and even sizes)",
    input: [9, 9, 3],
    batch: 2,
    training: true,
    layers:
      () => [tfl.layers.maxPooling2d({ poolSize: 2 }), tfl.layers.maxPooling2d({ poolSize: 2 })],
  },
  {
    name: "average pool 2x2",
    input: [8, 8, 3],
    batch: 2,
    training: true,
    layers: () => [tfl.layers.averagePooling2d({ poolSize: 2 })],
  },
  {
    name: "global average pool",
    input: [5, 5, 4],
    batch: 2,
    training: true,
    layers: () => [tfl.layers.globalAveragePooling2d({})],
  },
  {
    name: "dropout 0.3, training mode",
    input: [6, 6, 3],
    batch: 2,
    training: true,
    layers: () => [tfl.layers.dropout({ rate: 0.3 })],
  },
];

/**
 * Largest error {@link layerParity} accepts. float32 sums in another order differ by a few 1e-7
 * of the largest value; a wrong kernel is off by far more.
 */
export const LAYER_TOLERANCE = 1e-5;

/** Result of {@link layerParity}: errors relative to the largest reference magnitude. */
export interface LayerParity {
  name: string;
  /** Error of the layer's output. */
  outputError: number;
  /** Error per gradient: "input", then each trainable weight by position and kind ("0 kernel"). */
  gradientErrors: Record<string, number>;
  /** Largest of all of them. */
  maxError: number;
}

/** max |a - b| / max(max |b|, 1e-6): the error of `a` relative to the reference `b`'s scale. */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) {
    throw new Error(`relativeError: lengths differ (${a.length} vs ${b.length})`);
  }
  let diff = 0, scale = 1e-6;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= diff)) diff = d; // NaN propagates as an infinite error below
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return Number.isNaN(diff) ? Infinity : diff / scale;
}

/** Makes `name` (already initialised) the active backend. */
export async function useBackend(name: string): Promise<void> {
  if (tf.getBackend() === name) return;
  if (!(await tf.setBackend(name))) {
    throw new Error(`parity: backend "${name}" could not be made active; initialise it first`);
  }
}

/** Runs `fn` with `Math.random` (which dropout draws from) seeded with `seed`, then restores it. */
export async function withSeededRandom<T>(seed: number, fn: () => Promise<T>): Promise<T> {
  const random = Math.random;
  Math.random = makeRng(seed);
  try {
    return await fn();
  } finally {
    Math.random = random;
  }
}

/** Output and gradients (of sum(output * r) for a seeded r) of one case on one backend. */
async function gradientsOn(c: LayerCase, backend: string): Promise<Map<string, Float32Array>> {
  await useBackend(backend);
  const model = tfl.sequential({
    layers: [tfl.layers.inputLayer({ inputShape: c.input }), ...c.layers()],
  });
  const scale = c.scale ?? 1;
  const x = tf.variable(tf.randomUniform([c.batch, ...c.input], -scale, scale, "float32", 21));
  const outShape = model.outputs[0].shape.map((d) => d ?? c.batch);
  const r = tf.randomUniform(outShape, -1, 1, "float32", 22);
  const weights = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const result = await withSeededRandom(23, async () => {
    let out: tf.Tensor | null = null;
    const { grads } = tf.variableGrads(() => {
      const y = model.apply(x, { training: c.training }) as tf.Tensor;
      out = tf.keep(y);
      return tf.sum(tf.mul(y, r)) as tf.Scalar;
    }, [x, ...weights]);
    const values = new Map<string, Float32Array>();
    values.set("output", await (out as unknown as tf.Tensor).data() as Float32Array);
    values.set("input", await grads[x.name].data() as Float32Array);
    // Keyed by position and kind ("1 kernel"): layer names differ between the two models.
    for (const [i, w] of model.trainableWeights.entries()) {
      const key = `${i} ${w.originalName.split("/").pop()}`;
      values.set(key, await grads[(w.read() as tf.Variable).name].data() as Float32Array);
    }
    tf.dispose([out as unknown as tf.Tensor, ...Object.values(grads)]);
    return values;
  });
  tf.dispose([x, r]);
  model.dispose();
  return result;
}

/** Compares one {@link LayerCase} on `test` against `ref` (default "cpu"). */
export async function layerParity(c: LayerCase, test: string, ref = "cpu"): Promise<LayerParity> {
  const want = await gradientsOn(c, ref);
  const got = await gradientsOn(c, test);
  const gradientErrors: Record<string, number> = {};
  for (const [k, v] of want) if (k !== "output") gradientErrors[k] = relativeError(got.get(k)!, v);
  const outputError = relativeError(got.get("output")!, want.get("output")!);
  const maxError = Math.max(outputError, ...Object.values(gradientErrors));
  return { name: c.name, outputError, gradientErrors, maxError };
}
