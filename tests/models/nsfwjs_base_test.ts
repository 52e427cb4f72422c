import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { initBackend } from "../../lib/backend/select.ts";
import { loadModel } from "../../lib/models/io.ts";
import {
  NsfwjsFormatError,
  parseJsLiteral,
  unpackNsfwjsModel,
} from "../../lib/models/nsfwjs_base.ts";

await initBackend();

/** Serialises like a minifier does: unquoted keys, `!0`/`!1`, `.5` for 0.5. */
function toJsLiteral(v: unknown): string {
  if (v === true) return "!0";
  if (v === false) return "!1";
  if (v === null || v === undefined) return "null";
  if (typeof v === "number") return String(v).replace(/^(-?)0\./, "$1.");
  if (typeof v === "string") return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(toJsLiteral).join(",")}]`;
  return `{${
    Object.entries(v as Record<string, unknown>).map(([k, x]) =>
      `${/^[A-Za-z_$][\w$]*$/.test(k) ? k : JSON.stringify(k)}:${toJsLiteral(x)}`
    ).join(",")
  }}`;
}

/** The browserify UMD wrapper of nsfwjs 4.4.0's dist/models/<name>/*.min.js (global `name`). */
function umd(name: string, literal: string): string {
  return `!function(e){if("object"==typeof exports&&"undefined"!=typeof module)module.exports=e();` +
    `else if("function"==typeof define&&define.amd)define([],e);else{("undefined"!=typeof window?` +
    `window:"undefined"!=typeof global?global:"undefined"!=typeof self?self:this).${name}=e()}}` +
    `(function(){return function e(a,n,i){function l(_,o){if(!n[_]){if(!a[_]){var s="function"==` +
    `typeof require&&require;if(!o&&s)return s(_,!0);if(t)return t(_,!0);var c=new Error("Cannot ` +
    `find module '"+_+"'");throw c.code="MODULE_NOT_FOUND",c}var r=n[_]={exports:{}};a[_][0].call(` +
    `r.exports,function(e){return l(a[_][1][e]||e)},r,r.exports,e,a,n,i)}return n[_].exports}for(` +
    `var t="function"==typeof require&&require,_=0;_<i.length;_++)l(i[_]);return l}({1:[function(` +
    `e,a,n){a.exports=${literal}},{}]},{},[1])(1)});`;
}

function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

/** Writes `model` as nsfwjs bundles it: model.min.js + two group1-shardKof2.min.js files. */
async function writeBundled(model: tfl.LayersModel, dir: string): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  await model.save(tf.io.withSaveHandler(async (art) => {
    const data = new Uint8Array(tf.io.concatenateArrayBuffers(art.weightData as ArrayBuffer));
    const cut = Math.floor(data.length / 2) + 1; // shards split at any byte, as the converter does
    const paths = ["group1-shard1of2", "group1-shard2of2"];
    const lit = toJsLiteral({
      modelTopology: art.modelTopology,
      weightsManifest: [{ paths, weights: art.weightSpecs }],
    });
    await Deno.writeTextFile(join(dir, "model.min.js"), umd("model", lit));
    for (const [k, part] of [data.slice(0, cut), data.slice(cut)].entries()) {
      const global = paths[k].replace(/-/g, "_");
      await Deno.writeTextFile(
        join(dir, `${paths[k]}.min.js`),
        umd(global, JSON.stringify(toBase64(part))),
      );
    }
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" } };
  }));
}

function tinyModel(): tfl.LayersModel {
  const inp = tfl.input({ shape: [8, 8, 3] });
  let x = tfl.layers.conv2d({ filters: 4, kernelSize: 3, useBias: false, name: "conv" })
    .apply(inp) as tfl.SymbolicTensor;
  x = tfl.layers.batchNormalization({ name: "bn" }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.reLU({ maxValue: 6, name: "out_relu" }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.globalAveragePooling2d({}).apply(x) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({ units: 5, activation: "softmax" }).apply(x) as tfl.SymbolicTensor;
  return tfl.model({ inputs: inp, outputs: out });
}

Deno.test("parseJsLiteral reads minified data literals", () => {
  const src =
    `x.exports={a:!0,b:!1,'c d':[.5,-.25,1e-3,-2E+2,null,void 0],e:"q\\"u",f:'it\\'s "x"',` +
    `g:{},h:[],7:true}`;
  assert.deepEqual(parseJsLiteral(src, src.indexOf("{")), {
    a: true,
    b: false,
    "c d": [0.5, -0.25, 0.001, -200, null, null],
    e: 'q"u',
    f: `it's "x"`,
    g: {},
    h: [],
    7: true,
  });
  assert.throws(() => parseJsLiteral("{a:foo()}", 0, "m.js"), /m\.js: expected a value/);
});

Deno.test("unpackNsfwjsModel turns a bundled model into a TF.js folder that predicts the same", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const model = tinyModel();
    // Non-trivial BN statistics so a mis-ordered weight would change the output.
    const bn = model.getLayer("bn");
    bn.setWeights(bn.getWeights().map((w, k) => tf.randomUniform(w.shape, 0.5, 1.5, "float32", k)));
    await writeBundled(model, join(tmp, "mobilenet_v2"));
    const out = join(tmp, "unpacked");
    const res = await unpackNsfwjsModel(join(tmp, "mobilenet_v2"), out);
    assert.equal(res.modelJson, join(out, "model.json"));
    assert.deepEqual(res.weightFiles, [
      join(out, "group1-shard1of2"),
      join(out, "group1-shard2of2"),
    ]);
    const reloaded = await loadModel(out);
    const x = tf.randomUniform([2, 8, 8, 3], 0, 1, "float32", 7);
    const a = (model.predict(x) as tf.Tensor).dataSync();
    const b = (reloaded.predict(x) as tf.Tensor).dataSync();
    assert.deepEqual(Array.from(b), Array.from(a));
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("unpackNsfwjsModel names the file it cannot read", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const dir = join(tmp, "m");
    await writeBundled(tinyModel(), dir);
    const shard2 = join(dir, "group1-shard2of2.min.js");
    const good2 = await Deno.readTextFile(shard2);
    // A shard that exports a function instead of a base64 string.
    await Deno.writeTextFile(shard2, umd("s", "function(){}"));
    await assert.rejects(
      unpackNsfwjsModel(dir, join(tmp, "o")),
      (e: unknown) =>
        e instanceof NsfwjsFormatError && e.path === shard2 && /base64/.test(e.message),
    );
    // A truncated shard: decodes, but to fewer bytes than the manifest describes.
    await Deno.writeTextFile(shard2, umd("s", '"AAAA"'));
    await assert.rejects(unpackNsfwjsModel(dir, join(tmp, "o")), /shards decode to \d+ bytes/);
    await Deno.writeTextFile(shard2, good2);
    // A model module without an exported object literal.
    const jsonFile = join(dir, "model.min.js");
    await Deno.writeTextFile(jsonFile, "console.log('not a model')");
    await assert.rejects(
      unpackNsfwjsModel(dir, join(tmp, "o")),
      (e: unknown) =>
        e instanceof NsfwjsFormatError && e.path === jsonFile && e.message.startsWith(jsonFile),
    );
    // An exported object that is not a TF.js model.
    await Deno.writeTextFile(jsonFile, umd("model", "{foo:1}"));
    await assert.rejects(unpackNsfwjsModel(dir, join(tmp, "o")), /no modelTopology/);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
