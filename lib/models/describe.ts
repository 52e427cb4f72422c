/**
 * A model's layers in words a reader understands ("conv 2: 32 filters 3x3, relu" rather than the
 * TF.js auto-name `conv2d_Conv2D2`), with output shapes and parameter counts, for architecture
 * tables and diagrams; and the layers of a saved model read synchronously from its model.json
 * (structure only, no weights), so a chapter can describe a run without loading it.
 * @module
 */
import { serialization } from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { modelJsonPath } from "./io.ts";

/** One layer as shown to a reader. */
export interface LayerInfo {
  /** Readable name: kind and number within its kind ("conv 2", "dense 1", "input"). */
  name: string;
  /** What the layer does, from its config ("32 filters 3x3, stride 2, relu"). */
  detail: string;
  /** TF.js class name (Conv2D, Dense, ...). */
  type: string;
  /** The TF.js layer name, for looking a layer up in the model. */
  tfName: string;
  /** Output shape without the batch axis, e.g. "64x64x16" or "80". */
  outputShape: string;
  params: number;
  trainable: boolean;
}

const KIND: Record<string, string> = {
  Conv2D: "conv",
  SeparableConv2D: "separable conv",
  DepthwiseConv2D: "depthwise conv",
  Dense: "dense",
  MaxPooling2D: "max pool",
  AveragePooling2D: "average pool",
  GlobalAveragePooling2D: "global average pool",
  GlobalMaxPooling2D: "global max pool",
  BatchNormalization: "batch norm",
  Dropout: "dropout",
  Flatten: "flatten",
  Activation: "activation",
  ReLU: "relu",
  InputLayer: "input",
  Functional: "base model",
  Model: "base model",
  Sequential: "base model",
};

const pair = (v: unknown) => (Array.isArray(v) ? `${v[0]}x${v[1]}` : `${v}x${v}`);

/** What a layer does, in a few words, from its config. */
export function layerDetail(layer: tfl.layers.Layer): string {
  const c = layer.getConfig() as Record<string, unknown>;
  const act = typeof c.activation === "string" && c.activation !== "linear"
    ? `, ${c.activation}`
    : "";
  const stride = (s: unknown) =>
    (Array.isArray(s) ? s[0] : s) && (Array.isArray(s) ? s[0] : s) !== 1
      ? `, stride ${Array.isArray(s) ? s[0] : s}`
      : "";
  const l2 = (c.kernelRegularizer as { config?: { l2?: number } } | null)?.config?.l2;
  const reg = l2 ? `, L2 ${l2}` : "";
  switch (layer.getClassName()) {
    case "Conv2D":
    case "SeparableConv2D":
      return `${c.filters} filters ${pair(c.kernelSize)}${stride(c.strides)}${act}${reg}`;
    case "DepthwiseConv2D":
      return `${pair(c.kernelSize)}${stride(c.strides)}${act}`;
    case "Dense":
      return `${c.units} unit${c.units === 1 ? "" : "s"}${act}${reg}`;
    case "MaxPooling2D":
    case "AveragePooling2D":
      return pair(c.poolSize);
    case "Dropout":
      return `rate ${c.rate}`;
    case "Activation":
      return String(c.activation);
    case "Functional":
    case "Model":
    case "Sequential": {
      const inner = (layer as unknown as tfl.LayersModel).layers?.length ?? 0;
      return `${c.name ?? layer.name}, ${inner} layers${layer.trainable ? "" : ", frozen"}`;
    }
    default:
      return "";
  }
}

/** "64x64x16" from a layer's output shape (batch axis dropped; the first of several outputs). */
function shapeText(shape: unknown): string {
  const arr = shape as unknown[];
  const s = (Array.isArray(arr[0]) ? arr[0] : arr) as (number | null)[];
  return s.slice(1).map((d) => d ?? "?").join("x");
}

/** The layers of a model with readable names, output shapes and parameter counts. */
export function describeLayers(model: tfl.LayersModel): LayerInfo[] {
  const counters = new Map<string, number>();
  return model.layers.map((l) => {
    const type = l.getClassName();
    const kind = KIND[type] ?? type;
    const n = (counters.get(kind) ?? 0) + 1;
    counters.set(kind, n);
    const unique = ["input", "flatten", "global average pool", "global max pool", "base model"];
    return {
      name: unique.includes(kind) ? kind : `${kind} ${n}`,
      detail: layerDetail(l),
      type,
      tfName: l.name,
      outputShape: shapeText(l.outputShape),
      params: l.countParams(),
      trainable: l.trainable,
    };
  });
}

/**
 * Keras-style (Python) config to the TF.js form: keys to camelCase, string values to camelCase
 * except names and the layer names of node references. TF.js does this inside
 * `tf.models.modelFromJSON` (`convertPythonicToTs`), which is asynchronous and not exported;
 * this is the same rule, so a topology can be rebuilt synchronously.
 */
export function pythonicToTs(v: unknown, key?: string): unknown {
  const camel = (k: string) => k.replace(/[_-]([a-z0-9])/g, (_, c: string) => c.toUpperCase());
  if (v === null || v === undefined) return null;
  if (typeof v === "string") return camel(v);
  if (typeof v === "number" || typeof v === "boolean") return v;
  if (Array.isArray(v)) {
    return v.map((item, i) =>
      (key === "inboundNodes" || key === "outputLayers" || key === "inputLayers") && i === 0 &&
        typeof item === "string"
        ? item
        : pythonicToTs(item, key)
    );
  }
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (k === "name" && typeof x === "string") out[k] = x;
    else out[camel(k)] = pythonicToTs(x, camel(k));
  }
  return out;
}

/**
 * The layers of the model saved at `dir` (a folder with model.json, or the file), rebuilt from
 * its topology without weights. Errors name the file.
 */
export function savedModelLayers(dir: string): LayerInfo[] {
  const path = modelJsonPath(dir);
  let topo: { class_name?: string; config?: unknown; model_config?: unknown };
  try {
    const json = JSON.parse(Deno.readTextFileSync(path));
    topo = json.modelTopology?.model_config ?? json.modelTopology;
  } catch (err) {
    throw new Error(`Cannot read the model topology in ${path}: ${(err as Error).message}`);
  }
  const entry = serialization.SerializationMap.getMap().classNameMap[topo?.class_name ?? ""];
  if (!entry) {
    throw new Error(`${path}: unknown model class ${JSON.stringify(topo?.class_name)}`);
  }
  const [cls, fromConfig] = entry;
  const model = fromConfig(
    cls,
    pythonicToTs(topo.config) as serialization.ConfigDict,
  ) as unknown as tfl.LayersModel;
  try {
    return describeLayers(model);
  } finally {
    model.dispose();
  }
}
