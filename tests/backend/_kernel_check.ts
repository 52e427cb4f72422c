/**
 * Shared by the wasm kernel tests: seeded inputs, running one kernel on the current backend, and
 * the normwise relative error they are judged by.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { makeRng, randNormal } from "../../lib/util/rng.ts";

/** A tensor's shape and data, independent of any backend. */
export type Arr = { shape: number[]; data: Float32Array };

/** Seeded standard-normal values of `shape`. */
export function rand(shape: number[], seed: number): Arr {
  const rng = makeRng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return { shape, data: Float32Array.from({ length: n }, () => randNormal(rng)) };
}

/** Runs one kernel on the current backend with fresh tensors; returns its output data. */
export function run(kernel: string, inputs: Record<string, Arr>, attrs: object): Arr {
  const ts: Record<string, tf.Tensor> = {};
  for (const [k, v] of Object.entries(inputs)) ts[k] = tf.tensor(v.data, v.shape);
  const out = tf.engine().runKernel(kernel, ts as never, attrs as never) as tf.Tensor;
  const res = { shape: out.shape, data: out.dataSync() as Float32Array };
  tf.dispose([out, ...Object.values(ts)]);
  return res;
}

/** max |a - b| over max |b| (normwise relative error). */
export function relErr(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let diff = 0, scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / Math.max(scale, 1e-12);
}
