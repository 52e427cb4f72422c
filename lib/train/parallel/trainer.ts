/**
 * Use both cores for training: synchronous data-parallel training over Deno Web Workers, {@link DataParallelTrainer}, and the record of making tfjs' threaded wasm build run.
 *
 * ## Threaded wasm under Deno (investigated first)
 * tfjs-backend-wasm 4.22.0 ships `tfjs-backend-wasm-threaded-simd.wasm` but never uses it under
 * Node or Deno (tfjs issue #3830). What happened on this machine (Deno 2.9.6, 2 cores):
 * - Stock: `env().getAsync("WASM_HAS_MULTITHREAD_SUPPORT")` is false (it returns false whenever
 *   `IS_NODE`, which is true under Deno); `getThreadsCount()` is 1. `setThreadsCount(2)` alone
 *   changes nothing.
 * - Forcing the flag (`env().set("WASM_HAS_MULTITHREAD_SUPPORT", true)`), then
 *   `setBackend("wasm")`: "Initialization of backend wasm failed / TypeError
 *   [ERR_WORKER_PATH]: The worker script or module filename must be an absolute path or a relative
 *   path starting with './' or '../'." (emscripten's Node path replaces the global `Worker` by
 *   `worker_threads.Worker` and hands it the blob: URL tfjs makes for the pthread script).
 * - Starting the pthread workers from a file instead: "SyntaxError: Expected ',', got 'string
 *   literal'" (the shipped source holds raw newlines in string literals; tfjs escapes them before
 *   making its Blob), then "TypeError: Cannot set property location of
 *   #<DedicatedWorkerGlobalScope> which has only a getter", then the main script arrives as a Blob
 *   that `importScripts` cannot read.
 * - With those three patched, the backend starts but `getThreadsCount()` is still 1: the C side
 *   caps the pool at `emscripten_num_logical_cores() / 2` = `os.cpus().length / 2` = 1.
 * - Reporting 4 CPUs while the module instantiates: `getThreadsCount()` = 2, and on an idle
 *   machine a 512x512 matMul went from 7.0 to 3.7 ms (one run, indicative only).
 * - Emscripten `ref`s each pthread worker while it runs and XNNPACK's threads never finish: the
 *   process did not exit at the end of the script until our workers ignored `ref()`.
 * So it *can* be done: {@link enableWasmThreads} (`lib/backend/wasm/threaded.ts`) does exactly that, and a
 * 64x64 cnn_reg trained 3 steps with lib/backend's kernels printed the same losses and weight
 * sums to the last digit on 1 and 2 threads (outputs/h7/thrgrad.ts, not kept). It only speeds up what XNNPACK runs (convolutions, matMul, pooling forward); kernels
 * written in TypeScript on the wasm heap (lib/backend's gradient kernels) stay on one thread.
 * Data-parallel workers split every kernel's work, at the price of one model replica per worker
 * and a gradient exchange per step.
 *
 * ## Measured (cnn_reg 150x150x3, Adam, wasm + lib/backend fast kernels, 2-core machine)
 * `deno run -A bench/parallel_bench.ts --batch B --steps 4 --workers 0,2` and the same with
 * `--workers 0 --wasm-threads 2`, ms per training image, only windows where no other helper's
 * job ran (checked from /proc/stat and from CPU time ~ 1.5-1.8x wall time for the 2-way runs):
 * - batch 8:  1 thread 40.8 / 40.0 (two runs); 2 workers 31.4 / 26.0 (1.30x / 1.54x);
 *   threaded wasm, 2 threads, 30.4 (1.34x, one clean run).
 * - batch 32: 1 thread 44.0; 2 workers 29.4 (1.50x); threaded wasm, 2 threads, 30.8 (1.43x).
 * The 2 workers spend 10-20% more CPU per image than one thread (half-size shards run less
 * efficiently, both replicas apply the Adam step, and the cores share caches and memory).
 * While any other CPU-bound job runs, neither way gains anything: the kernel's autogroup
 * scheduling (`/proc/sys/kernel/sched_autogroup_enabled` = 1) gives each session an equal share
 * regardless of `nice`, so the two threads of this process share about one core between them.
 *
 * ## Data-parallel design
 * - Each worker rebuilds the model from `model.toJSON()` + `model.getWeights()` (so any
 *   `tfl.LayersModel` works; custom layers need their module in `setupModules`).
 * - Per step the batch is cut into contiguous shards, one per worker (uint8 pixels and labels are
 *   transferred, scaled to float in the worker). Each worker computes `mean(loss*w) + reg` on its
 *   shard and the gradient, writes the gradient into its slot of a shared exchange
 *   (`_exchange.ts`), waits there for the others, averages every slot with weights `n_k / N` (so
 *   regularisation is counted once) in f64, in replica order, and applies that float32 average
 *   with its own optimizer; then it sends the loss and outputs, which the main thread averages
 *   the same way. Same bytes + same optimizer state = bit-identical replicas. No gradient
 *   crosses a message and the main thread is off the step's critical path: it only sends shards.
 * - Dropout: each worker's `Math.random` (which TF.js random ops are seeded from) is a generator
 *   seeded by `seed` and the worker index.
 * - Batch-norm moving statistics are updated by each replica on its own shards and averaged over
 *   replicas in {@link DataParallelTrainer.syncTo} (the average of the per-replica moving averages
 *   is the moving average of the per-shard statistics; it misses the between-shard part of the
 *   variance). They do not influence training-mode forward passes.
 * - Augmentation is the caller's job: pass already augmented uint8 pixels.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";
import {
  type BatchStep,
  flatSize,
  localStep,
  type LossName,
  makeOptimizer,
  type OptimizerSpec,
  setLearningRate,
  trainableVariables,
} from "../step.ts";
import {
  DEFAULT_SCALING,
  type PixelScaling,
  pixelsToFloat,
  sampleWeightsFromClasses,
} from "./_input.ts";
import {
  buffersOf,
  fromWire,
  layerClasses,
  namedFromWire,
  type NamedTensor,
  namedToWire,
  type Reply,
  type Request,
  toWire,
  type WireTensor,
} from "./_protocol.ts";
import { GradientExchange } from "./_exchange.ts";
import { Replica } from "./replica.ts";

export { enableWasmThreads } from "../../backend/wasm/threaded.ts";
export type { LossName, OptimizerSpec } from "../step.ts";
export type { PixelScaling } from "./_input.ts";
export type { NamedTensor } from "./_protocol.ts";

/** Options of {@link DataParallelTrainer.create}. */
export interface DataParallelOptions {
  /** The model to train. With `workers: 0` it is trained in place; else it is only copied. */
  model: tfl.LayersModel;
  optimizer: OptimizerSpec;
  loss: LossName;
  /** 0 = train in this thread (no workers); n >= 1 = n worker replicas (2 on a 2-core machine). */
  workers: number;
  /** tf backend of the replicas (default: the active backend of this thread). */
  backend?: string;
  /** Seed of the replicas' dropout randomness (default 0). */
  seed?: number;
  /** uint8 -> float scaling, `x = (u8 * scale - mean) / std` (default: /255). */
  scaling?: PixelScaling;
  /** Module URLs every worker imports before building the model (custom layers, kernels). */
  setupModules?: string[];
  /**
   * Optimizer state to resume from, as `await optimizer.getWeights()` of an optimizer of the
   * same kind that trained this model (order matters, names do not). Default: a fresh optimizer.
   */
  optimizerWeights?: NamedTensor[];
}

