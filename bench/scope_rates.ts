/**
 * How often the out-of-scope checks fire, for the README: on the patient-level test part of the
 * training folder (in distribution), on a second site's images, and on pictures that are not
 * frontal pediatric chest films, generated here (seeded): colour photographs, gray scenes,
 * documents, CT-like axial slices, lateral-like chest drawings, blank frames, and the second
 * site's films inverted, rotated by 90 degrees or shrunk to 64 pixels.
 *
 * `deno run --allow-read --allow-write=outputs --allow-env --allow-ffi --allow-sys
 * bench/scope_rates.ts --data ../shared/data/chest_xray --site ../shared/data/chest_xray_site/test
 * [--run DIR] [--per 40] [--json]`
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import sharp from "sharp";
import { initBackend } from "../lib/backend/select.ts";
import { discoverDataset } from "../lib/data/discover.ts";
import { loadOrCreateManifest } from "../lib/data/split.ts";
import { disposeRun, loadRun } from "../lib/train/run.ts";
import { makeRng, type Rng } from "../lib/util/rng.ts";
import { projectPath } from "../lib/util/project.ts";
import { readOod } from "../lib/train/ood.ts";
import { screenFiles } from "../lib/eval/screen.ts";

/** Flag rate of one group of images. */
export interface GroupRate {
  group: string;
  n: number;
  flagged: number;
  rate: number;
  /** How many images each check flagged. */
  byCode: Record<string, number>;
}

const W = 256;

/** A gray picture from a per-pixel function (0-255), as PNG bytes. */
async function grayPng(f: (x: number, y: number) => number): Promise<Uint8Array> {
  const px = new Uint8Array(W * W);
  for (let y = 0; y < W; y++) {
    for (let x = 0; x < W; x++) {
      px[y * W + x] = Math.max(0, Math.min(255, Math.round(f(x / W, y / W))));
    }
  }
  return new Uint8Array(
    await sharp(px, { raw: { width: W, height: W, channels: 1 } }).png().toBuffer(),
  );
}

const inEllipse = (x: number, y: number, cx: number, cy: number, rx: number, ry: number) =>
  ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1;

/** Smooth random field: a few random cosines. */
function field(rng: Rng): (x: number, y: number) => number {
  const waves = Array.from({ length: 6 }, () => [rng() * 12, rng() * 12, rng() * 6.3, rng()]);
  return (x, y) => waves.reduce((s, [a, b, p, w]) => s + w * Math.cos(a * x + b * y + p), 0) / 3;
}

/** The generators of non-chest pictures: name -> (rng) -> bytes. */
const GENERATORS: Record<string, (rng: Rng) => Promise<Uint8Array>> = {
  "colour photograph": async (rng) => {
    const [r, g, b] = [field(rng), field(rng), field(rng)];
    const px = new Uint8Array(W * W * 3);
    for (let i = 0; i < W * W; i++) {
      const x = (i % W) / W, y = Math.floor(i / W) / W;
      px[i * 3] = 128 + 120 * Math.tanh(r(x, y));
      px[i * 3 + 1] = 128 + 120 * Math.tanh(g(x, y));
      px[i * 3 + 2] = 128 + 120 * Math.tanh(b(x, y));
    }
    return new Uint8Array(
      await sharp(px, { raw: { width: W, height: W, channels: 3 } }).jpeg({ quality: 88 })
        .toBuffer(),
    );
  },
  "gray scene": (rng) => {
    const f = field(rng), cx = rng(), cy = rng(), r = 0.1 + 0.2 * rng();
    return grayPng((x, y) =>
      128 + 90 * Math.tanh(f(x, y)) + (inEllipse(x, y, cx, cy, r, r) ? 60 : 0)
    );
  },
  "document": (rng) => {
    const lines = Array.from({ length: 14 }, () => 0.2 + 0.75 * rng());
    return grayPng((x, y) => {
      const row = Math.floor((y - 0.08) / 0.06);
      const inText = row >= 0 && row < 14 && (y - 0.08) % 0.06 < 0.025 && x > 0.1 && x < lines[row];
      return inText && Math.sin(x * 180) > -0.3 ? 20 : 245;
    });
  },
  "CT-like axial slice": (rng) => {
    const rx = 0.38 + 0.05 * rng(), ry = 0.3 + 0.04 * rng();
    return grayPng((x, y) => {
      if (!inEllipse(x, y, 0.5, 0.5, rx, ry)) return y > 0.86 && y < 0.88 ? 120 : 0;
      if (inEllipse(x, y, 0.5, 0.72, 0.05, 0.05)) return 240; // vertebra
      const lung = inEllipse(x, y, 0.35, 0.48, 0.12, 0.18) ||
        inEllipse(x, y, 0.65, 0.48, 0.12, 0.18);
      if (lung) return 15 + 25 * Math.max(0, Math.sin(x * 90) * Math.sin(y * 70));
      return 110 + 15 * Math.sin(x * 40 + y * 25);
    });
  },
  "lateral-like chest": (rng) => {
    const s = 0.04 * (rng() - 0.5);
    return grayPng((x, y) => {
      let v = inEllipse(x, y, 0.5 + s, 0.55, 0.36, 0.5) ? 150 : 20;
      if (x > 0.68 + s && x < 0.78 + s && y > 0.15) v += 70 * (0.6 + 0.4 * Math.sin(y * 60) ** 2); // spine
      if (inEllipse(x, y, 0.46 + s, 0.48, 0.2, 0.26)) v -= 70; // one lung field
      if (inEllipse(x, y, 0.38 + s, 0.68, 0.14, 0.12)) v += 45; // heart
      if (y > 0.78 && inEllipse(x, y, 0.5 + s, 0.55, 0.36, 0.5)) v += 40; // diaphragm, abdomen
      return v + 10 * Math.sin(x * 70);
    });
  },
  "blank frame": (rng) => {
    const level = rng() < 0.5 ? 3 + 10 * rng() : 242 + 10 * rng();
    return grayPng((x, y) => level + 3 * Math.sin(x * 50 + y * 31));
  },
};

