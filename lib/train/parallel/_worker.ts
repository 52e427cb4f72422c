/**
 * A data-parallel training replica, run as a Deno Web Worker by `DataParallelTrainer`
 * (`trainer.ts`). It rebuilds the model from its JSON topology and weights, computes loss and
 * gradients on the shards it is sent, exchanges gradients with the other replicas through shared
 * memory (`_exchange.ts`) and applies their average with its own optimizer (every replica applies
 * the same bytes, so all stay bit-identical). Loss, gradient and optimizer are the ones of the
 * in-process step (`../step.ts`).
 *
 * Dropout draws from `Math.random` (TF.js seeds its random ops from it), which is replaced here by
 * a generator seeded with the trainer's seed and this worker's index, and reseeded the same way
 * from the seed of each epoch (`DataParallelTrainer.reseed`), so that a resumed run draws what an
 * uninterrupted one would.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { makeRng } from "../../util/rng.ts";
// The project's layer classes, which replace TF.js' stock ones under the same serialised names
// ("Conv2D", "Dropout"): a replica rebuilt from JSON must get them too, or it trains the slow
// stock layers (three ops per convolution, dropout noise drawn in a JavaScript loop). The trainer
// checks that every rebuilt layer has the main model's class (layerClasses).
import "../../models/conv.ts";
import "../../models/dropout.ts";
import {
  applyFlatGradients,
  flatSize,
  type LossName,
  makeOptimizer,
  setLearningRate,
  shardGradients,
  trainableVariables,
} from "../step.ts";
import { type PixelScaling, pixelsToTensor } from "./_input.ts";
import { GradientExchange } from "./_exchange.ts";
import {
  buffersOf,
  fromWire,
  initReplicaBackend,
  layerClasses,
  namedFromWire,
  namedToWire,
  type Reply,
  type Request,
  toWire,
} from "./_protocol.ts";

interface State {
  model: tfl.LayersModel;
  vars: tf.Variable[];
  optimizer: tf.Optimizer;
  index: number;
  exchange: GradientExchange;
  /** The averaged gradient of a step (reused). */
  average: Float32Array;
  loss: LossName;
  scaling: PixelScaling;
  inputShape: number[];
  outDim: number;
}

const scope = globalThis as unknown as {
  postMessage(msg: Reply, transfer?: Transferable[]): void;
  onmessage: ((e: MessageEvent<Request>) => void) | null;
  close(): void;
};
let state: State | null = null;
/** Milliseconds spent handling requests so far (reported with each gradient, for benchmarks). */
let busyMs = 0;
let queue: Promise<void> = Promise.resolve();
/** Test hook ("fail" with where "step"): the next step's gradient throws. */
let failNextStep = false;

function reply(msg: Reply, transfer: Transferable[] = []): void {
  scope.postMessage(msg, transfer);
}

/** Dropout's randomness (`Math.random`): a generator of `seed` and this worker's index. */
function reseed(seed: number, index: number): void {
  Math.random = makeRng((seed * 7919 + index * 104729 + 1) >>> 0);
}

async function init(req: Extract<Request, { type: "init" }>): Promise<void> {
  reseed(req.seed, req.index);
  for (const m of req.setupModules) await import(m);
  const backend = await initReplicaBackend(req.backend);
  const model = await tfl.models.modelFromJSON({
    modelTopology: req.topology as tf.io.ModelJSON["modelTopology"],
  });
  const weights = fromWire(req.weights);
  if (weights.length !== model.weights.length) {
    throw new Error(
      `model rebuilt from JSON has ${model.weights.length} weights, main sent ${weights.length}`,
    );
  }
  model.setWeights(weights);
  tf.dispose(weights);
  const vars = trainableVariables(model);
  const inShape = model.inputs[0].shape.slice(1);
  if (inShape.some((d) => d == null)) {
    throw new Error(`model input shape must be fixed, got [${inShape}]`);
  }
  const outShape = model.outputs[0].shape;
  const optimizer = makeOptimizer(req.optimizer);
  if (req.optimizerWeights) {
    const named = namedFromWire(req.optimizerWeights);
    await optimizer.setWeights(named);
    tf.dispose(named.map((n) => n.tensor));
  }
  const size = flatSize(vars);
  state = {
    model,
    vars,
    optimizer,
    index: req.index,
    exchange: GradientExchange.attach(req.exchange, req.replicas, size),
    average: new Float32Array(size),
    loss: req.loss,
    scaling: req.scaling,
    inputShape: inShape as number[],
    outDim: (outShape[outShape.length - 1] ?? 1) as number,
  };
  reply({
    type: "ready",
    id: req.id,
    backend,
    trainable: vars.length,
    flatSize: flatSize(vars),
    layerClasses: layerClasses(model),
  });
}