/** What {@link DataParallelTrainer.trainBatch} resolves with. */
export interface TrainBatchResult {
  /** Batch loss `mean(loss * weight) + regularisation` (what `trainOnBatch` reports). */
  loss: number;
  /** Model outputs in training mode (dropout on), `n * outputs` values in batch order. */
  outputs: Float32Array;
}

/** Options of {@link DataParallelTrainer.trainBatch}. */
export interface TrainBatchOptions {
  /** Loss weight per class index, as `fit({classWeight})`. */
  classWeights?: Record<number, number>;
  /** Loss weight per sample (takes precedence over classWeights). */
  sampleWeights?: Float32Array;
}

/**
 * Throws when a replica rebuilt a layer with another class than the main model's (a custom layer
 * whose module the workers did not import), naming the first such layer. `main` and `replica`
 * are {@link layerClasses} of each side: the main layer's class must be in the replica's chain.
 */
export function checkLayerClasses(main: string[][], replica: string[][], names: string[]): void {
  const n = Math.max(main.length, replica.length);
  for (let i = 0; i < n; i++) {
    const want = main[i]?.[0], chain = replica[i] ?? [];
    if (want !== undefined && chain.includes(want)) continue;
    throw new Error(
      `DataParallelTrainer: a replica rebuilt layer ${i} (${names[i] ?? "?"}) as ${
        chain[0] ?? "nothing"
      } where the model has ${want ?? "nothing"}: pass the module that registers ` +
        "the model's layer class in setupModules",
    );
  }
}