/** The second site's films, transformed: name -> (bytes) -> bytes. */
const TRANSFORMS: Record<string, (b: Uint8Array) => Promise<Buffer>> = {
  "site films inverted": (b) => sharp(b).negate({ alpha: false }).png().toBuffer(),
  "site films rotated 90 degrees": (b) => sharp(b).rotate(90).png().toBuffer(),
  "site films shrunk to 64 px": (b) => sharp(b).resize(64, 64, { fit: "fill" }).png().toBuffer(),
};

/** Screens the files and counts the flags. */
async function rate(
  run: Awaited<ReturnType<typeof loadRun>>,
  ood: Awaited<ReturnType<typeof readOod>>,
  group: string,
  paths: string[],
): Promise<GroupRate> {
  const byCode: Record<string, number> = {};
  let flagged = 0, n = 0;
  for (let i = 0; i < paths.length; i += 64) {
    for (const s of await screenFiles(run, paths.slice(i, i + 64), ood)) {
      if (!s) continue;
      n++;
      if (s.warnings.length) flagged++;
      for (const w of s.warnings) byCode[w.code] = (byCode[w.code] ?? 0) + 1;
    }
  }
  return { group, n, flagged, rate: flagged / n, byCode };
}

/** Flag rates of every group (see the module doc). */
export async function scopeRates(
  runDir: string,
  data: string,
  site: string,
  per = 40,
): Promise<GroupRate[]> {
  const run = await loadRun(runDir);
  const ood = await readOod(runDir);
  if (!ood) {
    throw new Error(`${runDir} has no ood.json; make it with deno task ood --run ${runDir}`);
  }
  await Deno.mkdir(projectPath("outputs/tmp"), { recursive: true });
  const tmp = await Deno.makeTempDir({ dir: projectPath("outputs/tmp"), prefix: "scope_rates_" });
  try {
    const { records } = await loadOrCreateManifest(data);
    const out = [
      await rate(
        run,
        ood,
        "test part of the training folder",
        records.filter((r) => r.split === "test").map((r) => r.path),
      ),
    ];
    const sitePaths = (await discoverDataset(site)).records.map((r) => r.path);
    out.push(await rate(run, ood, "second site", sitePaths));
    for (const [name, make] of Object.entries(GENERATORS)) {
      const rng = makeRng(name.length * 7919);
      const paths: string[] = [];
      for (let i = 0; i < per; i++) {
        const bytes = await make(rng);
        const p = join(
          tmp,
          `${name.replaceAll(/\W/g, "_")}_${i}.${bytes[0] === 0xff ? "jpeg" : "png"}`,
        );
        await Deno.writeFile(p, bytes);
        paths.push(p);
      }
      out.push(await rate(run, ood, `generated: ${name}`, paths));
    }
    for (const [name, transform] of Object.entries(TRANSFORMS)) {
      const paths: string[] = [];
      for (const [i, src] of sitePaths.entries()) {
        const p = join(tmp, `${name.replaceAll(/\W/g, "_")}_${i}.png`);
        await Deno.writeFile(p, await transform(await Deno.readFile(src)));
        paths.push(p);
      }
      out.push(await rate(run, ood, name, paths));
    }
    return out;
  } finally {
    disposeRun(run);
    await Deno.remove(tmp, { recursive: true });
  }
}

if (import.meta.main) {
  const { values: v } = parseArgs({
    args: Deno.args,
    options: {
      run: { type: "string" },
      data: { type: "string" },
      site: { type: "string" },
      per: { type: "string" },
      json: { type: "boolean" },
    },
  });
  if (!v.data || !v.site) {
    console.error("usage: scope_rates.ts --data DIR --site DIR [--run DIR] [--per N] [--json]");
    Deno.exit(2);
  }
  await initBackend();
  const rows = await scopeRates(
    v.run ?? projectPath("outputs/reference"),
    v.data,
    v.site,
    Number(v.per ?? 40),
  );
  if (v.json) console.log(JSON.stringify(rows));
  else {
    console.log("| images | n | flagged | checks that fired (images) |\n| --- | --- | --- | --- |");
    for (const r of rows) {
      const codes = Object.entries(r.byCode).sort((a, b) => b[1] - a[1]).map(([c, k]) =>
        `${c} ${k}`
      );
      console.log(
        `| ${r.group} | ${r.n} | ${(100 * r.rate).toFixed(1)}% | ${codes.join(", ") || "-"} |`,
      );
    }
  }
}
