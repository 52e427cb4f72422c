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
import type { ModelSpec, Preprocessing } from "./types.ts";

export type { BuildOptions, ModelSpec, Preprocessing, TrainDefaults } from "./types.ts";

const REGISTRY = new Map<string, ModelSpec>();

/** Adds a model to the registry; a second model with the same name is an error. */
export function registerModel(spec: ModelSpec): void {
  if (REGISTRY.has(spec.name)) {
    throw new Error(`A model named "${spec.name}" is already registered`);
  }
  REGISTRY.set(spec.name, spec);
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
