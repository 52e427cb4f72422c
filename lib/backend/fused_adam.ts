/**
 * Adam with one fused pass per variable: a drop-in for `tf.train.adam` with the same maths.
 *
 * tfjs' `AdamOptimizer.applyGradients` runs about ten element-wise kernels per variable (mul, add,
 * square, div, sqrt, ...), each a full pass over the variable and a fresh allocation. For
 * `dense_baseline` (1 M weights in its first layer) those passes were ~4.5 ms of a ~20 ms step.
 * Here one registered kernel (`XrayFusedAdam`, wasm and cpu) reads w, g, m, v once and writes the
 * new w, m, v. Written by hand because tfjs has no fused optimizer kernel. On wasm it runs as
 * `adam` of lib/backend/wasm/simd/kernels.c (split over the kernel threads on tfjs' threaded
 * build, whose shared memory the hand-assembled function of `fused_adam_simd.ts` cannot import)
 * where the SIMD kernels are on, else as that function, else as a scalar loop.
 *
 * Same results as `tf.train.adam`: every operation is rounded to float32 in the order the stock
 * optimizer applies its kernels (`Math.fround`; a double-precision +, -, *, / or sqrt of float32
 * operands rounded to float32 equals the float32 operation), and the bias-correction scalars are
 * still computed with tfjs ops on the optimizer's own `accBeta` variables. State, weights
 * (`getWeights`/`setWeights`), config and class name (`Adam`) are inherited from
 * `tf.AdamOptimizer`, so saved models and checkpoints are unchanged.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import {
  getKernel,
  type KernelConfig,
  type KernelFunc,
  type NamedTensorMap,
  registerKernel,
  type TensorInfo,
} from "@tensorflow/tfjs-core";
import { alloc, f32, type WasmBackendLike } from "./wasm/_heap.ts";
import { wasmKernelMode } from "./wasm/mod.ts";
import { simdAdamFor } from "./fused_adam_simd.ts";
import { simdKernels, wasmMemoryOf } from "./wasm/simd/mod.ts";

/** Name of the registered fused Adam kernel. */
export const FUSED_ADAM = "XrayFusedAdam";

/** Hyper-parameters of one fused update (plain JS numbers; rounded to float32 like tfjs scalars). */
interface AdamAttrs {
  beta1: number;
  beta2: number;
  epsilon: number;
  learningRate: number;
}

/** The float32 scalars of the update, in the order the SIMD function takes them. */
function scalars(a: AdamAttrs, c1: number, c2: number): number[] {
  const fr = Math.fround;
  return [a.beta1, 1 - a.beta1, a.beta2, 1 - a.beta2, c1, c2, a.epsilon, -a.learningRate].map(fr);
}

/**
 * The update itself, over output arrays, for elements `from..` (scalar loop; the wasm kernel runs
 * the bulk with SIMD): `w1, m1, v1` from `w, g, m, v` and the bias-correction denominators
 * `c1 = 1 - beta1^t`, `c2 = 1 - beta2^t` (float32 values).
 */
function adamPass(
  w: Float32Array,
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  w1: Float32Array,
  m1: Float32Array,
  v1: Float32Array,
  c1: number,
  c2: number,
  a: AdamAttrs,
  from = 0,
): void {
  const fr = Math.fround;
  const [b1, ob1, b2, ob2, , , eps, nlr] = scalars(a, c1, c2);
  const n = w.length;
  for (let i = from; i < n; i++) {
    const gi = g[i];
    const mi = fr(fr(m[i] * b1) + fr(gi * ob1));
    const vi = fr(fr(v[i] * b2) + fr(fr(gi * gi) * ob2));
    m1[i] = mi;
    v1[i] = vi;
    const den = fr(fr(Math.sqrt(fr(vi / c2))) + eps);
    w1[i] = fr(fr(fr(mi / c1) / den) * nlr) + w[i];
  }
}

function checkInputs(inputs: Record<string, TensorInfo>): TensorInfo[] {
  const { w, g, m, v, c1, c2 } = inputs;
  for (const t of [w, g, m, v]) {
    if (t.dtype !== "float32" || t.shape.join() !== w.shape.join()) {
      throw new Error(
        `${FUSED_ADAM}: expected float32 w, g, m, v of one shape, got [${w.shape}] and ` +
          `${t.dtype} [${t.shape}]`,
      );
    }
  }
  return [w, g, m, v, c1, c2];
}

