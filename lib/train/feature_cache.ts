/**
 * The frozen base of a transfer model computed once per image: {@link cacheFrozenBase}.
 * Written here because TF.js layers has no memoisation of a sub-model.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";
import { createHash } from "node:crypto";

/** What {@link cacheFrozenBase} counts: distinct images computed, and lookups answered. */
export interface FeatureCacheStats {
  computed: number;
  reused: number;
}

/** The model's frozen nested model (a transfer model's pretrained base), or null. */
export function frozenBase(model: tfl.LayersModel): tfl.LayersModel | null {
  const base = model.layers.find((l) =>
    "layers" in l && Array.isArray((l as unknown as tfl.LayersModel).layers) && !l.trainable
  );
  return (base as unknown as tfl.LayersModel) ?? null;
}

/**
 * Makes a model's frozen nested base (a transfer model's pretrained trunk: a nested model with
 * `trainable` false, its call pinned to inference mode by lib/models/transfer.ts) compute each
 * distinct input image once: its output is kept, keyed by the SHA-256 of the image's exact input
 * values, and reused on every later epoch and validation pass. Exact: the key is the input
 * itself and a frozen base in inference mode is a fixed function of one image. It saves work only
 * when the same images reach the base again, i.e. when no augmentation or mixup changes them (the
 * caller checks). The base's output has no gradient path to a trainable weight, so the head's
 * training is unchanged. Each batch's input is read back to hash it: meant for the CPU backends.
 * Returns null when the model has no frozen nested base, else counts updated as it runs.
 */
export function cacheFrozenBase(model: tfl.LayersModel): FeatureCacheStats | null {
  const base = frozenBase(model);
  if (!base) return null;
  const stats: FeatureCacheStats = { computed: 0, reused: 0 };
  const cache = new Map<string, Float32Array>();
  let featShape: number[] = [];
  // A nested Sequential returns [tensor], a functional model the tensor: answer as the base does.
  let shape: "array" | "tensor" = "tensor";
  const call = base.call.bind(base);
  base.call = (inputs, kwargs) => {
    if (Array.isArray(inputs) && inputs.length !== 1) return call(inputs, kwargs);
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    const n = x.shape[0] ?? 0;
    if (n === 0 || x.dtype !== "float32") return call(inputs, kwargs);
    const per = x.size / n;
    const data = x.dataSync() as Float32Array;
    const keys: string[] = [];
    const missing: number[] = [];
    const pending = new Set<string>();
    for (let i = 0; i < n; i++) {
      const row = data.subarray(i * per, (i + 1) * per);
      const key = createHash("sha256").update(
        new Uint8Array(row.buffer, row.byteOffset, row.byteLength),
      )
        .digest("base64");
      keys.push(key);
      if (!cache.has(key) && !pending.has(key)) missing.push(i), pending.add(key);
    }
    if (missing.length > 0) {
      const part = missing.length === n ? x : tf.gather(x, missing);
      const got = call(part, kwargs);
      shape = Array.isArray(got) ? "array" : "tensor";
      const out = Array.isArray(got) ? got[0] : got;
      const od = out.dataSync() as Float32Array;
      const size = out.size / missing.length;
      featShape = out.shape.slice(1);
      missing.forEach((i, k) => cache.set(keys[i], od.slice(k * size, (k + 1) * size)));
      if (part !== x) part.dispose();
      out.dispose();
      stats.computed += missing.length;
    }
    stats.reused += n - missing.length;
    const size = cache.get(keys[0])!.length;
    const buf = new Float32Array(n * size);
    keys.forEach((k, i) => buf.set(cache.get(k)!, i * size));
    const y = tf.tensor(buf, [n, ...featShape], "float32");
    return shape === "array" ? [y] : y;
  };
  return stats;
}
