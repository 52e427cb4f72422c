/**
 * `cnn_reg`: the seed notebook's "CNN with regularization". Four blocks of Conv 3x3 (64, 32, 32,
 * 20 filters, ReLU, L2 on the kernels) + 2x2 max-pool, dropout 0.3 after the first three blocks,
 * then flatten, Dense 80 (ReLU), sigmoid output.
 * @module
 */
import * as tfl from "@tensorflow/tfjs-layers";
import { glorot, outputLayer } from "./_layers.ts";
import type { BuildOptions, ModelSpec } from "./types.ts";

/** L2 factor on the convolution kernels (the notebook does not state it; Keras' usual 1e-3). */
export const CNN_REG_L2 = 1e-3;

function build({ size, channels, seed, classes }: BuildOptions): tfl.LayersModel {
  const m = tfl.sequential({ name: "cnn_reg" });
  [64, 32, 32, 20].forEach((filters, i) => {
    m.add(tfl.layers.conv2d({
      filters,
      kernelSize: 3,
      activation: "relu",
      kernelInitializer: glorot(seed, i),
      kernelRegularizer: tfl.regularizers.l2({ l2: CNN_REG_L2 }),
      ...(i === 0 ? { inputShape: [size, size, channels] } : {}),
    }));
    m.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
    // No per-layer seed: TF.js reuses a fixed dropout seed on every call (the same mask each
    // step). The trainer seeds Math.random per epoch instead, which dropout then draws from.
    if (i < 3) m.add(tfl.layers.dropout({ rate: 0.3 }));
  });
  m.add(tfl.layers.flatten());
  m.add(tfl.layers.dense({ units: 80, activation: "relu", kernelInitializer: glorot(seed, 8) }));
  m.add(outputLayer(classes, seed, 9));
  return m;
}

/** Registry entry for the seed's regularised CNN. */
export const cnnReg: ModelSpec = {
  name: "cnn_reg",
  description: "Seed's CNN with regularization: Conv 64-32-32-20 + L2, dropout 0.3, Dense 80",
  defaultSize: 150,
  channels: 3,
  minSize: 46,
  train: { batchSize: 8, epochs: 20, optimizer: "adam", learningRate: 1e-3, augment: false },
  build,
};