const wasmFusedAdam: KernelFunc = ({ inputs, backend, attrs }) => {
  const be = backend as unknown as WasmBackendLike;
  const ins = checkInputs(inputs as Record<string, TensorInfo>);
  const [w, g, m, v, c1t, c2t] = ins;
  const outs = [alloc(be, w.shape), alloc(be, w.shape), alloc(be, w.shape)];
  const a = attrs as unknown as AdamAttrs;
  const c1 = f32(be, c1t)[0], c2 = f32(be, c2t)[0];
  const n = w.shape.reduce((p, d) => p * d, 1);
  const at = (t: TensorInfo) => be.dataIdMap.get(t.dataId)!.memoryOffset;
  // The C kernel (on the kernel threads where there are several), else this file's SIMD
  // function (unshared memory only), else the scalar loop.
  const kernels = simdKernels(be);
  if (kernels !== null) {
    if (n > 0) kernels.adam(...([w, g, m, v, ...outs].map(at) as Seven), n, scalars(a, c1, c2));
    return outs;
  }
  const memory = wasmMemoryOf(be);
  const simd = memory ? simdAdamFor(memory) : null;
  let done = 0;
  if (simd !== null) {
    done = n - (n % 4);
    simd(...[w, g, m, v, ...outs].map(at), done * 4, ...scalars(a, c1, c2));
  }
  if (done < n) {
    // Views only after the last allocation (an allocation may grow, and detach, the heap).
    const [w1, m1, v1] = outs.map((o) => f32(be, o));
    adamPass(f32(be, w), f32(be, g), f32(be, m), f32(be, v), w1, m1, v1, c1, c2, a, done);
  }
  return outs;
};

type Seven = [number, number, number, number, number, number, number];

/** The parts of tfjs-backend-cpu's `MathBackendCPU` used here. */
interface CpuBackendLike {
  data: { get(dataId: object): { values: unknown } };
  makeTensorInfo(shape: number[], dtype: "float32", values: Float32Array): TensorInfo;
}

const cpuFusedAdam: KernelFunc = ({ inputs, backend, attrs }) => {
  const be = backend as unknown as CpuBackendLike;
  const ins = checkInputs(inputs as Record<string, TensorInfo>);
  const [w, g, m, v, c1, c2] = ins.map((t) => be.data.get(t.dataId).values as Float32Array);
  const n = w.length;
  const w1 = new Float32Array(n), m1 = new Float32Array(n), v1 = new Float32Array(n);
  adamPass(w, g, m, v, w1, m1, v1, c1[0], c2[0], attrs as unknown as AdamAttrs);
  const shape = ins[0].shape;
  return [w1, m1, v1].map((d) => be.makeTensorInfo(shape, "float32", d));
};

/** Registers the fused Adam kernel on wasm and cpu (idempotent). */
export function registerFusedAdam(): void {
  const configs: KernelConfig[] = [
    { kernelName: FUSED_ADAM, backendName: "wasm", kernelFunc: wasmFusedAdam },
    { kernelName: FUSED_ADAM, backendName: "cpu", kernelFunc: cpuFusedAdam },
  ];
  for (const c of configs) {
    if (getKernel(c.kernelName, c.backendName) === undefined) registerKernel(c);
  }
}

/** `tf.AdamOptimizer`'s private state, which this subclass drives with the fused kernel. */
interface AdamState {
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: { originalName: string; variable: tf.Variable }[];
  accumulatedSecondMoment: { originalName: string; variable: tf.Variable }[];
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
}

/**
 * `tf.AdamOptimizer` whose `applyGradients` runs one fused kernel per variable; everything else
 * (state, serialisation, class name `Adam`) is the stock optimizer's. Needs the active backend to
 * be wasm or cpu (see {@link makeAdam}, which falls back to `tf.train.adam` elsewhere).
 */
