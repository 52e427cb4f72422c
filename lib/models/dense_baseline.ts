/**
 * `dense_baseline`: the seed notebook's dense network. Flattened 150x150x3 pixels, then
 * Dense 15 -> 8 -> 5 (ReLU) -> 1 (sigmoid).
 * @module
 */
import * as tfl from "@tensorflow/tfjs-layers";
import { glorot, outputLayer } from "./_layers.ts";
import type { BuildOptions, ModelSpec } from "./types.ts";

function build({ size, channels, seed, classes }: BuildOptions): tfl.LayersModel {
  const m = tfl.sequential({ name: "dense_baseline" });
  m.add(tfl.layers.flatten({ inputShape: [size, size, channels] }));
  [15, 8, 5].forEach((units, i) =>
    m.add(tfl.layers.dense({ units, activation: "relu", kernelInitializer: glorot(seed, i) }))
  );
  m.add(outputLayer(classes, seed, 9));
  return m;
}

/** Registry entry for the seed's dense baseline. */
export const denseBaseline: ModelSpec = {
  name: "dense_baseline",
  description: "Seed notebook's dense net: flatten 150x150x3, Dense 15-8-5-1",
  defaultSize: 150,
  channels: 3,
  minSize: 1,
  train: { batchSize: 32, epochs: 20, optimizer: "adam", learningRate: 1e-3, augment: false },
  build,
};
