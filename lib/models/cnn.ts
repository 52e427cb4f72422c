/**
 * `cnn`: the seed notebook's CNN. Three blocks of Conv 3x3 (64, 32, 20 filters, ReLU) each
 * followed by 2x2 max-pooling, then flatten, Dense 80 (ReLU), sigmoid output. `cnnSpec` builds
 * the same family with other layer sizes (a notebook cell registers an edited copy with it).
 * @module
 */
import * as tfl from "@tensorflow/tfjs-layers";
import { conv2d } from "./conv.ts";
import { glorot, outputLayer, validConvMinSize } from "./_layers.ts";
import type { BuildOptions, ModelSpec } from "./types.ts";

/** The layer sizes of a `cnn`-family model, as plain values. */
export interface CnnArchitecture {
  /** Registry name. */
  name: string;
  /** Filters of each Conv 3x3 + 2x2 max-pool block. */
  filters: number[];
  /** Units of the dense layer before the output. */
  dense: number;
}

/** The seed's CNN. */
export const CNN_ARCHITECTURE: Readonly<CnnArchitecture> = {
  name: "cnn",
  filters: [64, 32, 20],
  dense: 80,
};

/** A registry entry for a `cnn`-family model; missing fields take the seed's values. */
export function cnnSpec(arch: Partial<CnnArchitecture> = {}): ModelSpec {
  const a = { ...CNN_ARCHITECTURE, ...arch };
  const build = ({ size, channels, seed, classes }: BuildOptions): tfl.LayersModel => {
    const m = tfl.sequential({ name: a.name });
    a.filters.forEach((filters, i) => {
      m.add(conv2d({
        filters,
        kernelSize: 3,
        activation: "relu",
        kernelInitializer: glorot(seed, i),
        ...(i === 0 ? { inputShape: [size, size, channels] } : {}),
      }));
      m.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
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
    description: a.name === "cnn"
      ? "Seed notebook's CNN: Conv 64-32-20 (3x3, ReLU, 2x2 max-pool), Dense 80, sigmoid"
      : `CNN: Conv ${a.filters.join("-")} (3x3, ReLU, 2x2 max-pool), Dense ${a.dense}, sigmoid`,
    defaultSize: 150,
    channels: 3,
    minSize: validConvMinSize(a.filters.length),
    train: { batchSize: 32, epochs: 20, optimizer: "adam", learningRate: 1e-3, augment: false },
    build,
  };
}

/** Registry entry for the seed's CNN. */
export const cnn: ModelSpec = cnnSpec();