export class FusedAdamOptimizer extends tf.AdamOptimizer {
  /** Same arguments and defaults as `tf.train.adam`. */
  constructor(learningRate = 0.001, beta1 = 0.9, beta2 = 0.999, epsilon: number | null = null) {
    registerFusedAdam();
    super(learningRate, beta1, beta2, epsilon ?? undefined);
  }

  /** One Adam step for each variable with a gradient (same maths as `tf.AdamOptimizer`). */
  override applyGradients(
    variableGradients: NamedTensorMap | { name: string; tensor: tf.Tensor }[],
  ): void {
    const s = this as unknown as AdamState;
    const names = Array.isArray(variableGradients)
      ? variableGradients.map((v) => v.name)
      : Object.keys(variableGradients);
    const attrs = {
      beta1: s.beta1,
      beta2: s.beta2,
      epsilon: s.epsilon,
      learningRate: s.learningRate,
    };
    tf.tidy(() => {
      const c1 = tf.sub(1, s.accBeta1), c2 = tf.sub(1, s.accBeta2);
      names.forEach((name, i) => {
        const value = tf.engine().registeredVariables[name];
        if (s.accumulatedFirstMoment[i] == null) {
          s.accumulatedFirstMoment[i] = {
            originalName: `${name}/m`,
            variable: tf.tidy(() => tf.zerosLike(value).variable(false)),
          };
        }
        if (s.accumulatedSecondMoment[i] == null) {
          s.accumulatedSecondMoment[i] = {
            originalName: `${name}/v`,
            variable: tf.tidy(() => tf.zerosLike(value).variable(false)),
          };
        }
        const grad = Array.isArray(variableGradients)
          ? variableGradients[i].tensor
          : variableGradients[name];
        if (grad == null) return;
        const m = s.accumulatedFirstMoment[i].variable, v = s.accumulatedSecondMoment[i].variable;
        const [w1, m1, v1] = tf.engine().runKernel(
          FUSED_ADAM,
          { w: value, g: grad, m, v, c1, c2 },
          attrs as unknown as tf.NamedAttrMap,
        ) as tf.Tensor[];
        m.assign(m1);
        v.assign(v1);
        value.assign(w1);
      });
      s.accBeta1.assign(tf.mul(s.accBeta1, s.beta1));
      s.accBeta2.assign(tf.mul(s.accBeta2, s.beta2));
    });
    this.incrementIterations();
  }

  /**
   * The stock state restore, then `accBeta` as training makes it: TF.js restores it as
   * `pow(beta, iterations + 1)`, which differs in the last bits from the float32 product that
   * one multiplication per step builds, so a run resumed from a checkpoint drifted from an
   * uninterrupted one. Here the product is redone, one float32 multiplication per step (what
   * `tf.mul` computes).
   */
  override async setWeights(weightValues: { name: string; tensor: tf.Tensor }[]): Promise<void> {
    await super.setWeights(weightValues);
    const s = this as unknown as AdamState;
    const b1 = Math.fround(s.beta1), b2 = Math.fround(s.beta2);
    let a1 = b1, a2 = b2;
    for (let i = 0; i < this.iterations_; i++) {
      a1 = Math.fround(a1 * b1);
      a2 = Math.fround(a2 * b2);
    }
    tf.tidy(() => {
      s.accBeta1.assign(tf.scalar(a1));
      s.accBeta2.assign(tf.scalar(a2));
    });
  }
}

/**
 * The Adam optimizer the project trains with: {@link FusedAdamOptimizer} on wasm (with our fast
 * kernels) and cpu, else `tf.train.adam` (other backends, and the wasm "reference" kernel mode,
 * which is the benchmark's stock baseline). Same arguments and defaults as `tf.train.adam`.
 */
export function makeAdam(
  learningRate = 0.001,
  beta1 = 0.9,
  beta2 = 0.999,
  epsilon?: number,
): tf.AdamOptimizer {
  const backend = tf.getBackend();
  const fused = backend === "cpu" || (backend === "wasm" && wasmKernelMode() !== "reference");
  return fused
    ? new FusedAdamOptimizer(learningRate, beta1, beta2, epsilon ?? null)
    : tf.train.adam(learningRate, beta1, beta2, epsilon);
}
