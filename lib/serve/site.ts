/**
 * The screening site of a run: every file the page needs, by its URL path. `deno task serve`
 * answers from this map and `deno task export` writes it to a folder, so both serve the same
 * files, and no URL is ever turned into a file-system path (a path that is not a key is a 404:
 * no traversal is possible).
 *
 * | URL path                     | from                                                      |
 * | ---------------------------- | --------------------------------------------------------- |
 * | `index.html`, `style.css`    | `lib/serve/page/`                                         |
 * | `app.js`                     | `lib/serve/page/app.js` (`deno task build-page`)          |
 * | `vendor/tf-*.min.js`, `*.wasm` | the TF.js dist bundles in `node_modules/@tensorflow/`   |
 * | `model/model.json`, weights  | the run's `model/` (only the files model.json lists)      |
 * | `members/NAME/model/...`     | instead, for an ensemble folder: each member's `model/`   |
 * | `run.json`                   | made here: preprocessing, classes, decision, `ood.json`, the models (`members`) |
 *
 * @example
 * ```ts
 * import { buildSite } from "./site.ts";
 * const site = await buildSite("outputs/reference");
 * site.get("index.html"); // { type: "text/html; charset=utf-8", file: ".../index.html" }
 * ```
 * @module
 */
import { basename, join, resolve } from "node:path";
import { projectPath } from "../util/project.ts";
import { readJson } from "../util/atomic.ts";
import { ensembleMembers, modelWeightFiles, readRunChestRegion } from "../train/run_files.ts";
import { readDecision } from "../eval/decision_io.ts";
import { OOD_FILE, type OodFile } from "../images/scope.ts";
import type { RunInfo, RunMember } from "./page/pipeline.ts";

/** One file of the site: its content type and where its bytes come from. */
export interface SiteFile {
  type: string;
  /** Absolute path of the file on disk, or... */
  file?: string;
  /** ...its bytes, for files made here. */
  bytes?: Uint8Array;
}

const PAGE_DIR = projectPath("lib/serve/page");
const TFJS = projectPath("node_modules/@tensorflow");

/** The vendor files: URL name -> path under node_modules/@tensorflow. */
export const VENDOR: Readonly<Record<string, string>> = {
  "tf-core.min.js": "tfjs-core/dist/tf-core.min.js",
  "tf-layers.min.js": "tfjs-layers/dist/tf-layers.min.js",
  "tf-backend-cpu.min.js": "tfjs-backend-cpu/dist/tf-backend-cpu.min.js",
  "tf-backend-webgl.min.js": "tfjs-backend-webgl/dist/tf-backend-webgl.min.js",
  "tf-backend-wasm.min.js": "tfjs-backend-wasm/dist/tf-backend-wasm.min.js",
  "tf-backend-webgpu.min.js": "tfjs-backend-webgpu/dist/tf-backend-webgpu.min.js",
  "tfjs-backend-wasm.wasm": "tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm",
  "tfjs-backend-wasm-simd.wasm": "tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm",
  "tfjs-backend-wasm-threaded-simd.wasm":
    "tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm",
};

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".json": "application/json",
  ".wasm": "application/wasm",
  ".bin": "application/octet-stream",
};

function typeOf(name: string): string {
  const ext = name.slice(name.lastIndexOf("."));
  return TYPES[ext] ?? "application/octet-stream";
}

/** Throws, naming the file and what to do, when a file the site needs is missing. */
async function mustExist(path: string, hint: string): Promise<string> {
  try {
    const st = await Deno.stat(path);
    if (!st.isFile) throw new Error("not a file");
  } catch {
    throw new Error(`${path} is missing; ${hint}`);
  }
  return path;
}

/** One model's `run.json` entry: its folder's preprocessing and the URL of its model.json. */
async function memberInfo(dir: string, url: string): Promise<RunMember> {
  const pre = await readJson<RunInfo["preprocessing"]>(join(dir, "preprocessing.json"));
  return {
    name: basename(dir),
    preprocessing: { ...pre, chestRegion: await readRunChestRegion(dir) },
    model: url,
  };
}

/**
 * The models of a run folder with their URL prefixes: the run's own `model/`, or each member's
 * `members/NAME/model/` for an ensemble folder (lib/train/ensemble.ts).
 */
async function modelsOf(dir: string): Promise<{ dir: string; prefix: string }[]> {
  const members = await ensembleMembers(dir);
  if (!members) return [{ dir, prefix: "model/" }];
  return members.map((m) => ({ dir: m, prefix: `members/${basename(m)}/model/` }));
}

/** The run's `run.json` content (what the page reads besides the models). */
export async function runInfo(runDir: string): Promise<RunInfo> {
  const dir = resolve(runDir);
  const pre = await readJson<RunInfo["preprocessing"]>(join(dir, "preprocessing.json"));
  const cfg = await readJson<{ name?: string }>(join(dir, "config.json")).catch(() => ({
    name: undefined,
  }));
  let ood: OodFile | null = null;
  try {
    ood = await readJson<OodFile>(join(dir, OOD_FILE));
  } catch {
    ood = null;
  }
  const members: RunMember[] = [];
  for (const m of await modelsOf(dir)) {
    members.push(await memberInfo(m.dir, `${m.prefix}model.json`));
  }
  return {
    name: cfg.name ?? basename(dir),
    preprocessing: { ...pre, chestRegion: await readRunChestRegion(dir) },
    classes: await readJson<string[]>(join(dir, "classes.json")),
    decision: await readDecision(dir),
    ood,
    members,
  };
}

/** All files of the screening site for the run in `runDir`, by URL path (no leading slash). */
export async function buildSite(runDir: string): Promise<Map<string, SiteFile>> {
  const dir = resolve(runDir);
  const site = new Map<string, SiteFile>();
  for (const name of ["index.html", "style.css", "app.js"]) {
    const hint = name === "app.js" ? "build it with deno task build-page" : "restore it from git";
    site.set(name, { type: typeOf(name), file: await mustExist(join(PAGE_DIR, name), hint) });
  }
  for (const [name, rel] of Object.entries(VENDOR)) {
    const file = await mustExist(
      join(TFJS, rel),
      "the npm packages @tensorflow/* 4.22.0 are needed (npm ci)",
    );
    site.set(`vendor/${name}`, { type: typeOf(name), file });
  }
  for (const m of await modelsOf(dir)) {
    const modelJson = await mustExist(
      join(m.dir, "model", "model.json"),
      `is ${m.dir} a run folder?`,
    );
    site.set(`${m.prefix}model.json`, { type: typeOf(modelJson), file: modelJson });
    for (const p of await modelWeightFiles(modelJson)) {
      site.set(`${m.prefix}${p}`, {
        type: typeOf(p),
        file: await mustExist(join(m.dir, "model", p), "the model is incomplete"),
      });
    }
  }
  const info = new TextEncoder().encode(JSON.stringify(await runInfo(dir)));
  site.set("run.json", { type: typeOf("run.json"), bytes: info });
  return site;
}

/** The bytes of one site file. */
export async function siteBytes(f: SiteFile): Promise<Uint8Array> {
  return f.bytes ?? await Deno.readFile(f.file!);
}
