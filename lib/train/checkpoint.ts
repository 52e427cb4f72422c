/**
 * Per-epoch checkpoints: model weights (trainable and batch-norm statistics), optimizer state
 * and the trainer's state, so `--resume` continues exactly where an interrupted run stopped.
 *
 * Weights are stored by position, not by name: TF.js names variables with a per-process counter,
 * so a model rebuilt in another process (or later in the same one) gets other names.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";
import { join } from "node:path";
import { readJson, writeFileAtomic, writeJsonAtomic } from "../util/atomic.ts";

type NamedTensor = { name: string; tensor: tf.Tensor };

interface StoredTensors {
  names: string[];
  specs: tf.io.WeightsManifestEntry[];
}

async function encode(named: NamedTensor[], file: string): Promise<StoredTensors> {
  const renamed = named.map((t, i) => ({ name: `t${i}`, tensor: t.tensor }));
  const { data, specs } = await tf.io.encodeWeights(renamed);
  await writeFileAtomic(file, new Uint8Array(tf.io.concatenateArrayBuffers(data)));
  return { names: named.map((t) => t.name), specs };
}

async function decode(stored: StoredTensors, file: string): Promise<NamedTensor[]> {
  const bytes = await Deno.readFile(file);
  const buf = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  const map = tf.io.decodeWeights(buf, stored.specs);
  return stored.names.map((name, i) => ({ name, tensor: map[`t${i}`] }));
}

/**
 * JSON has no NaN or infinities (JSON.stringify writes null): the trainer's state holds both (a
 * metric undefined for an epoch, e.g. precision with no positive prediction; the best score before
 * any epoch). They are stored as {"$number": "NaN" | "Infinity" | "-Infinity"} and restored.
 */
export function encodeNonFinite(v: unknown): unknown {
  if (typeof v === "number") return Number.isFinite(v) ? v : { $number: String(v) };
  if (Array.isArray(v)) return v.map(encodeNonFinite);
  if (v && typeof v === "object") {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, encodeNonFinite(x)]));
  }
  return v;
}

/** The inverse of {@link encodeNonFinite}. */
export function decodeNonFinite(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(decodeNonFinite);
  if (v && typeof v === "object") {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 1 && keys[0] === "$number" && typeof o.$number === "string") {
      return Number(o.$number);
    }
    return Object.fromEntries(keys.map((k) => [k, decodeNonFinite(o[k])]));
  }
  return v;
}

/**
 * Writes a checkpoint into `dir` (files written atomically; state.json last marks it whole).
 * `extra`: more tensors the trainer keeps across epochs (a weight average), read back with
 * {@link loadCheckpointExtra}.
 */
export async function saveCheckpoint<S>(
  dir: string,
  model: tfl.LayersModel,
  optimizer: { getWeights(): Promise<NamedTensor[]> },
  state: S,
  extra: tf.Tensor[] = [],
): Promise<void> {
  const extraStored = extra.length > 0
    ? await encode(extra.map((tensor, i) => ({ name: `x${i}`, tensor })), join(dir, "extra.bin"))
    : null;
  const weights = await encode(
    model.weights.map((w) => ({ name: w.originalName, tensor: w.read() })),
    join(dir, "weights.bin"),
  );
  const optNamed = await optimizer.getWeights();
  const opt = await encode(optNamed, join(dir, "optimizer.bin"));
  // getWeights returns the optimizer's variables plus a fresh scalar for the iteration count.
  for (const t of optNamed) if (!(t.tensor instanceof tf.Variable)) t.tensor.dispose();
  await writeJsonAtomic(join(dir, "state.json"), {
    weights,
    optimizer: opt,
    ...(extraStored ? { extra: extraStored } : {}),
    state: encodeNonFinite(state),
  });
}

/** Restores a checkpoint into `model` and `optimizer`; null when `dir` holds none. */
export async function loadCheckpoint<S>(
  dir: string,
  model: tfl.LayersModel,
  optimizer: tf.Optimizer,
): Promise<S | null> {
  const statePath = join(dir, "state.json");
  try {
    await Deno.stat(statePath);
  } catch {
    return null;
  }
  const rec = await readJson<{ weights: StoredTensors; optimizer: StoredTensors; state: S }>(
    statePath,
  );
  const weights = await decode(rec.weights, join(dir, "weights.bin"));
  if (weights.length !== model.weights.length) {
    throw new Error(
      `Checkpoint ${dir} holds ${weights.length} weight tensors but the model has ` +
        `${model.weights.length}; was the run's config changed?`,
    );
  }
  model.setWeights(weights.map((w) => w.tensor));
  weights.forEach((w) => w.tensor.dispose());
  const opt = await decode(rec.optimizer, join(dir, "optimizer.bin"));
  if (opt.length > 0) await optimizer.setWeights(opt);
  return decodeNonFinite(rec.state) as S;
}

/** The `extra` tensors of the checkpoint in `dir` (empty when it has none or there is none). */
export async function loadCheckpointExtra(dir: string): Promise<tf.Tensor[]> {
  const rec = await readJson<{ extra?: StoredTensors }>(join(dir, "state.json")).catch(() => null);
  if (!rec?.extra) return [];
  return (await decode(rec.extra, join(dir, "extra.bin"))).map((t) => t.tensor);
}
