/**
 * `finetune`: a pretrained convolutional base whose top blocks train with a small head (global
 * average pooling is the base's own last layer, then dropout 0.3 and a sigmoid), where
 * `transfer` keeps the whole base frozen.
 *
 * The base is a local TF.js layers model as for `transfer` (`--base DIR` or XRAY_TRANSFER_BASE;
 * lib/models/nsfwjs_base.ts makes a MobileNetV2 one). Layers whose name starts with one of
 * {@link FINETUNE_PREFIXES} train (for MobileNetV2: the last two inverted-residual blocks and the
 * final 1x1 convolution, about 1.2 M weights); every other layer stays frozen. The whole base
 * runs in inference mode while training: its batch norm keeps the pretrained moving statistics
 * (the usual advice for fine-tuning with small batches), while the trainable blocks' batch-norm
 * scale and offset still learn. A base without any such layer is an error naming its layers.
 * @module
 */
import * as tfl from "@tensorflow/tfjs-layers";
import { dropout } from "./dropout.ts";
import { outputLayer } from "./_layers.ts";
import { loadModel, modelJsonPath } from "./io.ts";
import { NO_BASE_HELP } from "./transfer.ts";
import type { BuildOptions, ModelSpec } from "./types.ts";

/** Name prefixes of the layers that train (MobileNetV2's top blocks). */
export const FINETUNE_PREFIXES = ["block_15_", "block_16_", "Conv_1"] as const;

/** Every layer of a model, nested models' layers included (depth first, in order). */
export function allLayers(model: tfl.LayersModel): tfl.layers.Layer[] {
  const out: tfl.layers.Layer[] = [];
  const visit = (layers: tfl.layers.Layer[]) => {
    for (const l of layers) {
      out.push(l);
      const inner = (l as unknown as { layers?: tfl.layers.Layer[] }).layers;
      if (Array.isArray(inner)) visit(inner);
    }
  };
  visit(model.layers);
  return out;
}

/**
 * Makes only the layers of `base` whose name starts with one of `prefixes` trainable (nested
 * models are opened; the containers themselves stay trainable so their weights are collected).
 * Returns the names of the trainable layers that hold weights.
 */
export function unfreezeTop(base: tfl.LayersModel, prefixes: readonly string[]): string[] {
  const layers = allLayers(base);
  const isContainer = (l: tfl.layers.Layer) =>
    Array.isArray((l as unknown as { layers?: unknown }).layers);
  // Containers' setters would flip every inner weight: set them first, then each leaf layer.
  base.trainable = true;
  for (const l of layers) if (isContainer(l)) l.trainable = true;
  const chosen: string[] = [];
  for (const l of layers) {
    if (isContainer(l)) continue;
    const on = prefixes.some((p) => l.name.startsWith(p));
    l.trainable = on;
    if (on && l.weights.length > 0) chosen.push(l.name);
  }
  return chosen;
}

async function build(opts: BuildOptions): Promise<tfl.LayersModel> {
  const basePath = opts.basePath ?? Deno.env.get("XRAY_TRANSFER_BASE");
  if (!basePath) throw new Error(NO_BASE_HELP);
  const base = await loadModel(basePath);
  const [, h, w, c] = base.inputs[0].shape;
  if ((h !== null && h !== opts.size) || (w !== null && w !== opts.size) || c !== opts.channels) {
    throw new Error(
      `The base at ${modelJsonPath(basePath)} takes input ${h}x${w}x${c}, but ` +
        `${opts.size}x${opts.size}x${opts.channels} was asked for; pass --size ${h}`,
    );
  }
  const chosen = unfreezeTop(base, FINETUNE_PREFIXES);
  if (chosen.length === 0) {
    throw new Error(
      `The base at ${modelJsonPath(basePath)} has no layer named ${FINETUNE_PREFIXES.join(", ")}` +
        `...; finetune unfreezes those (MobileNetV2's top blocks). Its layers: ` +
        allLayers(base).slice(-8).map((l) => l.name).join(", ") + ", ...",
    );
  }
  // Inference mode for the whole base, also while training (not serialised: a reloaded model
  // only predicts, which is inference mode anyway).
  const call = base.call.bind(base);
  base.call = (inputs, kwargs) => call(inputs, { ...kwargs, training: false });
  const input = tfl.input({ shape: [opts.size, opts.size, opts.channels] });
  let x = base.apply(input) as tfl.SymbolicTensor;
  if (x.shape.length > 2) {
    x = tfl.layers.globalAveragePooling2d({}).apply(x) as tfl.SymbolicTensor;
  }
  x = dropout({ rate: 0.3 }).apply(x) as tfl.SymbolicTensor;
  const out = outputLayer(opts.classes, opts.seed, 9).apply(x) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: out, name: "finetune" });
}

/** Registry entry for the fine-tuned pretrained base. */
export const finetune: ModelSpec = {
  name: "finetune",
  description: "Pretrained base (--base) with its top blocks trained + dropout + sigmoid",
  defaultSize: 128,
  channels: 3,
  minSize: 32,
  train: { batchSize: 32, epochs: 10, optimizer: "adam", learningRate: 5e-4, augment: true },
  build,
};
