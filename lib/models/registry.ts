/**
 * The model registry (timm-style): build any model by name, list them, register new ones.
 *
 * @example
 * ```ts
 * import { createModel, listModels } from "./registry.ts";
 * console.log(listModels().map((m) => m.name));
 * const model = await createModel("compact", { size: 64, seed: 1 });
 * ```
 * @module
 */
import type * as tfl from "@tensorflow/tfjs-layers";
import { cnn } from "./cnn.ts";
import { cnnReg } from "./cnn_reg.ts";
import { compact } from "./compact.ts";
import { denseBaseline } from "./dense_baseline.ts";
import { finetune } from "./finetune.ts";
import { transfer } from "./transfer.ts";
import { architectureTable } from "./describe.ts";
import type { ModelSpec, Preprocessing } from "./types.ts";

export type { BuildOptions, ModelSpec, Preprocessing, TrainDefaults } from "./types.ts";

const REGISTRY = new Map<string, ModelSpec>();

/**
 * Adds a model to the registry, replacing any model of the same name, so that a notebook cell
 * that registers an edited architecture can be run again. Returns the spec.
 */
export function registerModel(spec: ModelSpec): ModelSpec {
  if (!spec?.name || typeof spec.build !== "function") {
    throw new Error("registerModel expects a ModelSpec with a name and a build() function");
  }
  REGISTRY.set(spec.name, spec);
  return spec;
}

for (const spec of [denseBaseline, cnn, cnnReg, transfer, compact, finetune]) registerModel(spec);

/** The registered models with their default input. */
export function listModels(): {
  name: string;
  description: string;
  defaultSize: number;
  channels: 1 | 3;
}[] {
  return [...REGISTRY.values()].map(({ name, description, defaultSize, channels }) => ({
    name,
    description,
    defaultSize,
    channels,
  }));
}

/** The registry entry for `name`; an unknown name is an error listing the known ones. */
export function getModelSpec(name: string): ModelSpec {
  const spec = REGISTRY.get(name);
  if (!spec) {
    throw new Error(`Unknown model "${name}"; known models: ${[...REGISTRY.keys()].join(", ")}`);
  }
  return spec;
}

/**
 * The preprocessing a model built with these options expects: pixels scaled to [0, 1] unless
 * `scaling` says otherwise (a pretrained base brings its own, e.g. [-1, 1] for MobileNetV2).
 */
export function preprocessingFor(
  name: string,
  opts: {
    size?: number;
    channels?: 1 | 3;
    scaling?: { scale: number; mean: number; std: number } | null;
  } = {},
): Preprocessing {
  const spec = getModelSpec(name);
  const { scale, mean, std } = opts.scaling ?? { scale: 1 / 255, mean: 0, std: 1 };
  return {
    size: opts.size ?? spec.defaultSize,
    channels: opts.channels ?? spec.channels,
    scale,
    mean,
    std,
  };
}

/**
 * Builds a fresh model by name (async: `transfer` reads its base from disk). Defaults: the
 * model's own size and channels, seed 0, 2 classes. A size below what the architecture can pool
 * down is an error that names the minimum.
 */
export async function createModel(
  name: string,
  opts: { size?: number; channels?: 1 | 3; seed?: number; basePath?: string; classes?: 2 | 3 } = {},
): Promise<tfl.LayersModel> {
  const spec = getModelSpec(name);
  const size = opts.size ?? spec.defaultSize;
  if (!Number.isInteger(size) || size < spec.minSize) {
    throw new Error(`Model "${name}" needs an integer input size >= ${spec.minSize}, got ${size}`);
  }
  return await spec.build({
    size,
    channels: opts.channels ?? spec.channels,
    seed: opts.seed ?? 0,
    classes: opts.classes ?? 2,
    basePath: opts.basePath,
  });
}

/**
 * The layer table (name, type, output shape, parameters) of the registered model `name` built
 * for `inputShape` ([size, size, channels]; default the model's own), as HTML. `basePath` is the
 * frozen base of `transfer`.
 */
export async function describeModel(
  name: string,
  inputShape?: [number, number, number],
  opts: { basePath?: string; seed?: number } = {},
): Promise<string> {
  const spec = getModelSpec(name);
  const size = inputShape?.[0] ?? spec.defaultSize;
  const channels = (inputShape?.[2] ?? spec.channels) as 1 | 3;
  if (channels !== 1 && channels !== 3) {
    throw new Error(`describeModel("${name}"): channels must be 1 or 3, got ${inputShape?.[2]}`);
  }
  const model = await createModel(name, {
    size,
    channels,
    seed: opts.seed,
    basePath: opts.basePath,
  });
  try {
    return architectureTable(model, `${name} (${size}x${size}x${channels}): ${spec.description}`);
  } finally {
    model.dispose();
  }
}
