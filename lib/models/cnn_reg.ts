/**
 * `cnn_reg`: the seed notebook's "CNN with regularization". Four blocks of Conv 3x3 (64, 32, 32,
 * 20 filters, ReLU, L2 on the kernels) + 2x2 max-pool, dropout 0.3 after the first three blocks,
 * then flatten, Dense 80 (ReLU), sigmoid output. `cnnRegSpec` builds the same family with other
 * layer sizes.
 * @module
 */
import * as tfl from "@tensorflow/tfjs-layers";
import { conv2d } from "./conv.ts";
import { dropout } from "./dropout.ts";
import { glorot, outputLayer, validConvMinSize } from "./_layers.ts";
import type { BuildOptions, ModelSpec } from "./types.ts";

/** L2 factor on the convolution kernels (the notebook does not state it; Keras' usual 1e-3). */
export const CNN_REG_L2 = 1e-3;

/** The layer sizes of a `cnn_reg`-family model, as plain values. */
export interface CnnRegArchitecture {
  /** Registry name. */
  name: string;
  /** Filters of each Conv 3x3 (L2) + 2x2 max-pool block. */
  filters: number[];
  /** Dropout rate after every block but the last. */
  dropout: number;
  /** L2 factor on the convolution kernels. */
  l2: number;
  /** Units of the dense layer before the output. */
  dense: number;
}

/** The seed's regularised CNN. */
export const CNN_REG_ARCHITECTURE: Readonly<CnnRegArchitecture> = {
  name: "cnn_reg",
  filters: [64, 32, 32, 20],
  dropout: 0.3,
  l2: CNN_REG_L2,
  dense: 80,
};

/** A registry entry for a `cnn_reg`-family model; missing fields take the seed's values. */
export function cnnRegSpec(arch: Partial<CnnRegArchitecture> = {}): ModelSpec {
  const a = { ...CNN_REG_ARCHITECTURE, ...arch };
  const build = ({ size, channels, seed, classes }: BuildOptions): tfl.LayersModel => {
    const m = tfl.sequential({ name: a.name });
    a.filters.forEach((filters, i) => {
      m.add(conv2d({
        filters,
        kernelSize: 3,
        activation: "relu",
        kernelInitializer: glorot(seed, i),
        kernelRegularizer: tfl.regularizers.l2({ l2: a.l2 }),
        ...(i === 0 ? { inputShape: [size, size, channels] } : {}),
      }));
      m.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
      // No per-layer seed: TF.js reuses a fixed dropout seed on every call (the same mask each
      // step). The trainer seeds Math.random per epoch instead, which dropout then draws from.
      if (i < a.filters.length - 1 && a.dropout > 0) {
        m.add(dropout({ rate: a.dropout }));
      }
    });
    m.add(tfl.layers.flatten());
    m.add(
      tfl.layers.dense({ units: a.dense, activation: "relu", kernelInitializer: glorot(seed, 8) }),
    );
    m.add(outputLayer(classes, seed, 9));
    return m;
  };
  return {
    name: a.name,
    description: a.name === "cnn_reg"
      ? "Seed's CNN with regularization: Conv 64-32-32-20 + L2, dropout 0.3, Dense 80"
      : `CNN: Conv ${a.filters.join("-")} + L2 ${a.l2}, dropout ${a.dropout}, Dense ${a.dense}`,
    defaultSize: 150,
    channels: 3,
    minSize: validConvMinSize(a.filters.length),
    train: { batchSize: 8, epochs: 20, optimizer: "adam", learningRate: 1e-3, augment: false },
    build,
  };
}

/** Registry entry for the seed's regularised CNN. */
export const cnnReg: ModelSpec = cnnRegSpec();
