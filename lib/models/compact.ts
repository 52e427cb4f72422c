/**
 * `compact`: our own small CNN, built to train fast on a CPU and to generalise.
 *
 * Grayscale input (the X-rays are R=G=B, so three channels only triple the first layer's cost),
 * five 3x3 convolutions with batch norm and ReLU (the first with stride 2, three followed by 2x2
 * max-pooling), global average pooling instead of a large flattened Dense layer, dropout 0.3 and
 * a sigmoid output: about 245k parameters. Trained with seeded augmentation (rotation, shift,
 * zoom, brightness, contrast).
 * @module
 */
import * as tfl from "@tensorflow/tfjs-layers";
import { outputLayer } from "./_layers.ts";
import type { BuildOptions, ModelSpec } from "./types.ts";

/** Filters per convolution block; blocks 2-4 end with 2x2 max-pooling. */
export const COMPACT_FILTERS = [16, 32, 64, 128, 128] as const;

function build({ size, channels, seed, classes }: BuildOptions): tfl.LayersModel {
  const m = tfl.sequential({ name: "compact" });
  COMPACT_FILTERS.forEach((filters, i) => {
    m.add(tfl.layers.conv2d({
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
    if (i >= 1 && i <= 3) m.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
  });
  m.add(tfl.layers.globalAveragePooling2d({}));
  m.add(tfl.layers.dropout({ rate: 0.3 }));
  m.add(outputLayer(classes, seed, 9));
  return m;
}

/** Registry entry for the compact model. */
export const compact: ModelSpec = {
  name: "compact",
  description: "Ours: grayscale, 5 conv+BN blocks, global average pooling, ~245k params, augmented",
  defaultSize: 128,
  channels: 1,
  minSize: 16,
  train: { batchSize: 32, epochs: 30, optimizer: "adam", learningRate: 2e-3, augment: true },
  build,
};
