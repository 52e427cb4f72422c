/**
 * Small helpers the model files share: seeded initialisers and the output head.
 * @module
 */
import * as tfl from "@tensorflow/tfjs-layers";

/** A seeded Glorot-uniform initialiser; `k` distinguishes the layers of one model. */
export function glorot(seed: number, k: number): ReturnType<typeof tfl.initializers.glorotUniform> {
  return tfl.initializers.glorotUniform({ seed: seed * 1000 + k });
}

/** The output layer: one sigmoid unit for 2 classes, a 3-way softmax for 3. */
export function outputLayer(classes: 2 | 3, seed: number, k: number): tfl.layers.Layer {
  return tfl.layers.dense({
    units: classes === 2 ? 1 : 3,
    activation: classes === 2 ? "sigmoid" : "softmax",
    kernelInitializer: glorot(seed, k),
    name: "output",
  });
}

/**
 * Smallest input side a stack of `blocks` Conv 3x3 ('valid') + 2x2 max-pool blocks accepts:
 * each block takes 2 pixels off and halves, and the last must leave at least 1 pixel.
 */
export function validConvMinSize(blocks: number): number {
  let s = 1;
  for (let i = 0; i < blocks; i++) s = 2 * s + 2;
  return s;
}