function need(): State {
  if (!state) throw new Error("not initialised (init must come first)");
  return state;
}

/**
 * One step (see the "step" request): this shard's gradient into the exchange, the barrier, then
 * the update with the average of every replica's gradient, the same bits in every replica.
 */
function step(s: State, req: Extract<Request, { type: "step" }>): void {
  const parity = req.seq & 1;
  let loss = 0, outputs: Float32Array = new Float32Array(0);
  let failure: unknown = null;
  if (failNextStep) {
    failNextStep = false;
    failure = new Error("injected failure in a step");
  } else if (req.n > 0) {
    const inputs: tf.Tensor[] = [];
    try {
      const x = pixelsToTensor(req.x, req.n, s.inputShape, s.scaling);
      inputs.push(x);
      const y = tf.tensor(req.y, [req.n, s.outDim], "float32");
      inputs.push(y);
      const w = req.sampleWeights ? tf.tensor1d(req.sampleWeights, "float32") : null;
      if (w) inputs.push(w);
      const r = shardGradients(s.model, s.vars, x, y, w, s.loss);
      s.exchange.slot(parity, s.index).set(r.grads);
      loss = r.loss;
      outputs = r.outputs;
    } catch (e) {
      failure = e; // a bad shard too: the other replicas must not wait at the barrier for ever
    } finally {
      tf.dispose(inputs);
    }
  }
  if (failure !== null) {
    // Arrive all the same, so that the other replicas stop at the barrier instead of waiting.
    try {
      s.exchange.arrive(s.index, true);
    } catch { /* every replica throws after this barrier; this one throws its own error */ }
    throw failure;
  }
  s.exchange.arrive(s.index);
  s.exchange.average(parity, req.weights, s.average);
  applyFlatGradients(s.optimizer, s.vars, s.average);
  reply({ type: "stepped", id: req.id, loss, outputs, busyMs }, [outputs.buffer]);
}

async function handle(req: Request): Promise<void> {
  switch (req.type) {
    case "init":
      return await init(req);
    case "step":
      return step(need(), req);
    case "seed": {
      reseed(req.seed, need().index);
      return reply({ type: "applied", id: req.id });
    }
    case "setLearningRate": {
      setLearningRate(need().optimizer, req.learningRate);
      return reply({ type: "applied", id: req.id });
    }
    case "getWeights": {
      const ws = toWire(need().model.getWeights());
      return reply({ type: "weights", id: req.id, weights: ws }, buffersOf(ws));
    }
    case "getOptimizerWeights": {
      const ws = namedToWire(await need().optimizer.getWeights());
      return reply(
        { type: "optimizerWeights", id: req.id, weights: ws },
        buffersOf(ws.map((w) => w.tensor)),
      );
    }
    case "close": {
      if (state) {
        state.optimizer.dispose();
        state.model.dispose();
        state = null;
      }
      reply({ type: "closed", id: req.id });
      return scope.close();
    }
    case "fail": // test hook: an error thrown in a handler, in a step, or one nobody catches
      if (req.where === "step") {
        failNextStep = true;
        return reply({ type: "applied", id: req.id });
      }
      if (req.where === "uncaught") {
        setTimeout(() => {
          throw new Error("injected uncaught failure");
        }, 0);
      } else throw new Error("injected failure");
      return;
  }
}

scope.onmessage = (e: MessageEvent<Request>) => {
  const req = e.data;
  queue = queue.then(async () => {
    const t0 = performance.now();
    try {
      await handle(req);
    } finally {
      busyMs += performance.now() - t0;
    }
  }).catch((err: unknown) => {
    const error = err instanceof Error ? err : new Error(String(err));
    reply({
      type: "error",
      id: req.id,
      message: `${req.type}: ${error.message}`,
      stack: error.stack,
    });
  });
};