function shardBounds(n: number, parts: number): [number, number][] {
  const out: [number, number][] = [];
  for (let k = 0; k < parts; k++) {
    out.push([Math.floor((k * n) / parts), Math.floor(((k + 1) * n) / parts)]);
  }
  return out;
}

/**
 * Synchronous data-parallel trainer. Create with {@link DataParallelTrainer.create}, call
 * {@link trainBatch} once per batch, {@link syncTo} before evaluating or saving, and always
 * {@link dispose} (in `finally`) so that no worker outlives the run.
 */
export class DataParallelTrainer {
  private busy: number[] = [];
  private disposed = false;
  /** Steps sent so far (each step's number picks the exchange's slots). */
  private steps = 0;

  private constructor(
    private readonly opts: Required<Omit<DataParallelOptions, "setupModules" | "optimizerWeights">>,
    private readonly replicas: Replica[],
    /** Replicas' backend (the active one for `workers: 0`). */
    readonly backend: string,
    private readonly inputShape: number[],
    private readonly outDim: number,
    private readonly local: { step: BatchStep; optimizer: tf.Optimizer } | null,
    private readonly exchange: GradientExchange | null,
  ) {}

  /** Number of worker replicas (0 = in-process). */
  get workers(): number {
    return this.replicas.length;
  }

  /**
   * Starts `workers` replicas of `opts.model` (each builds it from JSON + weights on `backend`)
   * and resolves when all are ready. Rejects, naming the worker, if one fails to start; the
   * others are then terminated.
   */
  static async create(opts: DataParallelOptions): Promise<DataParallelTrainer> {
    const { model } = opts;
    if (!Number.isInteger(opts.workers) || opts.workers < 0) {
      throw new Error(`DataParallelTrainer: workers must be an integer >= 0, got ${opts.workers}`);
    }
    const inShape = model.inputs[0].shape.slice(1);
    if (model.inputs.length !== 1 || model.outputs.length !== 1 || inShape.some((d) => d == null)) {
      throw new Error(
        `DataParallelTrainer: need one input of fixed shape and one output, got inputs [${inShape}]`,
      );
    }
    const outShape = model.outputs[0].shape;
    const outDim = (outShape[outShape.length - 1] ?? 1) as number;
    const full = {
      model,
      optimizer: opts.optimizer,
      loss: opts.loss,
      workers: opts.workers,
      backend: opts.backend ?? tf.getBackend(),
      seed: opts.seed ?? 0,
      scaling: opts.scaling ?? DEFAULT_SCALING,
    };
    makeOptimizer(opts.optimizer).dispose(); // validates the spec here rather than in each worker
    if (opts.workers === 0) {
      const optimizer = makeOptimizer(opts.optimizer);
      const local = { step: localStep(model, optimizer, opts.loss), optimizer };
      if (opts.optimizerWeights) await local.optimizer.setWeights(opts.optimizerWeights);
      return new DataParallelTrainer(
        full,
        [],
        tf.getBackend(),
        inShape as number[],
        outDim,
        local,
        null,
      );
    }
    const topology = model.toJSON(null, false);
    const exchange = GradientExchange.create(opts.workers, flatSize(trainableVariables(model)));
    const optWire = opts.optimizerWeights ? namedToWire(opts.optimizerWeights) : null;
    const replicas: Replica[] = [];
    try {
      const ready: Promise<Reply>[] = [];
      for (let index = 0; index < opts.workers; index++) {
        const r = new Replica(index);
        replicas.push(r);
        const weights = toWire(model.getWeights());
        const req: Request = {
          type: "init",
          id: 0,
          index,
          topology,
          weights,
          optimizer: opts.optimizer,
          loss: opts.loss,
          backend: full.backend,
          seed: full.seed,
          scaling: full.scaling,
          setupModules: opts.setupModules ?? [],
          optimizerWeights: optWire, // cloned (not transferred): every worker gets a copy
          exchange: exchange.buffer,
          replicas: opts.workers,
        };
        ready.push(r.request(req, buffersOf(weights)));
      }
      const replies = await Promise.all(ready);
      const backends = new Set(
        replies.map((r) => (r as Extract<Reply, { type: "ready" }>).backend),
      );
      const backend = [...backends].join(",");
      if (backends.size !== 1) {
        throw new Error(`DataParallelTrainer: replicas run different backends: ${backend}`);
      }
      checkLayerClasses(
        layerClasses(model),
        (replies[0] as Extract<Reply, { type: "ready" }>).layerClasses,
        model.layers.map((l) => l.name),
      );
      return new DataParallelTrainer(
        full,
        replicas,
        backend,
        inShape as number[],
        outDim,
        null,
        exchange,
      );
    } catch (e) {
      exchange.abort();
      await Promise.all(replicas.map((r) => r.close()));
      throw e;
    }
  }

