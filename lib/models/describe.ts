/**
 * A model's layers in words a reader understands ("conv 2: 32 filters 3x3, relu" rather than the
 * TF.js auto-name `conv2d_Conv2D2`), with output shapes and parameter counts, for architecture
 * tables and diagrams. The architecture as a diagram and a table is what the model chapters
 * (from the registry, see `describeModel`) and chapter 8 show.
 * @module
 */
import type * as tfl from "@tensorflow/tfjs-layers";
import { architectureDiagram } from "../charts/architecture.ts";
import { rowsToHtml } from "../charts/table.ts";

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
 * One row per layer: readable name, what it does, TF.js type and name, output shape (without the
 * batch axis), parameters, trainable.
 */
export function architectureRows(
  model: tfl.LayersModel,
): Record<string, string | number | boolean>[] {
  return describeLayers(model).map((l) => ({
    layer: l.name,
    detail: l.detail,
    type: l.type,
    "TF.js name": l.tfName,
    "output shape": l.outputShape,
    params: l.params,
    trainable: l.trainable,
  }));
}

/** The architecture of a built model as a diagram and a table, with the totals in its caption. */
export function architectureTable(model: tfl.LayersModel, name: string): string {
  const rows = architectureRows(model);
  const total = rows.reduce((a, r) => a + (r.params as number), 0);
  const trainable = model.trainableWeights.reduce(
    (a, w) => a + w.shape.reduce((x: number, y) => x * (y ?? 1), 1),
    0,
  );
  const [, h, w, c] = model.inputs[0].shape;
  return architectureDiagram(describeLayers(model), {
    title: `${name}: architecture (input ${h}x${w}x${c})`,
  }) +
    rowsToHtml(rows, {
      caption: `${name}: ${rows.length} layers, ${total.toLocaleString("en-US")} parameters ` +
        `(${trainable.toLocaleString("en-US")} trainable)`,
      wrap: ["detail"],
    });
}
