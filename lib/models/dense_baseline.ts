/**
 * `dense_baseline`: the seed notebook's dense network. Flattened 150x150x3 pixels, then
 * Dense 15 -> 8 -> 5 (ReLU) -> 1 (sigmoid). `denseSpec` builds the same family with other
 * layer sizes.
 * @module
 */
import * as tfl from "@tensorflow/tfjs-layers";
import { glorot, outputLayer } from "./_layers.ts";
import type { BuildOptions, ModelSpec } from "./types.ts";

/** The layer sizes of a dense model, as plain values. */
export interface DenseArchitecture {
  /** Registry name. */
  name: string;
  /** Units of each hidden ReLU layer. */
  units: number[];
}

/** The seed's dense baseline. */
export const DENSE_ARCHITECTURE: Readonly<DenseArchitecture> = {
  name: "dense_baseline",
  units: [15, 8, 5],
};

/** A registry entry for a dense model; missing fields take the seed's values. */
export function denseSpec(arch: Partial<DenseArchitecture> = {}): ModelSpec {
  const a = { ...DENSE_ARCHITECTURE, ...arch };
  const build = ({ size, channels, seed, classes }: BuildOptions): tfl.LayersModel => {
    const m = tfl.sequential({ name: a.name });
    m.add(tfl.layers.flatten({ inputShape: [size, size, channels] }));
    a.units.forEach((units, i) =>
      m.add(tfl.layers.dense({ units, activation: "relu", kernelInitializer: glorot(seed, i) }))
    );
    m.add(outputLayer(classes, seed, 9));
    return m;
  };
  return {
    name: a.name,
    description: a.name === "dense_baseline"
      ? "Seed notebook's dense net: flatten 150x150x3, Dense 15-8-5-1"
      : `Dense net: flatten, Dense ${[...a.units, 1].join("-")}`,
    defaultSize: 150,
    channels: 3,
    minSize: 1,
    train: { batchSize: 32, epochs: 20, optimizer: "adam", learningRate: 1e-3, augment: false },
    build,
  };
}

/** Registry entry for the seed's dense baseline. */
export const denseBaseline: ModelSpec = denseSpec();
