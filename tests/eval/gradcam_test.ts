import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import sharp from "sharp";
import { initBackend } from "../../lib/backend/select.ts";
import { penultimateWith } from "../../lib/models/features.ts";
import {
  boxAreaOutside,
  defaultCamLayerIndex,
  flattenLayers,
  gradCam,
  heatmapMassOutside,
  overlayHeatmapPng,
} from "../../lib/eval/gradcam.ts";
import { makeRng } from "../../lib/util/rng.ts";

const S = 16;
/** Pneumonia images have a bright 4x4 patch at rows/cols 2..5 (the signal). */
const SIGNAL = { r0: 2, r1: 5, c0: 2, c1: 5 };
/** Every image has a black 4x4 patch at rows/cols 10..13 (a distractor that means nothing). */
const DISTRACTOR = { r0: 10, r1: 13, c0: 10, c1: 13 };
type Box = typeof SIGNAL;
const inBox = (b: Box, r: number, c: number, m = 0) =>
  r >= b.r0 - m && r <= b.r1 + m && c >= b.c0 - m && c <= b.c1 + m;

function makeImages(n: number, seed: number): { x: Float32Array; y: number[] } {
  const rng = makeRng(seed);
  const x = new Float32Array(n * S * S), y: number[] = [];
  for (let i = 0; i < n; i++) {
    const label = i % 2;
    y.push(label);
    for (let r = 0; r < S; r++) {
      for (let c = 0; c < S; c++) {
        let v = 0.3 + 0.2 * rng();
        if (label && inBox(SIGNAL, r, c)) v += 0.5;
        if (inBox(DISTRACTOR, r, c)) v = 0;
        x[i * S * S + r * S + c] = v;
      }
    }
  }
  return { x, y };
}

/** Share of heatmap mass within one pixel of a box. */
function massNear(h: Float32Array, b: Box): number {
  let near = 0, total = 0;
  for (let r = 0; r < S; r++) {
    for (let c = 0; c < S; c++) {
      total += h[r * S + c];
      if (inBox(b, r, c, 1)) near += h[r * S + c];
    }
  }
  return near / total;
}

/**
 * A CNN whose answer is known, with hand-set weights: filter 0 of the first convolution fires
 * only on the bright signal patch (3x3 mean > 0.65), filter 1 only on the black distractor
 * (3x3 mean < 0.25); a 1x1 convolution passes both on; the head reads filter 0 alone
 * (P = sigmoid(1000 * mean(f0) - 2)). Grad-CAM must light the signal and ignore the distractor,
 * which a plain activation map would not.
 */
function knownModel(): tfl.Sequential {
  const m = tfl.sequential();
  m.add(
    tfl.layers.conv2d({ inputShape: [S, S, 1], filters: 2, kernelSize: 3, activation: "relu" }),
  );
  m.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
  m.add(tfl.layers.conv2d({ filters: 2, kernelSize: 1, useBias: false }));
  m.add(tfl.layers.activation({ activation: "relu" }));
  m.add(tfl.layers.globalAveragePooling2d({}));
  m.add(tfl.layers.dense({ units: 1, activation: "sigmoid" }));
  const k1 = new Float32Array(18);
  for (let i = 0; i < 9; i++) k1[i * 2] = 1 / 9, k1[i * 2 + 1] = -1 / 9;
  m.layers[0].setWeights([tf.tensor4d(k1, [3, 3, 1, 2]), tf.tensor1d([-0.65, 0.25])]);
  m.layers[2].setWeights([tf.tensor4d([1, 0, 0, 1], [1, 1, 2, 2])]);
  m.layers[5].setWeights([tf.tensor2d([1000, 0], [2, 1]), tf.tensor1d([-2])]);
  return m;
}

Deno.test("Grad-CAM lights the only region that carries the signal, not the distractor", async () => {
  await initBackend({ prefer: "cpu" });
  tf.engine().startScope();
  try {
    const m = knownModel();
    const layers = flattenLayers(m);
    assert.equal(layers[defaultCamLayerIndex(layers)].getClassName(), "Activation");
    const data = makeImages(6, 2);
    const x = tf.tensor4d(data.x, [6, S, S, 1]);
    const cams = await gradCam(m, x);
    cams.forEach((cam, i) => {
      assert.equal(cam.classIndex, data.y[i], `image ${i} predicted p = ${cam.probability}`);
      assert.equal(cam.heatmap.length, S * S);
    });
    for (const cam of cams.filter((_, i) => data.y[i] === 1)) {
      assert.ok(Math.abs(Math.max(...cam.heatmap) - 1) < 1e-6);
      const near = massNear(cam.heatmap, SIGNAL), distractor = massNear(cam.heatmap, DISTRACTOR);
      // the 6x6 neighbourhood is 14% of the image: a uniform map would score 0.14
      assert.ok(near > 0.8, `heatmap mass near the signal ${near.toFixed(3)}`);
      assert.ok(distractor < 0.02, `heatmap mass near the distractor ${distractor.toFixed(3)}`);
    }
    // Explaining NORMAL on a pneumonia image: evidence for it is negative everywhere -> empty map.
    const asNormal = await gradCam(m, x, { classIndex: 0 });
    assert.equal(Math.max(...asNormal[1].heatmap), 0);
    // The first layer's map (filter 0 only matters) is also at the signal.
    const first = await gradCam(m, x, { classIndex: 1, layerName: layers[0].name });
    assert.equal(first[1].layer, layers[0].name);
    assert.ok(massNear(first[1].heatmap, SIGNAL) > 0.8);
    await assert.rejects(() => gradCam(m, x, { layerName: "nope" }), /no layer named "nope"/);

    const png = await overlayHeatmapPng(
      Uint8Array.from(data.x.slice(S * S, 2 * S * S), (v) => Math.round(v * 255)),
      S,
      S,
      cams[1].heatmap,
      S,
      S,
      { outSize: 64 },
    );
    const meta = await sharp(png).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ["png", 64, 64]);
    // A zero heatmap leaves the X-ray untouched; a hot one colours it.
    const gray = Uint8Array.from({ length: 16 }, (_, i) => i * 10);
    const plain = await sharp(await overlayHeatmapPng(gray, 4, 4, new Float32Array(4), 2, 2)).raw()
      .toBuffer();
    assert.deepEqual([...plain.subarray(0, 6)], [0, 0, 0, 10, 10, 10]);
    const hot = await sharp(await overlayHeatmapPng(gray, 4, 4, new Float32Array(4).fill(1), 2, 2))
      .raw().toBuffer();
    assert.notEqual(hot[0], hot[2], "coloured, not gray");
  } finally {
    tf.engine().endScope();
  }
});

