/**
 * Saving and loading TF.js layers models on the local disk from Deno.
 *
 * TF.js only registers `file://` handlers in tfjs-node, which cannot install here; these two
 * small IO handlers write and read the standard TF.js format (model.json + weight files) with
 * Deno's file API so a saved model loads in any TF.js (`tf.loadLayersModel`) elsewhere.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { writeFileAtomic, writeJsonAtomic } from "../util/atomic.ts";

/** Turns `file:///a/b`, `/a/b` or `a/b` (folder or model.json) into the model.json path. */
export function modelJsonPath(pathOrUrl: string): string {
  let p = pathOrUrl.startsWith("file://") ? fileURLToPath(pathOrUrl) : pathOrUrl;
  p = resolve(p);
  return p.endsWith(".json") ? p : join(p, "model.json");
}

/** Largest weight file written: tensorflowjs_converter's shard size (4 MiB). */
export const WEIGHT_SHARD_BYTES = 4 * 1024 * 1024;

/** The weight files of `bytes` bytes of weights: `weights.bin`, or numbered 4 MiB shards. */
export function weightFileNames(bytes: number, shard = WEIGHT_SHARD_BYTES): string[] {
  const n = Math.max(1, Math.ceil(bytes / shard));
  return n === 1
    ? ["weights.bin"]
    : Array.from({ length: n }, (_, i) => `weights-shard${i + 1}of${n}.bin`);
}

/**
 * Writes `model` to `dir` as model.json + weights.bin, or 4 MiB shards for a larger model (a
 * transfer model with its frozen base), as tensorflowjs_converter does; atomic writes, weights
 * first, so model.json names only whole files.
 */
export async function saveModel(model: tfl.LayersModel, dir: string): Promise<void> {
  await model.save(tf.io.withSaveHandler(async (artifacts) => {
    const data = tf.io.concatenateArrayBuffers(artifacts.weightData ?? new ArrayBuffer(0));
    const paths = weightFileNames(data.byteLength);
    for (const [i, name] of paths.entries()) {
      const start = i * WEIGHT_SHARD_BYTES;
      await writeFileAtomic(
        join(dir, name),
        new Uint8Array(data, start, Math.min(WEIGHT_SHARD_BYTES, data.byteLength - start)),
      );
    }
    await writeJsonAtomic(join(dir, "model.json"), {
      modelTopology: artifacts.modelTopology,
      format: "layers-model",
      generatedBy: "pneumonia-xray (TF.js " + tf.version_core + ")",
      convertedBy: null,
      weightsManifest: [{ paths, weights: artifacts.weightSpecs }],
    });
    return {
      modelArtifactsInfo: {
        dateSaved: new Date(),
        modelTopologyType: "JSON",
        weightDataBytes: data.byteLength,
      },
    };
  }));
}

/** A TF.js load handler that reads a model.json and its weight files from the local disk. */
export function fileLoadHandler(pathOrUrl: string): tf.io.IOHandler {
  const jsonPath = modelJsonPath(pathOrUrl);
  return {
    load: async () => {
      let json: tf.io.ModelJSON;
      try {
        json = JSON.parse(await Deno.readTextFile(jsonPath));
      } catch (err) {
        throw new Error(
          `Cannot read a TF.js model at ${jsonPath}: ${(err as Error).message} ` +
            "(expected a model.json written by tensorflowjs_converter or model.save)",
        );
      }
      return tf.io.getModelArtifactsForJSON(json, async (manifest) => {
        const specs: tf.io.WeightsManifestEntry[] = [];
        const buffers: ArrayBuffer[] = [];
        for (const group of manifest) {
          specs.push(...group.weights);
          for (const p of group.paths) {
            const bytes = await Deno.readFile(join(dirname(jsonPath), p));
            buffers.push(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
          }
        }
        return [specs, tf.io.concatenateArrayBuffers(buffers)];
      });
    },
  };
}

/** Loads a TF.js layers model from a local folder, model.json path or file:// URL. */
export function loadModel(pathOrUrl: string): Promise<tfl.LayersModel> {
  return tfl.loadLayersModel(fileLoadHandler(pathOrUrl));
}
