/**
 * Rebuilds the pretrained base of the `transfer` model from the npm package nsfwjs@4.4.0 in one
 * command: unpacks the package's bundled model (`dist/models/<name>/model.min.js` plus
 * `group1-shardXofN.min.js`, browserify/UMD modules that embed the model JSON as a JavaScript
 * object literal and each weight shard as a base64 string) into a standard TF.js layers folder,
 * then cuts it with {@link extractBase}.
 *
 * ```sh
 * cd /tmp && npm pack nsfwjs@4.4.0 && tar xzf nsfwjs-4.4.0.tgz   # -> /tmp/package
 * deno run --allow-read --allow-write=outputs --allow-env lib/models/nsfwjs_base.ts \
 *   --package /tmp/package --out outputs/bases/mobilenet_v2_128
 * ```
 * @module
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { writeFileAtomic } from "../util/atomic.ts";
import { extractBase } from "./extract_base.ts";

/** What {@link unpackNsfwjsModel} wrote. */
export interface UnpackedModel {
  /** Path of the written model.json. */
  modelJson: string;
  /** Paths of the written weight shards, in manifest order. */
  weightFiles: string[];
}

/** Thrown when a bundled model file is not in the format nsfwjs 4.x ships; names the file. */
export class NsfwjsFormatError extends Error {
  /** Creates the error for `path`, saying what was expected there. */
  constructor(readonly path: string, readonly reason: string) {
    super(`${path}: ${reason}`);
    this.name = "NsfwjsFormatError";
  }
}

/** How each nsfwjs model is cut for `transfer`: the last convolutional activation. */
export const NSFWJS_MODELS: Record<string, { layer: string; description: string }> = {
  mobilenet_v2: { layer: "out_relu", description: "MobileNetV2 (224 px), 2.6 MB of uint8 weights" },
  inception_v3: { layer: "mixed10", description: "InceptionV3 (299 px), 29 MB of uint8 weights" },
};

// The modules assign one value to `module.exports` (browserify: `a.exports=...`); ESM builds
// would use `export default ...`. The anchor must be followed directly by the literal.
const EXPORT_ANCHOR = /(?:\b[A-Za-z_$][\w$]*\.exports|export\s+default)\s*=?\s*/g;

/** Offset just past the first export anchor followed by `first` (`{` or a quote), or -1. */
function findExport(src: string, first: RegExp): number {
  for (const m of src.matchAll(EXPORT_ANCHOR)) {
    const at = m.index! + m[0].length;
    if (first.test(src[at] ?? "")) return at;
  }
  return -1;
}

/**
 * Parses the JavaScript object literal starting at `src[start]` and returns its value.
 *
 * Written by hand because no installed library reads minified JS literals: JSON.parse rejects
 * unquoted keys, `!0`/`!1` and `.5`, and evaluating the bundle would run package code. Only data
 * syntax is accepted (objects, arrays, strings, numbers, `!0`, `!1`, true, false, null, `void 0`).
 */
export function parseJsLiteral(src: string, start = 0, file = "<input>"): unknown {
  let i = start;
  const fail = (what: string): never => {
    throw new NsfwjsFormatError(
      file,
      `expected ${what} in the embedded model literal at offset ${i}, found ` +
        JSON.stringify(src.slice(i, i + 20)),
    );
  };
  const ws = () => {
    while (i < src.length && /\s/.test(src[i])) i++;
  };
  const str = (): string => {
    const q = src[i];
    let j = i + 1;
    let body = "";
    while (j < src.length && src[j] !== q) {
      if (src[j] === "\\") {
        body += src.slice(j, j + 2);
        j += 2;
      } else {
        body += src[j] === '"' ? '\\"' : src[j];
        j++;
      }
    }
    if (j >= src.length) fail("a closing quote");
    i = j + 1;
    return JSON.parse(`"${q === "'" ? body.replace(/\\'/g, "'") : body}"`);
  };
  const value = (): unknown => {
    ws();
    const c = src[i];
    if (c === "{") {
      i++;
      const obj: Record<string, unknown> = {};
      ws();
      while (src[i] !== "}") {
        let key: string;
        if (src[i] === '"' || src[i] === "'") key = str();
        else {
          const m = /^[A-Za-z_$][\w$]*|^\d+/.exec(src.slice(i, i + 256));
          if (!m) return fail("a property name");
          key = m[0];
          i += key.length;
        }
        ws();
        if (src[i] !== ":") fail("':'");
        i++;
        obj[key] = value();
        ws();
        if (src[i] === ",") {
          i++;
          ws();
        } else if (src[i] !== "}") fail("',' or '}'");
      }
      i++;
      return obj;
    }
    if (c === "[") {
      i++;
      const arr: unknown[] = [];
      ws();
      while (src[i] !== "]") {
        arr.push(value());
        ws();
        if (src[i] === ",") i++;
        else if (src[i] !== "]") fail("',' or ']'");
        ws();
      }
      i++;
      return arr;
    }
    if (c === '"' || c === "'") return str();
    const rest = src.slice(i, i + 64);
    const num = /^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?/.exec(rest);
    if (num) {
      i += num[0].length;
      return Number(num[0]);
    }
    for (
      const [tok, v] of [["!0", true], ["!1", false], ["true", true], ["false", false], [
        "null",
        null,
      ], ["void 0", null]] as const
    ) {
      if (rest.startsWith(tok)) {
        i += tok.length;
        return v;
      }
    }
    return fail("a value (object, array, string, number, boolean or null)");
  };
  return value();
}

const DTYPE_BYTES: Record<string, number> = {
  float32: 4,
  int32: 4,
  bool: 1,
  uint8: 1,
  uint16: 2,
  float16: 2,
};

