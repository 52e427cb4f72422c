/**
 * Messages between `DataParallelTrainer` (`trainer.ts`, main thread) and its workers
 * (`_worker.ts`), plus the backend set-up both sides share. Every request has an `id`; the
 * worker answers each with a reply of the same `id` (or an `error`), in order.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { LossName, OptimizerSpec } from "../step.ts";
import type { PixelScaling } from "./_input.ts";

/** A weight tensor in transit: its values, shape and dtype. */
export interface WireTensor {
  data: Float32Array | Int32Array;
  shape: number[];
  dtype: "float32" | "int32";
}

/** A tensor with a name, as `tf.Optimizer.getWeights()` returns them. */
export interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

/** A named tensor in transit (optimizer state). */
export interface NamedWire {
  name: string;
  tensor: WireTensor;
}

/** Main -> worker. */
export type Request =
  | {
    type: "init";
    id: number;
    index: number;
    topology: unknown;
    weights: WireTensor[];
    optimizer: OptimizerSpec;
    loss: LossName;
    backend: string;
    seed: number;
    scaling: PixelScaling;
    setupModules: string[];
    /** Optimizer state to start from (`optimizer.getWeights()` order), or null for a fresh one. */
    optimizerWeights: NamedWire[] | null;
    /** The gradient exchange's memory (`_exchange.ts`) and its number of replicas. */
    exchange: SharedArrayBuffer;
    replicas: number;
  }
  | {
    /**
     * One training step: the gradient on this shard (none when `n` is 0), the exchange, the
     * update with the average of all replicas' gradients weighted by `weights`.
     */
    type: "step";
    id: number;
    /** The step's number, from 0 (its parity picks the exchange's slots). */
    seq: number;
    x: Uint8Array | Float32Array;
    y: Float32Array;
    sampleWeights: Float32Array | null;
    n: number;
    /** Each replica's share of the batch (n_k / N), the same list for every replica. */
    weights: number[];
  }
  | { type: "setLearningRate"; id: number; learningRate: number }
  /** Reseeds the worker's `Math.random` (dropout) from `seed` and its index. */
  | { type: "seed"; id: number; seed: number }
  | { type: "getWeights"; id: number }
  | { type: "getOptimizerWeights"; id: number }
  | { type: "close"; id: number }
  /** Test hook: throw now, outside any handler, or in this replica's next step's gradient. */
  | { type: "fail"; id: number; where: "now" | "uncaught" | "step" };

/** Worker -> main. */
export type Reply =
  | {
    type: "ready";
    id: number;
    backend: string;
    trainable: number;
    flatSize: number;
    /** The rebuilt model's layer classes ({@link layerClasses}). */
    layerClasses: string[][];
  }
  | {
    type: "stepped";
    id: number;
    /** The loss on this replica's shard (0 for an empty shard). */
    loss: number;
    outputs: Float32Array;
    /** The worker's busy time so far, up to (not including) this step's request. */
    busyMs: number;
  }
  | { type: "applied"; id: number }
  | { type: "weights"; id: number; weights: WireTensor[] }
  | { type: "optimizerWeights"; id: number; weights: NamedWire[] }
  | { type: "closed"; id: number }
  | { type: "error"; id: number; message: string; stack?: string };

/**
 * The classes of each layer of `model`: its constructor's name, then its base classes' (e.g.
 * `["FastConv2D", "Conv2D", "Conv", "Layer", ...]`). A replica rebuilt from JSON must have each
 * main-thread layer's class in its own chain, or it computes with other layers (TF.js' stock
 * Conv2D where the project's fused one was meant); a replica may have a subclass of the main's
 * (the project's fused layer for a stock one: the same values).
 */
export function layerClasses(model: { layers: object[] }): string[][] {
  return model.layers.map((l) => {
    const chain: string[] = [];
    for (
      let p = Object.getPrototypeOf(l);
      p && p !== Object.prototype;
      p = Object.getPrototypeOf(p)
    ) {
      chain.push(p.constructor.name);
    }
    return chain;
  });
}

/** Copies tensors into transferable wire form (one copy; the buffers can then be transferred). */
export function toWire(tensors: tf.Tensor[]): WireTensor[] {
  return tensors.map((t) => {
    if (t.dtype !== "float32" && t.dtype !== "int32") {
      throw new Error(`parallel: weights must be float32 or int32, got ${t.dtype} [${t.shape}]`);
    }
    const src = t.dataSync() as Float32Array | Int32Array;
    const data = t.dtype === "float32" ? new Float32Array(src) : new Int32Array(src);
    return { data, shape: t.shape.slice(), dtype: t.dtype };
  });
}

/** Tensors from wire form (the caller disposes them). */
export function fromWire(ws: WireTensor[]): tf.Tensor[] {
  return ws.map((w) => tf.tensor(w.data, w.shape, w.dtype));
}

/** Named tensors (e.g. `await optimizer.getWeights()`) in wire form. */
export function namedToWire(ns: NamedTensor[]): NamedWire[] {
  const ws = toWire(ns.map((n) => n.tensor));
  return ns.map((n, i) => ({ name: n.name, tensor: ws[i] }));
}

/** Named tensors from wire form (the caller disposes them). */
export function namedFromWire(ns: NamedWire[]): NamedTensor[] {
  const ts = fromWire(ns.map((n) => n.tensor));
  return ns.map((n, i) => ({ name: n.name, tensor: ts[i] }));
}

/** The ArrayBuffers of wire tensors, for the transfer list of `postMessage`. */
export function buffersOf(ws: WireTensor[]): ArrayBuffer[] {
  return ws.map((w) => w.data.buffer as ArrayBuffer);
}

// Held in a variable so that type checking does not require lib/backend/select.ts to exist.
const SELECT_MODULE = "../../backend/select.ts";

/**
 * Makes `name` the active tf backend in this thread. Goes through lib/backend's `initBackend`
 * when that module exists (it registers the fast wasm gradient kernels), then insists on exactly
 * `name` so that every replica computes with the same kernels as the others.
 */
export async function initReplicaBackend(name: string): Promise<string> {
  let select:
    | { initBackend?: (o: { prefer?: string; threads?: number }) => Promise<unknown> }
    | null = null;
  try {
    select = await import(new URL(SELECT_MODULE, import.meta.url).href);
  } catch (e) {
    const msg = String((e as Error)?.message ?? e);
    if (!/Module not found|Cannot find module|No such file/i.test(msg)) throw e;
  }
  // initBackend names tfjs-node "tfjs-node"; tf (and so the main thread's default) "tensorflow".
  if (select?.initBackend) {
    // One thread per replica: the replicas are the parallel part (lib/train/parallel/mod.ts).
    await select.initBackend({ prefer: name === "tensorflow" ? "tfjs-node" : name, threads: 1 });
  }
  if (tf.getBackend() !== name) {
    if (name === "wasm") await import("@tensorflow/tfjs-backend-wasm");
    else if (name === "cpu") await import("@tensorflow/tfjs-backend-cpu");
    if (!(await tf.setBackend(name))) {
      throw new Error(`parallel: could not set tf backend ${JSON.stringify(name)} in a worker`);
    }
  }
  await tf.ready();
  return tf.getBackend();
}