  /**
   * One synchronous step on the batch `x`, `n * H * W * C` values, HWC per image: raw uint8
   * pixels (scaled with `scaling` in the workers) or a Float32Array already preprocessed (e.g.
   * augmented and normalised by the caller). `y`: `n * outputs` targets. Resolves once every
   * replica has applied the step's update, with the batch loss and the training-mode outputs.
   * Calls may overlap (the next batch sent before this one resolves): each replica runs its
   * steps in the order they were sent. `x`, `y` are copied, never detached.
   */
  async trainBatch(
    x: Uint8Array | Float32Array,
    y: Float32Array,
    n: number,
    opts: TrainBatchOptions = {},
  ): Promise<TrainBatchResult> {
    this.assertOpen();
    const per = this.inputShape.reduce((a, b) => a * b, 1);
    if (!Number.isInteger(n) || n < 1) {
      throw new Error(`DataParallelTrainer.trainBatch: n must be >= 1, got ${n}`);
    }
    if (x.length !== n * per) {
      throw new Error(
        `DataParallelTrainer.trainBatch: x has ${x.length} values, expected ${n} x [${this.inputShape}] = ${
          n * per
        }`,
      );
    }
    if (y.length !== n * this.outDim) {
      throw new Error(
        `DataParallelTrainer.trainBatch: y has ${y.length} values, expected ${n} x ${this.outDim}`,
      );
    }
    const sw = opts.sampleWeights ??
      (opts.classWeights ? sampleWeightsFromClasses(y, n, this.outDim, opts.classWeights) : null);
    if (sw && sw.length !== n) {
      throw new Error(
        `DataParallelTrainer.trainBatch: ${sw.length} sample weights for ${n} samples`,
      );
    }
    if (this.local) return this.stepInProcess(x, y, n, sw);

    const bounds = shardBounds(n, this.replicas.length);
    const weights = bounds.map(([a, b]) => (b - a) / n);
    const seq = this.steps++;
    const jobs = bounds.map(([a, b], k) => {
      // An empty shard (fewer samples than workers): that replica only exchanges and updates.
      const xs = x.slice(a * per, b * per), ys = y.slice(a * this.outDim, b * this.outDim);
      const ws = sw ? sw.slice(a, b) : null;
      const transfer: Transferable[] = [xs.buffer, ys.buffer, ...(ws ? [ws.buffer] : [])];
      return this.replicas[k].request(
        { type: "step", id: 0, seq, x: xs, y: ys, sampleWeights: ws, n: b - a, weights },
        transfer,
      );
    });
    let replies: Extract<Reply, { type: "stepped" }>[];
    try {
      replies = (await Promise.all(jobs)) as Extract<Reply, { type: "stepped" }>[];
    } catch (e) {
      // A replica that died cannot arrive at the barrier: release the others.
      this.exchange!.abort();
      throw e;
    }
    replies.forEach((r, i) => (this.busy[i] = r.busyMs));
    const outputs = new Float32Array(n * this.outDim);
    let loss = 0, at = 0;
    replies.forEach((r, i) => {
      loss += weights[i] * r.loss;
      outputs.set(r.outputs, at);
      at += r.outputs.length;
    });
    return { loss, outputs };
  }

  private async stepInProcess(
    x: Uint8Array | Float32Array,
    y: Float32Array,
    n: number,
    sw: Float32Array | null,
  ): Promise<TrainBatchResult> {
    const xf = pixelsToFloat(x, n, this.inputShape, this.opts.scaling);
    return await this.local!.step(xf, y, n, sw ?? new Float32Array(n).fill(1));
  }

