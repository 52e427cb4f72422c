/**
 * Types shared by the model zoo: what a registered model is, and the preprocessing it stores.
 * @module
 */
import type * as tfl from "@tensorflow/tfjs-layers";

/**
 * How raw uint8 pixels become model input: `x = (u8 * scale - mean) / std`, HWC layout,
 * resized to `size` x `size` (aspect not kept, like the Keras notebook) with `channels` channels.
 */
export interface Preprocessing {
  size: number;
  channels: 1 | 3;
  scale: number;
  mean: number;
  std: number;
}

/** Options every model builder takes. */
export interface BuildOptions {
  /** Input side in pixels (square input). */
  size: number;
  /** 1 = grayscale, 3 = RGB. */
  channels: 1 | 3;
  /** Seed for the weight initialisers (same seed, same initial weights). */
  seed: number;
  /** 2 = one sigmoid output (P(pneumonia)); 3 = softmax over normal / bacteria / virus. */
  classes: 2 | 3;
  /** Only for `transfer`: file:// URL or path of a TF.js layers model.json to use as frozen base. */
  basePath?: string;
}

/** Training defaults a model brings with it (the CLI and config can override each). */
export interface TrainDefaults {
  batchSize: number;
  epochs: number;
  optimizer: "adam" | "sgd" | "rmsprop";
  learningRate: number;
  /** Seeded augmentation (rotation, shift, zoom, brightness, contrast) while training. */
  augment: boolean;
}

/** One entry of the registry: metadata plus a builder. */
export interface ModelSpec {
  name: string;
  description: string;
  defaultSize: number;
  channels: 1 | 3;
  /** Smallest input side the architecture accepts (pooling would shrink it to nothing below). */
  minSize: number;
  train: TrainDefaults;
  build(opts: BuildOptions): tfl.LayersModel | Promise<tfl.LayersModel>;
}
