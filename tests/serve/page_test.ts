/**
 * The screening page in a real browser: Debian's Chromium (headless, driven by playwright-core)
 * loads the page from `deno task serve` (the real task, with its permissions), the test drops a
 * JPEG, a PNG, DICOM files and a colour photograph-like image on it, and the results of an ensemble
 * run (two models, one with CLAHE) must equal
 * `deno task predict` on the same files, with the Grad-CAM overlay matching the command line's
 * and the CSV export carrying the same numbers. Any request to another origin fails the test, and
 * the files are screened after the browser is switched offline. The browser is driven by
 * `_browser.ts` in its own process (see there why).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import sharp from "sharp";
import * as tf from "@tensorflow/tfjs-core";
import { encodeDicom } from "../../lib/images/dicom_write.ts";
import { renderChest } from "../../lib/data/synthetic.ts";
import { makeRng } from "../../lib/util/rng.ts";
import { disposeRun, loadRun } from "../../lib/train/run.ts";
import { buildEnsemble } from "../../lib/train/ensemble.ts";
import { loadImage } from "../../lib/images/load.ts";
import { gradCam } from "../../lib/eval/gradcam.ts";
import { inputTensor } from "../../lib/eval/predict.ts";
import { projectPath } from "../../lib/util/project.ts";
import { tinyRun } from "./_run.ts";

const CHROMIUM = "/usr/bin/chromium";
const IMG2DCM = "/usr/bin/img2dcm";
const exists = (p: string) => Deno.stat(p).then(() => true, () => false);

/** Runs `deno task NAME ...args` and returns its stdout (throws with stderr on failure). */
async function task(name: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "-q", name, ...args],
    cwd: projectPath("."),
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  if (out.code !== 0) throw new Error(`deno task ${name} failed: ${dec.decode(out.stderr)}`);
  return dec.decode(out.stdout);
}

/** Starts `deno task serve` on a free port; resolves with its URL and the child process. */
async function startServer(run: string): Promise<{ url: string; child: Deno.ChildProcess }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["task", "-q", "serve", "--run", run, "--port", "0"],
    cwd: projectPath("."),
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!/http:\/\/\S+\//.test(text)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`deno task serve exited before listening: ${text}`);
    text += value;
  }
  reader.releaseLock();
  return { url: /http:\/\/\S+\//.exec(text)![0], child };
}

/** The test's images: name -> bytes. */
async function makeImages(dir: string): Promise<Record<string, Uint8Array>> {
  const size = 64;
  const chest = (seed: number, kind: "normal" | "bacteria") =>
    renderChest(makeRng(seed), size, kind);
  const raw = (px: Uint8Array, ch: 1 | 3 = 1) =>
    sharp(px, { raw: { width: size, height: size, channels: ch } });
  const png = chest(11, "bacteria");
  const files: Record<string, Uint8Array> = {
    "chest.jpeg": new Uint8Array(await raw(chest(12, "normal")).jpeg({ quality: 90 }).toBuffer()),
    "chest.png": new Uint8Array(await raw(png).png().toBuffer()),
    // The PNG's picture as MONOCHROME1, 16 bits (12 stored), VOI LUT.
    "chest_m1_voilut.dcm": encodeDicom(png, size, size, {
      bits: 16,
      monochrome1: true,
      voi: "lut",
    }),
    // Out of scope: a colour picture (a photograph would be).
    "photo.jpeg": new Uint8Array(
      await raw(
        new Uint8Array(size * size * 3).map((_, i) => (i % 3 === 0 ? 200 : 40) + (i % 17)),
        3,
      )
        .jpeg({ quality: 90 }).toBuffer(),
    ),
  };
  for (const [name, bytes] of Object.entries(files)) await Deno.writeFile(join(dir, name), bytes);
  if (await exists(IMG2DCM)) {
    const out = await new Deno.Command(IMG2DCM, {
      args: [join(dir, "chest.jpeg"), join(dir, "chest_img2dcm.dcm")],
    }).output();
    if (out.code === 0) {
      files["chest_img2dcm.dcm"] = await Deno.readFile(join(dir, "chest_img2dcm.dcm"));
    }
  } else {console.log(
      `${IMG2DCM} absent (Debian package dcmtk): no JPEG-encapsulated DICOM in this test`,
    );}
  return files;
}

interface PageResult {
  file: string;
  prob: number | null;
  label: string | null;
  warnings: { code: string }[];
  heatmap?: number[];
  error?: string;
}

const hasChromium = await exists(CHROMIUM);
if (!hasChromium) console.log(`page test ignored: ${CHROMIUM} not found (Debian package chromium)`);