  /**
   * Reseeds every replica's dropout randomness from `seed` (and its index), e.g. once per epoch,
   * so that a run resumed at an epoch boundary draws the same masks as an uninterrupted one. The
   * in-process trainer draws from this thread's `Math.random`, which the caller seeds.
   */
  async reseed(seed: number): Promise<void> {
    this.assertOpen();
    if (this.local) return;
    await Promise.all(this.replicas.map((r) => r.request({ type: "seed", id: 0, seed })));
  }

  /** Sets the learning rate of every replica's optimizer (or of the in-process one). */
  async setLearningRate(lr: number): Promise<void> {
    this.assertOpen();
    if (this.local) return setLearningRate(this.local.optimizer, lr);
    await Promise.all(
      this.replicas.map((r) => r.request({ type: "setLearningRate", id: 0, learningRate: lr })),
    );
  }

  /**
   * Copies the trained weights into `model` (same architecture as the one given to `create`):
   * trainable weights from replica 0 after checking that every replica holds the very same bits
   * (throws naming the replica otherwise), non-trainable ones (batch-norm moving statistics)
   * averaged over replicas.
   */
  async syncTo(model: tfl.LayersModel): Promise<void> {
    this.assertOpen();
    if (this.local) {
      if (model !== this.opts.model) {
        const ws = this.opts.model.getWeights();
        model.setWeights(ws);
      }
      return;
    }
    const replies = (await Promise.all(
      this.replicas.map((r) => r.request({ type: "getWeights", id: 0 })),
    )) as Extract<
      Reply,
      { type: "weights" }
    >[];
    const lists: WireTensor[][] = replies.map((r) => r.weights);
    if (lists[0].length !== model.weights.length) {
      throw new Error(
        `DataParallelTrainer.syncTo: model has ${model.weights.length} weights, replicas ${
          lists[0].length
        }`,
      );
    }
    const merged = lists[0].map((w0, i) => {
      if (model.weights[i].trainable) {
        // Replicas apply the same bytes with the same optimizer: any difference is a bug.
        lists.forEach((l, k) => {
          if (!l[i].data.every((v, j) => Object.is(v, w0.data[j]))) {
            throw new Error(
              `DataParallelTrainer.syncTo: replica ${k} diverged from replica 0 in weight ${i} ` +
                `(${model.weights[i].name})`,
            );
          }
        });
        return w0;
      }
      if (w0.dtype !== "float32" || lists.length === 1) return w0;
      const avg = new Float32Array(w0.data.length);
      for (const l of lists) {
        for (let j = 0; j < avg.length; j++) avg[j] += l[i].data[j] / lists.length;
      }
      return { ...w0, data: avg };
    });
    const ts = fromWire(merged);
    try {
      model.setWeights(ts);
    } finally {
      tf.dispose(ts);
    }
  }

  /**
   * The optimizer state (`optimizer.getWeights()` of replica 0, or of the in-process optimizer),
   * e.g. for a checkpoint; pass it back as `optimizerWeights` to resume. The caller disposes the
   * tensors.
   */
  async optimizerWeights(): Promise<NamedTensor[]> {
    this.assertOpen();
    if (this.local) {
      return (await this.local.optimizer.getWeights()).map((w) => ({
        name: w.name,
        tensor: w.tensor.clone(),
      }));
    }
    const r = await this.replicas[0].request({ type: "getOptimizerWeights", id: 0 });
    return namedFromWire((r as Extract<Reply, { type: "optimizerWeights" }>).weights);
  }

  /**
   * Per worker, milliseconds spent computing (gradients, updates, set-up) up to its last
   * gradient, for utilisation figures; empty for `workers: 0`.
   */
  workerBusyMs(): number[] {
    return this.busy.slice();
  }

  /** Stops every worker (politely, then `terminate()`); safe to call twice. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.exchange?.abort(); // a worker still waiting at the barrier stops waiting
    if (this.local) this.local.optimizer.dispose();
    await Promise.all(this.replicas.map((r) => r.close()));
  }

  /**
   * Test hook: makes worker `index` throw inside a handler ("now"), outside any ("uncaught"), or
   * in its next step's gradient ("step").
   */
  async injectFailure(index: number, where: "now" | "uncaught" | "step"): Promise<void> {
    await this.replicas[index].request({ type: "fail", id: 0, where });
  }

  private assertOpen(): void {
    if (this.disposed) throw new Error("DataParallelTrainer: used after dispose()");
  }
}
