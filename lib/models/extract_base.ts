/**
 * Makes a frozen-base candidate for `transfer` out of a full pretrained TF.js layers model:
 * cuts it at a named layer, re-applies that trunk to a new input size (fully convolutional), adds
 * global average pooling, and saves it with the pixel scaling it expects (preprocessing.json).
 *
 * Example (MobileNetV2 weights shipped in the npm package nsfwjs@4.4.0, ImageNet-initialised and
 * fine-tuned on a non-medical 5-class task; `lib/models/nsfwjs_base.ts` unpacks its
 * dist/models/mobilenet_v2 to model.json + weights and runs this cut in one command):
 * `deno run -A lib/models/extract_base.ts --from DIR/model.json --layer out_relu --size 128
 *  --scale 0.00784313725 --mean 1 --out outputs/bases/mobilenet_v2_128`
 * @module
 */
import * as tfl from "@tensorflow/tfjs-layers";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { writeJsonAtomic } from "../util/atomic.ts";
import { loadModel, saveModel } from "./io.ts";
import type { Preprocessing } from "./types.ts";

/** Options of {@link extractBase}. */
export interface ExtractOptions {
  /** Layer whose output becomes the base's output (before pooling). */
  layer: string;
  /** New square input side. */
  size: number;
  /** Pixel scaling the pretrained weights expect: x = (u8 * scale - mean) / std. */
  scaling: { scale: number; mean: number; std: number };
  /**
   * What the pretrained weights are (architecture, what they were trained on, licence), saved
   * in `base.json` so that reports can say what the transfer model was built on.
   */
  description?: string;
}

/** `base.json` beside a base made by {@link extractBase}. */
export interface BaseInfo {
  /** Where the full pretrained model came from. */
  from: string;
  /** The layer it was cut at. */
  layer: string;
  /** Input side of the base. */
  size: number;
  /** What the weights are, or null when the maker did not say. */
  description: string | null;
}

/** Reads `base.json` of a base folder (or of the folder of a model.json); null when absent. */
export async function readBaseInfo(path: string): Promise<BaseInfo | null> {
  const dir = path.endsWith(".json") ? join(path, "..") : path;
  try {
    return JSON.parse(await Deno.readTextFile(join(dir, "base.json"))) as BaseInfo;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw new Error(`${join(dir, "base.json")}: ${(err as Error).message}`);
  }
}

/** Reads `from` (model.json), cuts and re-sizes it, and saves the base to `out`. */
export async function extractBase(
  from: string,
  out: string,
  opts: ExtractOptions,
): Promise<tfl.LayersModel> {
  const full = await loadModel(from);
  const [, , , channels] = full.inputs[0].shape as number[];
  // Re-apply the trunk to an input of the new size: the convolutions are size-agnostic and keep
  // their weights (editing the JSON's input shape instead would break the pretrained head).
  const trunk = tfl.model({
    inputs: full.inputs,
    outputs: full.getLayer(opts.layer).output,
    name: "trunk",
  });
  const input = tfl.input({ shape: [opts.size, opts.size, channels] });
  const cut = trunk.apply(input) as tfl.SymbolicTensor;
  const pooled = tfl.layers.globalAveragePooling2d({ name: "base_gap" }).apply(
    cut,
  ) as tfl.SymbolicTensor;
  const base = tfl.model({ inputs: input, outputs: pooled, name: "pretrained_base" });
  await saveModel(base, out);
  const pre: Preprocessing = { size: opts.size, channels: channels as 1 | 3, ...opts.scaling };
  await writeJsonAtomic(join(out, "preprocessing.json"), pre);
  const info: BaseInfo = {
    from,
    layer: opts.layer,
    size: opts.size,
    description: opts.description ?? null,
  };
  await writeJsonAtomic(join(out, "base.json"), info);
  return base;
}

if (import.meta.main) {
  const { values: v } = parseArgs({
    args: Deno.args,
    options: {
      from: { type: "string" },
      out: { type: "string" },
      layer: { type: "string" },
      size: { type: "string" },
      scale: { type: "string" },
      mean: { type: "string" },
      std: { type: "string" },
      description: { type: "string" },
    },
  });
  if (!v.from || !v.out || !v.layer || !v.size) {
    throw new Error(
      "usage: extract_base.ts --from model.json --out DIR --layer NAME --size N " +
        "[--scale X --mean M --std S] [--description TEXT]",
    );
  }
  const { initBackend } = await import("../backend/select.ts");
  await initBackend();
  const base = await extractBase(v.from, v.out, {
    layer: v.layer,
    size: Number(v.size),
    scaling: {
      scale: Number(v.scale ?? 1 / 255),
      mean: Number(v.mean ?? 0),
      std: Number(v.std ?? 1),
    },
    description: v.description,
  });
  console.log(
    `saved ${base.name}: input ${JSON.stringify(base.inputs[0].shape)}, output ` +
      `${JSON.stringify(base.outputs[0].shape)}, ${base.countParams()} params -> ${v.out}`,
  );
}