Deno.test("gradCam refuses a model with a branch", async () => {
  await initBackend({ prefer: "cpu" });
  const input = tfl.input({ shape: [8, 8, 1] });
  const a = tfl.layers.conv2d({ filters: 2, kernelSize: 3, padding: "same" }).apply(
    input,
  ) as tfl.SymbolicTensor;
  const b = tfl.layers.conv2d({ filters: 2, kernelSize: 3, padding: "same" }).apply(
    input,
  ) as tfl.SymbolicTensor;
  const sum = tfl.layers.add().apply([a, b]) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({ units: 1, activation: "sigmoid" }).apply(
    tfl.layers.flatten().apply(sum) as tfl.SymbolicTensor,
  ) as tfl.SymbolicTensor;
  const m = tfl.model({ inputs: input, outputs: out });
  const x = tf.randomUniform([1, 8, 8, 1]) as tf.Tensor4D;
  await assert.rejects(() => gradCam(m, x, { layerName: m.layers[1].name }), /chain/);
  m.dispose();
  x.dispose();
});

Deno.test("a nested base with a residual branch (as MobileNetV2) stays whole: features and Grad-CAM run", async () => {
  await initBackend({ prefer: "cpu" });
  // The base: conv -> conv, plus a skip connection (add), as MobileNetV2's residual blocks.
  const bin = tfl.input({ shape: [8, 8, 1] });
  const c1 = tfl.layers.conv2d({ filters: 2, kernelSize: 3, padding: "same", activation: "relu" })
    .apply(bin) as tfl.SymbolicTensor;
  const c2 = tfl.layers.conv2d({ filters: 2, kernelSize: 3, padding: "same" })
    .apply(c1) as tfl.SymbolicTensor;
  const base = tfl.model({
    inputs: bin,
    outputs: tfl.layers.add().apply([c1, c2]) as tfl.SymbolicTensor,
    name: "branchy_base",
  });
  // The transfer model around it (lib/models/transfer.ts builds the same shape of graph).
  const input = tfl.input({ shape: [8, 8, 1] });
  const pooled = tfl.layers.globalAveragePooling2d({}).apply(
    base.apply(input) as tfl.SymbolicTensor,
  ) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({ units: 1, activation: "sigmoid" }).apply(
    pooled,
  ) as tfl.SymbolicTensor;
  const m = tfl.model({ inputs: input, outputs: out });
  const layers = flattenLayers(m);
  assert.deepEqual(layers.map((l) => l.name), [
    "branchy_base",
    m.layers[2].name,
    m.layers[3].name,
  ]);
  assert.equal(defaultCamLayerIndex(layers), 0);
  const x = tf.randomUniform([3, 8, 8, 1], 0, 1, "float32", 7) as tf.Tensor4D;
  // The penultimate features are the pooled base output, computed as a whole graph by tfjs.
  const expected = tfl.model({ inputs: input, outputs: pooled }).predict(x) as tf.Tensor;
  const got = penultimateWith(tf, m, x);
  assert.deepEqual(got.shape, [3, 2]);
  const g = Array.from(await got.data()), e = Array.from(await expected.data());
  g.forEach((v: number, i: number) =>
    assert.ok(Math.abs(v - e[i]) < 1e-6, `feature ${i}: ${v} vs ${e[i]}`)
  );
  const cams = await gradCam(m, x);
  assert.equal(cams.length, 3);
  assert.equal(cams[0].layer, "branchy_base");
  assert.equal(cams[0].heatmap.length, 64);
  tf.dispose([x, expected, got]);
  m.dispose();
});

Deno.test("gradCam refuses a model without convolutions", async () => {
  await initBackend({ prefer: "cpu" });
  const m = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [4], units: 1 })] });
  assert.throws(() => defaultCamLayerIndex(flattenLayers(m)), /needs a convolutional model/);
  m.dispose();
});

Deno.test("heatmapMassOutside on hand-worked maps", () => {
  // 20x20 map, box x 0.15-0.85, y 0.1-0.9, pixel centres 0.025..0.975: inside are cols 3..16
  // (14) and rows 2..17 (16), 224 of 400 pixels
  const h = new Float32Array(400);
  h[0] = 1; // corner: outside
  h[10 * 20 + 10] = 3; // centre: inside
  assert.equal(heatmapMassOutside(h, 20, 20), 0.25);
  const uniform = new Float32Array(400).fill(1);
  assert.ok(Math.abs(heatmapMassOutside(uniform, 20, 20) - 176 / 400) < 1e-12);
  assert.ok(Math.abs(boxAreaOutside() - 0.44) < 1e-12);
  assert.ok(Number.isNaN(heatmapMassOutside(new Float32Array(4), 2, 2)));
  assert.throws(() => heatmapMassOutside(h, 5, 5), /400 values, expected 5x5/);
});
