/**
 * Chapter 8, inside the model: the architecture as a table (layers, output shapes, parameters)
 * and the activation maps of every convolution and pooling layer for one image, every channel
 * tiled into one grid per layer, as the original.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { join } from "node:path";
import { imageGrid } from "../charts/images.ts";
import { loadImage } from "../images/load.ts";
import { toPngDataUrl } from "../images/png.ts";
import { normalisePixels } from "../models/preprocessing.ts";
import { architectureRows, architectureTable, describeLayers } from "../models/describe.ts";
import { disposeRun, type LoadedRun, loadRun } from "../train/run.ts";
import { isFinishedRun, readResult, runDir } from "./_context.ts";
import type { ReportSettings } from "../report/settings.ts";
import type { Choice } from "./06_comparison.ts";
import { CHAPTER_RUNS } from "./_models.ts";
import type { TestEvaluation } from "./07_evaluation.ts";

/** The layer table helpers, from lib/models/describe.ts. */
export { architectureRows, architectureTable };

type Layer = tfl.layers.Layer;

/** True when a model has a 2-D convolution among its top-level layers. */
export function isConvolutional(model: tfl.LayersModel): boolean {
  return model.layers.some((l) => /Conv2D/.test(l.getClassName()));
}

/**
 * The run to look inside: the final model when it is convolutional, else the first finished
 * convolutional chapter run (compact, cnn_reg, cnn). Says which and why.
 */
export async function runToInspect(
  s: ReportSettings,
): Promise<{ run: LoadedRun; name: string; note: string }> {
  const choice = await readResult<Choice>(s, "choice", "06_comparison");
  const candidates = [choice.run, CHAPTER_RUNS.compact, CHAPTER_RUNS.cnnReg, CHAPTER_RUNS.cnn];
  for (const name of candidates) {
    if (!(await isFinishedRun(runDir(s, name)))) continue;
    const run = await loadRun(runDir(s, name));
    if (isConvolutional(run.model)) {
      const note = name === choice.run
        ? `Looking inside the final model, \`${name}\`.`
        : `The final model \`${choice.run}\` has no convolution layers at its top level; looking inside \`${name}\` instead.`;
      return { run, name, note };
    }
    disposeRun(run);
  }
  throw new Error(`No finished convolutional run in ${s.runsDir}: run notebooks 03-06 first`);
}

const FOLLOWERS = new Set(["BatchNormalization", "Activation", "ReLU", "LeakyReLU"]);

/**
 * The layers whose activations are shown: each convolution (taken after the batch norm and
 * activation that directly follow it, if any) and each 2-D pooling layer with a spatial output.
 */
export function activationLayers(model: tfl.LayersModel): { layer: Layer; label: string }[] {
  const ls = model.layers;
  const info = describeLayers(model);
  const out: { layer: Layer; label: string }[] = [];
  ls.forEach((l, i) => {
    const cls = l.getClassName();
    const what = (k: number) =>
      info[k].detail ? `${info[k].name}, ${info[k].detail}` : info[k].name;
    if (/Conv2D/.test(cls)) {
      let j = i;
      while (j + 1 < ls.length && FOLLOWERS.has(ls[j + 1].getClassName())) j++;
      const after = ls.slice(i + 1, j + 1).map((x) =>
        x.getClassName() === "BatchNormalization"
          ? "batch norm"
          : x.getClassName() === "Activation"
          ? String((x.getConfig() as { activation?: string }).activation)
          : x.getClassName()
      );
      out.push({
        layer: ls[j],
        label: `${what(i)}${after.length ? ` (after ${after.join(" + ")})` : ""}`,
      });
    } else if (/^(Max|Average)Pooling2D$/.test(cls)) {
      out.push({ layer: l, label: what(i) });
    }
  });
  return out;
}

/**
 * Tiles the channels of one activation map (h x w x c, HWC) into a grid of `cols` columns with a
 * 1-pixel gap, each channel scaled to 0-255 on its own range (a flat channel is black).
 */
export function tileChannels(
  act: Float32Array,
  h: number,
  w: number,
  c: number,
  cols = Math.min(16, c),
): { pixels: Uint8Array; width: number; height: number } {
  const rows = Math.ceil(c / cols);
  const width = cols * (w + 1) - 1, height = rows * (h + 1) - 1;
  const pixels = new Uint8Array(width * height).fill(255);
  for (let k = 0; k < c; k++) {
    let lo = Infinity, hi = -Infinity;
    for (let i = 0; i < h * w; i++) {
      const v = act[i * c + k];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    const scale = hi > lo ? 255 / (hi - lo) : 0;
    const ox = (k % cols) * (w + 1), oy = Math.floor(k / cols) * (h + 1);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        pixels[(oy + y) * width + ox + x] = Math.round((act[(y * w + x) * c + k] - lo) * scale);
      }
    }
  }
  return { pixels, width, height };
}

/** The image whose activations are shown: the test image of the TP example, else any test image. */
export async function inspectImagePath(s: ReportSettings): Promise<string> {
  const ev = await readResult<TestEvaluation>(s, "test", "07_evaluation");
  const ex = ev.examples.TP ?? ev.examples.FN ?? ev.examples.TN ?? ev.examples.FP;
  if (!ex) throw new Error("No test example recorded by chapter 7");
  return join(s.data, ex.relPath);
}

/** The input image and the activation grids of every convolution and pooling layer. */
export async function activationGrids(run: LoadedRun, imagePath: string): Promise<string[]> {
  const pre = run.preprocessing;
  const u8 = await loadImage(imagePath, { size: pre.size, channels: pre.channels });
  const input = normalisePixels(pre, u8);
  const picked = activationLayers(run.model);
  const probe = tfl.model({
    inputs: run.model.inputs,
    outputs: picked.map((p) => p.layer.output as tfl.SymbolicTensor),
  });
  const ts = tf.tidy(() => {
    const r = probe.predict(tf.tensor4d(input, [1, pre.size, pre.size, pre.channels]));
    return Array.isArray(r) ? r : [r];
  });
  // Read back asynchronously: a synchronous read fails on WebGPU under Deno.
  const outs = await Promise.all(
    ts.map(async (t) => ({ shape: t.shape, data: await t.data() as Float32Array })),
  );
  tf.dispose(ts);
  const gray = pre.channels === 1 ? u8 : u8.filter((_, i) => i % 3 === 0);
  const html = [
    imageGrid([{
      src: await toPngDataUrl(gray, pre.size, pre.size, 1),
      caption: imagePath.split("/").pop(),
    }], {
      columns: 1,
      tileWidth: 200,
      title: `Input image (${pre.size}x${pre.size}x${pre.channels})`,
    }),
  ];
  // One scale for every layer, so a 32x32 map is drawn larger than a 4x4 one: the largest map
  // gets ~56 px per channel tile (16 tiles fit the column); tiles never shrink below 18 px.
  const maxSide = Math.max(...outs.map((o) => o.shape[1] ?? 1));
  const scale = 56 / maxSide;
  for (let i = 0; i < picked.length; i++) {
    const [, h, w, c] = outs[i].shape;
    const cols = Math.min(16, c);
    const t = tileChannels(outs[i].data, h, w, c, cols);
    const src = await toPngDataUrl(t.pixels, t.width, t.height, 1);
    const tile = Math.max(18, Math.round(h * scale));
    html.push(imageGrid([{
      src,
      caption: `${c} channels of ${h}x${w} (click to enlarge)`,
    }], {
      columns: 1,
      tileWidth: cols * tile,
      pixelated: true,
      title: `Activations of ${picked[i].label}`,
    }));
  }
  return html;
}
