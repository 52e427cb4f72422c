/**
 * `cnn`: the seed notebook's CNN. Three blocks of Conv 3x3 (64, 32, 20 filters, ReLU) each
 * followed by 2x2 max-pooling, then flatten, Dense 80 (ReLU), sigmoid output.
 * @module
 */
import * as tfl from "@tensorflow/tfjs-layers";
import { glorot, outputLayer } from "./_layers.ts";
import type { BuildOptions, ModelSpec } from "./types.ts";

function build({ size, channels, seed, classes }: BuildOptions): tfl.LayersModel {
  const m = tfl.sequential({ name: "cnn" });
  [64, 32, 20].forEach((filters, i) => {
    m.add(tfl.layers.conv2d({
      filters,
      kernelSize: 3,
      activation: "relu",
      kernelInitializer: glorot(seed, i),
      ...(i === 0 ? { inputShape: [size, size, channels] } : {}),
    }));
    m.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
  });
  m.add(tfl.layers.flatten());
  m.add(tfl.layers.dense({ units: 80, activation: "relu", kernelInitializer: glorot(seed, 8) }));
  m.add(outputLayer(classes, seed, 9));
  return m;
}

/** Registry entry for the seed's CNN. */
export const cnn: ModelSpec = {
  name: "cnn",
  description: "Seed notebook's CNN: Conv 64-32-20 (3x3, ReLU, 2x2 max-pool), Dense 80, sigmoid",
  defaultSize: 150,
  channels: 3,
  minSize: 22,
  train: { batchSize: 32, epochs: 20, optimizer: "adam", learningRate: 1e-3, augment: false },
  build,
};