/** Bytes the manifest's weights occupy (quantized ones at their stored width). */
function manifestBytes(manifest: { weights: Record<string, unknown>[] }[]): number {
  let total = 0;
  for (const group of manifest) {
    for (const w of group.weights) {
      const q = w.quantization as { dtype?: string } | undefined;
      const dtype = q?.dtype ?? (w.dtype as string);
      const size = (w.shape as number[]).reduce((a, b) => a * b, 1);
      total += size * (DTYPE_BYTES[dtype] ?? NaN);
    }
  }
  return total;
}

/**
 * Reads an nsfwjs bundled model folder (`.../dist/models/mobilenet_v2` or `inception_v3`:
 * `model.min.js` + one `<path>.min.js` per weight shard) and writes a standard TF.js layers
 * model to `outDir` (model.json + the shards under their manifest names). Throws
 * {@link NsfwjsFormatError} naming the file when a module is not in the expected format or the
 * decoded weights do not match the manifest's size.
 */
export async function unpackNsfwjsModel(dir: string, outDir: string): Promise<UnpackedModel> {
  const jsonFile = join(dir, "model.min.js");
  const src = await Deno.readTextFile(jsonFile);
  const at = findExport(src, /\{/);
  if (at < 0) {
    throw new NsfwjsFormatError(
      jsonFile,
      "no `<module>.exports={...}` (or `export default {...}`) object literal found",
    );
  }
  const model = parseJsLiteral(src, at, jsonFile) as Record<string, unknown>;
  const manifest = model.weightsManifest as { paths: string[]; weights: never[] }[] | undefined;
  if (!model.modelTopology || !Array.isArray(manifest)) {
    throw new NsfwjsFormatError(
      jsonFile,
      "the exported object has no modelTopology and weightsManifest (not a TF.js layers model)",
    );
  }
  const shards: Uint8Array[] = [];
  const weightFiles: string[] = [];
  for (const p of manifest.flatMap((g) => g.paths)) {
    const shardFile = join(dir, `${p}.min.js`);
    const shardSrc = await Deno.readTextFile(shardFile);
    const s = findExport(shardSrc, /["']/);
    const m = s < 0 ? null : /^(["'])([A-Za-z0-9+/]*={0,2})\1/.exec(shardSrc.slice(s));
    if (!m) {
      throw new NsfwjsFormatError(
        shardFile,
        'no `<module>.exports="<base64>"` weight string found',
      );
    }
    const bytes = Uint8Array.from(atob(m[2]), (ch) => ch.charCodeAt(0));
    shards.push(bytes);
    weightFiles.push(join(outDir, p));
  }
  const got = shards.reduce((a, b) => a + b.length, 0);
  const want = manifestBytes(manifest);
  if (got !== want) {
    throw new NsfwjsFormatError(
      dir,
      `the shards decode to ${got} bytes but the manifest in model.min.js describes ${want}`,
    );
  }
  await Deno.mkdir(outDir, { recursive: true });
  // Weights first, model.json last: a present model.json means a complete folder.
  for (let k = 0; k < shards.length; k++) await writeFileAtomic(weightFiles[k], shards[k]);
  const modelJson = join(outDir, "model.json");
  await writeFileAtomic(modelJson, JSON.stringify(model));
  return { modelJson, weightFiles };
}

if (import.meta.main) {
  const { values: v } = parseArgs({
    args: Deno.args,
    options: {
      package: { type: "string" },
      model: { type: "string", default: "mobilenet_v2" },
      size: { type: "string", default: "128" },
      out: { type: "string" },
      unpacked: { type: "string" },
      scale: { type: "string", default: String(2 / 255) },
      mean: { type: "string", default: "1" },
    },
  });
  const spec = NSFWJS_MODELS[v.model!];
  if (!v.package || !v.out || !spec) {
    throw new Error(
      "usage: nsfwjs_base.ts --package PATH/TO/nsfwjs (the unpacked npm tarball) --out DIR " +
        `[--model ${Object.keys(NSFWJS_MODELS).join("|")}] [--size 128] ` +
        "[--unpacked DIR (default outputs/bases/nsfwjs_<model>)] [--scale 2/255 --mean 1]",
    );
  }
  const unpackedDir = v.unpacked ?? join("outputs", "bases", `nsfwjs_${v.model}`);
  const un = await unpackNsfwjsModel(join(v.package, "dist", "models", v.model!), unpackedDir);
  console.log(`unpacked ${v.model} -> ${un.modelJson} + ${un.weightFiles.length} shard(s)`);
  const { initBackend } = await import("../backend/select.ts");
  await initBackend();
  // Default scaling maps u8 to [-1, 1] (Keras MobileNetV2/InceptionV3 ImageNet convention, what
  // the frozen early blocks were trained with). nsfwjs itself feeds u8/255 in [0, 1] to its
  // fine-tuned classifier; pass --scale 0.00392156862745098 --mean 0 to match that instead.
  const base = await extractBase(un.modelJson, v.out, {
    layer: spec.layer,
    size: Number(v.size),
    scaling: { scale: Number(v.scale), mean: Number(v.mean), std: 1 },
    description: `${spec.description.split(",")[0]} from the npm package nsfwjs@4.4.0: ` +
      "ImageNet-initialised, then fine-tuned on a non-medical 5-class image task (nsfwjs); " +
      `cut at ${spec.layer}. Not trained on X-rays; ImageNet weights can replace it.`,
  });
  console.log(
    `saved ${base.name}: cut at ${spec.layer}, input ${JSON.stringify(base.inputs[0].shape)}, ` +
      `output ${JSON.stringify(base.outputs[0].shape)}, ${base.countParams()} params -> ${v.out}`,
  );
}
