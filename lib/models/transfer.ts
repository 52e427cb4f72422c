/**
 * `transfer`: a frozen pretrained convolutional base plus the seed notebook's head
 * (flatten, Dense 82, Dense 64, sigmoid). `transferSpec` builds the same family with another
 * head.
 *
 * The base is a TF.js layers model read from the local disk (no download at run time), given as
 * `basePath` (a folder, model.json path or file:// URL) or the env variable XRAY_TRANSFER_BASE.
 * @module
 */
import * as tfl from "@tensorflow/tfjs-layers";
import { glorot, outputLayer } from "./_layers.ts";
import { loadModel, modelJsonPath } from "./io.ts";
import type { BuildOptions, ModelSpec } from "./types.ts";

/** What to tell a user who asked for `transfer` without a base. */
export const NO_BASE_HELP =
  "The transfer model needs a pretrained convolutional base in TF.js layers format on the local " +
  "disk; pass --base DIR (or `base` in the chapter's parameters cell) to its folder or model.json. " +
  "`npm run setup` builds outputs/bases/mobilenet_v2_128 offline from the pinned npm package " +
  "nsfwjs@4.4.0; by hand (a MobileNetV2 trunk, 128x128x3): `cd /tmp && npm pack " +
  "nsfwjs@4.4.0 && tar xzf nsfwjs-4.4.0.tgz`, then `deno run --allow-read --allow-write=outputs " +
  "--allow-env lib/models/nsfwjs_base.ts --package /tmp/package --out " +
  "outputs/bases/mobilenet_v2_128`. Or in Python, " +
  "`tf.keras.applications.VGG19(include_top=False, input_shape=(150,150,3))` (or " +
  "MobileNetV2), `model.save('vgg19.h5')`, then `tensorflowjs_converter --input_format keras " +
  "vgg19.h5 vgg19_tfjs/`. Nothing is downloaded at run time.";

/** The trainable head of a `transfer`-family model, as plain values. */
export interface TransferArchitecture {
  /** Registry name. */
  name: string;
  /** Units of each ReLU dense layer between the base and the output. */
  head: number[];
}

/** The seed's head. */
export const TRANSFER_ARCHITECTURE: Readonly<TransferArchitecture> = {
  name: "transfer",
  head: [82, 64],
};

async function build(opts: BuildOptions, a: TransferArchitecture): Promise<tfl.LayersModel> {
  const basePath = opts.basePath ?? Deno.env.get("XRAY_TRANSFER_BASE");
  if (!basePath) throw new Error(NO_BASE_HELP);
  let base: tfl.LayersModel;
  try {
    base = await loadModel(basePath);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${NO_BASE_HELP}`);
  }
  const [, h, w, c] = base.inputs[0].shape;
  if ((h !== null && h !== opts.size) || (w !== null && w !== opts.size) || c !== opts.channels) {
    throw new Error(
      `The transfer base at ${modelJsonPath(basePath)} takes input ${h}x${w}x${c}, but ` +
        `${opts.size}x${opts.size}x${opts.channels} was asked for; pass --size ${h} ` +
        `(and a base with ${opts.channels} channel(s)) or convert a base for this size.`,
    );
  }
  base.trainable = false;
  // Frozen means inference mode too: TF.js passes the outer `training` flag into nested models,
  // so the base's batch norm would use batch statistics and overwrite its pretrained moving
  // averages while the head trains. Pin the base's call to training = false (not serialised: a
  // reloaded model only predicts, which is inference mode anyway).
  const call = base.call.bind(base);
  base.call = (inputs, kwargs) => call(inputs, { ...kwargs, training: false });
  const input = tfl.input({ shape: [opts.size, opts.size, opts.channels] });
  let x = base.apply(input) as tfl.SymbolicTensor;
  if (x.shape.length > 2) x = tfl.layers.flatten().apply(x) as tfl.SymbolicTensor;
  a.head.forEach((units, i) => {
    x = tfl.layers.dense({ units, activation: "relu", kernelInitializer: glorot(opts.seed, i + 1) })
      .apply(x) as tfl.SymbolicTensor;
  });
  const out = outputLayer(opts.classes, opts.seed, 9).apply(x) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: out, name: a.name });
}

/** A registry entry for a `transfer`-family model; missing fields take the seed's head. */
export function transferSpec(arch: Partial<TransferArchitecture> = {}): ModelSpec {
  const a = { ...TRANSFER_ARCHITECTURE, ...arch };
  return {
    name: a.name,
    description: a.name === "transfer"
      ? "Frozen pretrained conv base (local TF.js model, --base) + seed head Dense 82-64-1"
      : `Frozen pretrained conv base + head Dense ${[...a.head, 1].join("-")}`,
    defaultSize: 150,
    channels: 3,
    minSize: 1,
    train: { batchSize: 16, epochs: 10, optimizer: "adam", learningRate: 1e-3, augment: false },
    build: (opts) => build(opts, a),
  };
}

/** Registry entry for the transfer-learning model. */
export const transfer: ModelSpec = transferSpec();