Deno.test({
  name: "screening page in headless Chromium: same results as deno task predict, offline",
  ignore: !hasChromium,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const t0 = performance.now();
    // An ensemble of two runs, the second with CLAHE (sharp's on the command line, the page's
    // own port in the browser): the page must average them as predict does.
    const plain = await tinyRun("page-test");
    const clahe = await tinyRun("page-test-clahe", {
      intensity: "clahe",
      seed: 4,
      data: plain.data,
    });
    const run = projectPath(`outputs/tmp/page-test-ensemble-${crypto.randomUUID().slice(0, 8)}`);
    await buildEnsemble({ members: [plain.run, clahe.run], out: run, log: () => {} });
    const cleanup = async () => {
      await Deno.remove(run, { recursive: true }).catch(() => {});
      await clahe.cleanup();
      await plain.cleanup();
    };
    const dir = await Deno.makeTempDir({ prefix: "page_test_" });
    const files = await makeImages(dir);
    const names = Object.keys(files);
    const cli = JSON.parse(
      await task("predict", ["--run", run, "--json", ...names.map((n) => join(dir, n))]),
    );
    const { url, child } = await startServer(run);
    let out: {
      state: { ready: boolean; backend: string; error: string };
      results: PageResult[];
      overlays: number[][];
      csv: string;
      foreign: string[];
      errors: string[];
    };
    try {
      const driver = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          projectPath("tests/serve/_browser.ts"),
          JSON.stringify({ url, chromium: CHROMIUM, files: names.map((n) => [n, join(dir, n)]) }),
        ],
        cwd: projectPath("."),
        stdout: "piped",
        stderr: "piped",
      }).output();
      const dec = new TextDecoder();
      assert.equal(driver.code, 0, `browser driver failed: ${dec.decode(driver.stderr)}`);
      out = JSON.parse(dec.decode(driver.stdout).trim().split("\n").pop()!);
    } finally {
      child.kill("SIGTERM");
      await child.status;
    }
    try {
      assert.equal(out.state.error, "", `page failed to start: ${out.state.error}`);
      const got = out.results;
      // Same probabilities, labels and warnings as deno task predict.
      for (const [i, name] of names.entries()) {
        const p = got.find((r) => r.file === name)!, c = cli[i];
        assert.ok(p && !p.error, `${name}: page error ${p?.error}`);
        assert.ok(
          Math.abs(p.prob! - c.prob) <= 1e-4,
          `${name}: page ${p.prob} vs predict ${c.prob}`,
        );
        assert.equal(p.label, c.label, name);
        assert.deepEqual(p.warnings.map((w) => w.code), c.warnings.map((w: any) => w.code), name);
      }
      const byName = Object.fromEntries(got.map((r) => [r.file, r]));
      assert.equal(byName["chest_m1_voilut.dcm"].prob, byName["chest.png"].prob, "DICOM = PNG");
      assert.ok(byName["photo.jpeg"].warnings.some((w) => w.code === "colour"), "photo flagged");
      assert.equal(
        byName["chest.png"].warnings.length,
        0,
        "the in-distribution PNG is not flagged",
      );

      // The overlay: one canvas per file at the model's size, and the page's Grad-CAM heatmap
      // equals the command line's (gradcam.ts) on the same input.
      const sizes = out.overlays;
      assert.equal(sizes.length, names.length);
      for (const s of sizes) assert.deepEqual(s, [32, 32]);
      // The heatmap is the first member's, explaining the ensemble's label.
      const loaded = await loadRun(run);
      try {
        assert.equal(loaded.members?.length, 2);
        const px = await loadImage(join(dir, "chest.png"), { size: 32, channels: 1 });
        const x = inputTensor(loaded.preprocessing, px, 1);
        const label = cli[names.indexOf("chest.png")].label;
        const [cam] = await gradCam(loaded.model, x, {
          classIndex: label === "PNEUMONIA" ? 1 : 0,
        });
        x.dispose();
        const diff = Math.max(
          ...cam.heatmap.map((v, i) => Math.abs(v - byName["chest.png"].heatmap![i])),
        );
        assert.ok(diff < 1e-3, `Grad-CAM heatmap differs from the command line's by ${diff}`);
      } finally {
        disposeRun(loaded);
      }

      // The CSV export: one row per file, same numbers.
      const rows = out.csv.trim().split("\n");
      assert.equal(
        rows[0],
        "file,probability,label,threshold,threshold_source,in_scope,warnings,distance,error",
      );
      assert.equal(rows.length, names.length + 1);
      for (const [i, name] of names.entries()) {
        const cells = rows.find((r) => r.startsWith(name + ","))!.split(",");
        assert.ok(Math.abs(Number(cells[1]) - cli[i].prob) <= 1e-4, `CSV ${name}`);
        assert.equal(cells[2], cli[i].label);
        assert.equal(cells[5], cli[i].warnings.length ? "no" : "yes");
      }
      assert.deepEqual(out.foreign, [], "requests to another origin");
      assert.deepEqual(out.errors, [], "page errors");
      console.log(
        `page test: ${names.length} files, backend ${out.state.backend}, ` +
          `${((performance.now() - t0) / 1000).toFixed(1)} s`,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
      await cleanup();
      tf.disposeVariables();
    }
  },
});
