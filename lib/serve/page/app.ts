/**
 * The screening page (browser entry point, bundled into `app.js` by `deno task build-page`).
 * Loads `run.json` and the model next to it with the page's TF.js (WebGPU, else WebGL, else
 * wasm, else cpu; `?backend=NAME` forces one), then screens every dropped or chosen file in the
 * browser: nothing is uploaded, and nothing is fetched from anywhere but the page's own folder.
 * @module
 */
import type * as TfCore from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";
import { type FileResult, resultsCsv, type RunInfo, runMembers, screenBytes } from "./pipeline.ts";

/** The global `tf` of the dist bundles: core, layers and the backends' extras. */
type GlobalTf = typeof TfCore & typeof tfl & { wasm?: { setWasmPaths(p: string): void } };
const tf = (globalThis as unknown as { tf: GlobalTf }).tf;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const results: FileResult[] = [];
/** For tests and curious users: the page's state (results in full precision). */
const state = { ready: false, backend: "", results, error: "" };
(globalThis as unknown as { __screening: typeof state }).__screening = state;

/** Tries the backends in order of speed; the first that initialises wins. */
async function pickBackend(): Promise<string> {
  tf.wasm?.setWasmPaths(new URL("vendor/", location.href).href);
  const forced = new URLSearchParams(location.search).get("backend");
  const order = forced ? [forced] : ["webgpu", "webgl", "wasm", "cpu"];
  for (const name of order) {
    try {
      if (await tf.setBackend(name)) {
        await tf.ready();
        return tf.getBackend();
      }
    } catch {
      // Not available in this browser: try the next one.
    }
  }
  throw new Error(`no TF.js backend could start (tried ${order.join(", ")})`);
}

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  text = "",
  cls = "",
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (text) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

/** A canvas showing RGB or gray bytes. */
function canvasOf(
  data: ArrayLike<number>,
  width: number,
  height: number,
  channels: number,
): HTMLCanvasElement {
  const c = el("canvas");
  c.width = width, c.height = height;
  const ctx = c.getContext("2d")!;
  const img = ctx.createImageData(width, height);
  for (let i = 0; i < width * height; i++) {
    for (let k = 0; k < 3; k++) img.data[i * 4 + k] = data[i * channels + (channels >= 3 ? k : 0)];
    img.data[i * 4 + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
  return c;
}

/** One card per file: picture, overlay, numbers, warnings. */
function card(r: FileResult, run: RunInfo): HTMLElement {
  const box = el("section", "", "card");
  box.dataset.file = r.file;
  box.append(el("h3", r.file));
  if (r.error) {
    box.classList.add("error");
    box.append(el("p", `Not read: ${r.error}`, "reason"));
    return box;
  }
  const pics = el("div", "", "pics");
  if (r.preview) {
    const c = canvasOf(r.preview.data, r.preview.width, r.preview.height, r.preview.channels);
    c.className = "preview";
    pics.append(c);
  }
  if (r.overlay) {
    const c = canvasOf(r.overlay, run.preprocessing.size, run.preprocessing.size, 3);
    c.className = "overlay";
    c.title = "Grad-CAM: where the model looked for its answer";
    pics.append(c);
  }
  box.append(pics);
  const verdict = el("p", "", "verdict");
  const flagged = r.warnings.length > 0;
  verdict.append(
    el(
      "strong",
      `${r.label ?? ""}${flagged ? " (out of scope)" : ""}`,
      flagged ? "unsure" : r.label === "PNEUMONIA" ? "pos" : "neg",
    ),
    el(
      "span",
      ` P(pneumonia) = ${r.prob!.toFixed(4)} (threshold ${run.decision.threshold.toFixed(4)})`,
    ),
  );
  box.append(verdict);
  if (flagged) {
    box.classList.add("flagged");
    box.append(
      el("p", "Out of scope: check before use. The score may not apply to this image.", "flag"),
    );
    const ul = el("ul", "", "warnings");
    for (const w of r.warnings) ul.append(el("li", w.message));
    box.append(ul);
  }
  return box;
}

/** Rewrites the batch table. */
function renderTable(): void {
  const body = $("rows");
  body.replaceChildren();
  for (const r of results) {
    const tr = el("tr");
    tr.append(
      el("td", r.file),
      el("td", r.prob === null ? "-" : r.prob.toFixed(4)),
      el("td", r.error ? "error" : `${r.label ?? ""}${r.warnings.length ? " (out of scope)" : ""}`),
      el("td", r.error ? r.error : r.warnings.map((w) => w.code).join(", ") || "none"),
    );
    if (r.warnings.length || r.error) tr.className = "flagged";
    body.append(tr);
  }
  $<HTMLButtonElement>("csv").disabled = results.length === 0;
}

async function handleFiles(
  files: FileList | File[],
  models: tfl.LayersModel[],
  run: RunInfo,
) {
  $("status").textContent = `Screening ${files.length} file(s)...`;
  for (const f of Array.from(files)) {
    const bytes = new Uint8Array(await f.arrayBuffer());
    const r = await screenBytes(tf, models, run, f.name, bytes);
    results.push(r);
    $("cards").append(card(r, run));
    renderTable();
  }
  $("status").textContent = `${results.length} file(s) screened on this device (${state.backend}).`;
}

function downloadCsv(run: RunInfo): void {
  const blob = new Blob([resultsCsv(results, run.decision)], { type: "text/csv" });
  const a = el("a");
  a.href = URL.createObjectURL(blob);
  a.download = "screening.csv";
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

async function main(): Promise<void> {
  const run = await (await fetch("run.json")).json() as RunInfo;
  const members = runMembers(run);
  const describe = (p: RunInfo["preprocessing"]) =>
    `${p.size}x${p.size}, ${p.channels === 1 ? "grayscale" : "RGB"}` +
    (p.chestRegion !== "none" ? `, chest region ${p.chestRegion}` : "") +
    (p.intensity && p.intensity !== "none" ? `, ${p.intensity}` : "");
  $("model").textContent = members.length === 1
    ? `${run.name}: ${describe(run.preprocessing)}`
    : `${run.name}: the mean of ${members.length} models (${
      members.map((m) => `${m.name}: ${describe(m.preprocessing)}`).join("; ")
    }); heatmap and out-of-scope features from ${members[0].name}`;
  $("decision").textContent = run.decision.words;
  if (!run.ood) {
    $("oodnote").textContent = "This run has no ood.json: only the fixed out-of-scope checks run.";
  }
  state.backend = await pickBackend();
  const models: tfl.LayersModel[] = [];
  for (const m of members) models.push(await tf.loadLayersModel(m.model));
  $("backend").textContent = state.backend;
  const drop = $("drop"), input = $<HTMLInputElement>("files");
  drop.addEventListener("dragover", (e) => {
    e.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    if (e.dataTransfer?.files.length) handleFiles(e.dataTransfer.files, models, run);
  });
  input.addEventListener("change", () => input.files && handleFiles(input.files, models, run));
  $("csv").addEventListener("click", () => downloadCsv(run));
  $("status").textContent = "Ready. Images stay on this device.";
  state.ready = true;
}

main().catch((err) => {
  state.error = (err as Error).message ?? String(err);
  $("status").textContent = `Could not start: ${state.error}`;
});
