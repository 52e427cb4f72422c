/**
 * `compact`: our own small CNN, built to train fast on a CPU and to generalise.
 *
 * Grayscale input (the X-rays are R=G=B, so three channels only triple the first layer's cost),
 * five 3x3 convolutions with batch norm and ReLU (the first with stride 2, three followed by 2x2
 * max-pooling), global average pooling instead of a large flattened Dense layer, dropout 0.3 and
 * a sigmoid output: about 245k parameters. Trained with seeded augmentation (rotation, shift,
 * zoom, brightness, contrast). `compactSpec` builds the same family with other layer sizes.
 * @module
 */
import * as tfl from "@tensorflow/tfjs-layers";
import { conv2d } from "./conv.ts";
import { dropout } from "./dropout.ts";
import { outputLayer } from "./_layers.ts";
import type { BuildOptions, ModelSpec } from "./types.ts";

/** Filters per convolution block; blocks 2-4 end with 2x2 max-pooling. */
export const COMPACT_FILTERS = [16, 32, 64, 128, 128] as const;

/** The layer sizes of a `compact`-family model, as plain values. */
export interface CompactArchitecture {
  /** Registry name. */
  name: string;
  /**
   * Filters of each Conv 3x3 + batch norm + ReLU block; the first has stride 2, every block but
   * the first and the last ends with 2x2 max-pooling.
   */
  filters: number[];
  /** Dropout rate before the output. */
  dropout: number;
}

/** Our compact model. */
export const COMPACT_ARCHITECTURE: Readonly<CompactArchitecture> = {
  name: "compact",
  filters: [...COMPACT_FILTERS],
  dropout: 0.3,
};

/** A registry entry for a `compact`-family model; missing fields take our model's values. */
export function compactSpec(arch: Partial<CompactArchitecture> = {}): ModelSpec {
  const a = { ...COMPACT_ARCHITECTURE, ...arch };
  const n = a.filters.length;
  const build = ({ size, channels, seed, classes }: BuildOptions): tfl.LayersModel => {
    const m = tfl.sequential({ name: a.name });
    a.filters.forEach((filters, i) => {
      m.add(conv2d({
        filters,
        kernelSize: 3,
        strides: i === 0 ? 2 : 1,
        padding: "same",
        useBias: false, // batch norm supplies the offset
        kernelInitializer: tfl.initializers.heNormal({ seed: seed * 1000 + i }),
        ...(i === 0 ? { inputShape: [size, size, channels] } : {}),
      }));
      m.add(tfl.layers.batchNormalization({ momentum: 0.9 }));
      m.add(tfl.layers.activation({ activation: "relu" }));
      if (i >= 1 && i <= n - 2) m.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
    });
    m.add(tfl.layers.globalAveragePooling2d({}));
    m.add(dropout({ rate: a.dropout }));
    m.add(outputLayer(classes, seed, 9));
    return m;
  };
  return {
    name: a.name,
    description: a.name === "compact"
      ? "Ours: grayscale, 5 conv+BN blocks, global average pooling, ~245k params, augmented"
      : `Compact CNN: grayscale, conv+BN ${a.filters.join("-")}, global average pooling`,
    defaultSize: 128,
    channels: 1,
    // Stride 2, then n - 2 poolings: the input must halve n - 1 times to at least 1 pixel.
    minSize: 2 ** Math.max(1, n - 1),
    train: { batchSize: 32, epochs: 30, optimizer: "adam", learningRate: 2e-3, augment: true },
    build,
  };
}

/** Registry entry for the compact model. */
export const compact: ModelSpec = compactSpec();
