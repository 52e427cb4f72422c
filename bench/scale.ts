/**
 * `deno task bench-scale --images N [--size S] [--format csv|rsna|nih|chexpert|folders]
 * [--steps K] [--json]`: the data path at archive scale, stage by stage, each stage in its own
 * subprocess so that its peak RSS is its own:
 *
 * | stage      | what                                                                           |
 * | ---------- | ------------------------------------------------------------------------------ |
 * | `generate` | writes N synthetic films (S px) in the format (lib/data/archive.ts); reused when already there, finished when interrupted |
 * | `dataset`  | reads the dataset: walk, label table, DICOM headers (lib/data/dataset.ts)     |
 * | `audit`    | `deno task audit`'s work: every file hashed and decoded (lib/data/audit.ts)    |
 * | `cache128` | the packed decode cache of train + val at 128 px (lib/images/packed.ts)        |
 * | `epoch128` | one full training epoch of `compact` at 128 px, streamed from that cache, plus the run's validation scoring and threshold (`train`, 1 epoch) |
 * | `evaluate` | `deno task evaluate --split all` with that run: every image of the archive decoded (image cache) and scored, chunk by chunk |
 * | `cache224` | the packed cache at 224 px of the images the next stage trains on             |
 * | `train224` | `compact` at 224 px for K steps (default 50) of `--batch224` images (default 16) |
 *
 * Prints one JSON object with `--json`: `images`, `peakRssMiB` (the largest of the stages), and
 * per stage `seconds`, `cpuSeconds` (all threads), `images`, `imagesPerSecond` and `peakRssMiB`;
 * plus the machine (CPU model, cores, load average at start and end). The files go under `outputs/bench-scale/<format>-<N>-<S>`:
 * the archive is written once and reused by every later run (an interrupted one is finished),
 * the decode caches are emptied at the start of each run, so every run measures cold decoding
 * (delete the folder to start over); `outputs/bench/scale-<N>.json` keeps the result (`scale-<N>-<stages>.json`
 * with `--stages`).
 * @module
 */
import { denoExecutable } from "./permissions.ts";
import os from "node:os";
import process from "node:process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type CliSpec, helpText, parseCli, runCli } from "../lib/cli/_args.ts";
import { ARCHIVE_FORMATS, type ArchiveFormat } from "../lib/data/archive.ts";
import { writeJsonAtomic } from "../lib/util/atomic.ts";
import { projectPath } from "../lib/util/project.ts";

/** The bench-scale command's flags. */
export const SCALE_CLI = {
  name: "bench-scale",
  synopsis: [
    "--images N [--size S] [--format F] [--steps K] [--batch224 N] [--workers N] [--stages a,b] " +
    "[--json]",
  ],
  about: "Throughput and peak memory of each stage of the data path on a synthetic archive.",
  flags: {
    images: { type: "number", arg: "N", integer: true, min: 10, help: "images in the archive" },
    size: {
      type: "number",
      arg: "S",
      integer: true,
      min: 16,
      default: 256,
      help: "side of the generated films in pixels",
    },
    format: {
      type: "string",
      choices: ARCHIVE_FORMATS,
      default: "csv",
      help: "archive format (lib/data/archive.ts)",
    },
    steps: {
      type: "number",
      arg: "K",
      integer: true,
      min: 1,
      default: 50,
      help: "training steps at 224 px",
    },
    batch224: {
      type: "number",
      arg: "N",
      integer: true,
      min: 1,
      default: 16,
      help: "batch size of the 224 px stage (compact's own 32 there: the engine alone peaks at " +
        "2.3 GiB with 2 workers, at any dataset size)",
    },
    stages: { type: "string", arg: "a,b", help: "only these stages (default all)" },
    workers: {
      type: "number",
      arg: "N",
      integer: true,
      min: 0,
      help: "training workers (default: as deno task train)",
    },
    json: { type: "boolean", help: "print one JSON object" },
    stage: { type: "string", arg: "NAME", help: "(internal) run one stage in this process" },
  },
} as const satisfies CliSpec;

/** The stages, in order. */
export const STAGES = [
  "generate",
  "dataset",
  "audit",
  "cache128",
  "epoch128",
  "evaluate",
  "cache224",
  "train224",
] as const;
type Stage = typeof STAGES[number];

/** What one stage reports. */
export interface StageResult {
  seconds: number;
  /** CPU time of the stage's process, every thread (user + system): a busy machine's figure. */
  cpuSeconds: number;
  images: number;
  imagesPerSecond: number;
  peakRssMiB: number;
  note?: string;
}

/** Peak resident memory of this process so far (Linux VmHWM), in MiB. */
function peakRssMiB(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(Deno.readTextFileSync("/proc/self/status"));
    if (m) return Math.round(Number(m[1]) / 1024);
  } catch { /* not Linux: the current RSS below */ }
  return Math.round(Deno.memoryUsage().rss / 2 ** 20);
}

interface Ctx {
  n: number;
  size: number;
  format: ArchiveFormat;
  steps: number;
  workers?: number;
  batch224: number;
  dir: string;
  log: (line: string) => void;
}

/** The archive's --data and --labels (the generator's layout). */
function source(c: Ctx) {
  const labels: Record<ArchiveFormat, string | null> = {
    folders: null,
    csv: "labels.csv",
    nih: "Data_Entry_2017.csv",
    chexpert: "CheXpert-v1.0-small/train.csv",
    rsna: "stage_2_train_labels.csv",
  };
  const root = join(c.dir, "archive");
  return {
    data: c.format === "chexpert" ? join(root, "CheXpert-v1.0-small") : root,
    labels: labels[c.format] ? join(root, labels[c.format]!) : null,
  };
}

/** The training config of a stage. */
async function config(c: Ctx, size: number) {
  const { resolveConfig } = await import("../lib/train/config.ts");
  const src = await source(c);
  return resolveConfig({
    model: "compact",
    data: src.data,
    labels: src.labels,
    size,
    epochs: 1,
    seed: 42,
    batchSize: size === 224 ? c.batch224 : undefined,
    out: join(c.dir, `run${size}`),
    outputsDir: join(c.dir, "outputs"),
  });
}

/** Runs one stage in this process; returns its figures. */
async function runStage(stage: Stage, c: Ctx): Promise<StageResult> {
  const t0 = performance.now(), cpu0 = process.cpuUsage();
  let images = 0, note: string | undefined;
  const { progressLine } = await import("../lib/util/progress.ts");
  if (stage === "generate") {
    const { planArchive, writeArchive } = await import("../lib/data/archive.ts");
    const marker = join(c.dir, "archive.done");
    if (await Deno.stat(marker).then(() => true, () => false)) {
      note = "reused (already written)";
    } else {
      const tick = progressLine("generate", c.n, c.log);
      const w = await writeArchive(join(c.dir, "archive"), c.format, planArchive(c.n, 1), {
        size: c.size,
        resume: true,
        onProgress: (d) => tick(d),
      });
      await Deno.writeTextFile(marker, new Date().toISOString());
      if (w.kept) note = `${w.kept} images kept from an interrupted run`;
    }
    images = c.n;
  } else if (stage === "dataset") {
    const { loadDataset } = await import("../lib/data/dataset.ts");
    const ds = await loadDataset(await source(c));
    images = ds.records.length;
    note = `${ds.records.length} records, ${ds.skipped.length} skipped`;
  } else if (stage === "audit") {
    const { auditDataset } = await import("../lib/data/audit.ts");
    const tick = progressLine("audit", c.n, c.log);
    const r = await auditDataset(await source(c), {
      probeCache: null,
      concurrency: 4,
      onProgress: (d) => tick(d),
    });
    images = r.total;
    note = `${r.readable} readable`;
  } else if (stage === "cache128") {
    const { loadTrainData } = await import("../lib/train/data.ts");
    const d = await loadTrainData(await config(c, 128), c.log, { streamAboveBytes: 0 });
    images = d.train.records.length + d.val.records.length;
  } else if (stage === "epoch128") {
    const { initBackend } = await import("../lib/backend/select.ts");
    const { train } = await import("../lib/train/train.ts");
    await initBackend();
    const cfg = await config(c, 128);
    await Deno.remove(cfg.out, { recursive: true }).catch(() => {});
    const { terminalProgress } = await import("../lib/train/progress.ts");
    // A batch line every 30 s: one epoch over 100,000 images takes many minutes.
    const progress = terminalProgress({ tty: false, print: c.log, logEveryS: 30 });
    // Workers: as given, else train()'s default for this model (defaultTrainWorkers).
    const r = await train(cfg, { log: c.log, streamAboveBytes: 0, workers: c.workers, progress });
    images = r.summary.trainImages;
    note = `${r.summary.workers} workers, ${r.summary.valImages} val images scored too`;
  } else if (stage === "evaluate") {
    const { initBackend } = await import("../lib/backend/select.ts");
    const { evaluateRun } = await import("../lib/cli/evaluate.ts");
    const runDir = join(c.dir, "run128");
    if (!await Deno.stat(join(runDir, "summary.json")).then(() => true, () => false)) {
      throw new Error(`no trained run in ${runDir}: the evaluate stage scores the epoch128 run`);
    }
    await initBackend();
    const cacheDir = join(c.dir, "outputs", "cache", "images");
    const tick = progressLine("evaluate", c.n, c.log);
    const e = await evaluateRun(runDir, await source(c), "all", c.log, {
      cacheDir,
      onProgress: (d) => tick(d),
    });
    images = e.n;
    note = `--split all, AUC ${e.auc.toFixed(3)}`;
  } else if (stage === "cache224" || stage === "train224") {
    const { initBackend } = await import("../lib/backend/select.ts");
    const { loadOrCreateManifest } = await import("../lib/data/split.ts");
    const { dataSourceOf } = await import("../lib/train/config.ts");
    const { makeSplitData } = await import("../lib/train/data.ts");
    const { openPackedImages } = await import("../lib/images/packed.ts");
    const cfg = await config(c, 224);
    const m = await loadOrCreateManifest(dataSourceOf(cfg), {
      outDir: join(cfg.outputsDir, "manifests"),
    });
    const train = m.records.filter((r) => r.split === "train")
      .slice(0, c.steps * cfg.batchSize);
    const paths = train.map((r) => r.path);
    const tick = progressLine("decode cache (224)", paths.length, c.log);
    const packed = await openPackedImages(paths, {
      size: 224,
      channels: cfg.channels,
      dir: join(cfg.outputsDir, "cache", "packed"),
      onProgress: (d) => tick(d),
    });
    if (stage === "cache224") {
      images = paths.length;
      note = `${packed.decoded} decoded`;
    } else {
      const info = await initBackend();
      const { createModel, preprocessingFor } = await import("../lib/models/registry.ts");
      const { localStep, lossNameFor, makeOptimizer, optimizerSpecOf, trainEpoch } = await import(
        "../lib/train/step.ts"
      );
      const { startWorkers, workerStep } = await import("../lib/train/parallel/start.ts");
      const { defaultTrainWorkers, modelTraits } = await import(
        "../lib/train/parallel/workers.ts"
      );
      const slotOf = new Map(paths.map((p, i) => [p, i]));
      const bytes = 224 * 224 * cfg.channels;
      const split = {
        ...makeSplitData(train, 2, new Uint8Array(0), slotOf, bytes),
        source: packed,
      };
      const data = {
        train: split,
        val: split,
        classWeights: null,
        manifestPath: null,
        warnings: [],
      };
      const model = await createModel("compact", { size: 224, channels: cfg.channels, seed: 42 });
      const workers = c.workers ?? defaultTrainWorkers(cfg, info, undefined, modelTraits(model));
      const trainer = workers > 0 ? await startWorkers(model, cfg, workers) : null;
      const step = trainer
        ? workerStep(trainer)
        : localStep(model, makeOptimizer(optimizerSpecOf(cfg)), lossNameFor(2));
      const tickSteps = progressLine("train 224", split.records.length, c.log);
      const t1 = performance.now();
      await trainEpoch(step, data, cfg, preprocessingFor("compact", cfg), 1, undefined, {
        maxBatches: c.steps,
        onBatch: (d) => tickSteps(d),
      });
      await trainer?.dispose();
      images = split.records.length;
      note = `${c.steps} steps of ${cfg.batchSize}, ${workers} workers; cache open ` +
        `${((t1 - t0) / 1000).toFixed(1)} s of the total`;
    }
    packed.close();
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return {
    seconds: Math.round(seconds * 10) / 10,
    cpuSeconds: Math.round((cpu.user + cpu.system) / 1e5) / 10,
    images,
    imagesPerSecond: Math.round(10 * images / Math.max(seconds, 1e-3)) / 10,
    peakRssMiB: peakRssMiB(),
    ...(note ? { note } : {}),
  };
}

/** Runs the command with `args`. */
export async function main(args: string[]): Promise<void> {
  const { values: v, help } = parseCli(SCALE_CLI, args);
  if (help) return console.log(helpText(SCALE_CLI));
  if (!v.images) throw new Error("--images N is required");
  const format = v.format as ArchiveFormat;
  const dir = projectPath(join("outputs", "bench-scale", `${format}-${v.images}-${v.size}`));
  await Deno.mkdir(dir, { recursive: true });
  const ctx: Ctx = {
    n: v.images,
    size: v.size,
    format,
    steps: v.steps,
    workers: v.workers,
    batch224: v.batch224,
    dir,
    log: (l) => console.error(`  ${l}`),
  };
  if (v.stage) {
    // A child: one stage, its result as the last line of stdout.
    const r = await runStage(v.stage as Stage, ctx);
    return console.log(JSON.stringify(r));
  }
  const wanted = v.stages ? v.stages.split(",").map((s) => s.trim()) : [...STAGES];
  // Every run measures cold decode caches; the archive (and the trained run) are kept.
  await Deno.remove(join(dir, "outputs", "cache"), { recursive: true }).catch(() => {});
  const stages: Record<string, StageResult> = {};
  const load0 = os.loadavg();
  for (const stage of STAGES.filter((s) => wanted.includes(s))) {
    console.error(`bench-scale: ${stage} (${v.images} images, ${format})`);
    const out = await new Deno.Command(await denoExecutable("bench-scale"), {
      args: [
        "run",
        "-A",
        fileURLToPath(import.meta.url),
        ...args.filter((a) => a !== "--json"),
        "--stage",
        stage,
      ],
      stdout: "piped",
      stderr: "inherit",
    }).output();
    const text = new TextDecoder().decode(out.stdout).trim().split("\n").pop() ?? "";
    if (out.code !== 0) throw new Error(`stage ${stage} failed (exit ${out.code})`);
    stages[stage] = JSON.parse(text);
    const s = stages[stage];
    console.error(
      `bench-scale: ${stage}: ${s.seconds} s (CPU ${s.cpuSeconds} s), ${s.imagesPerSecond} ` +
        `images/s, peak RSS ` +
        `${s.peakRssMiB} MiB${s.note ? ` (${s.note})` : ""}`,
    );
  }
  const result = {
    images: v.images,
    format,
    filmSize: v.size,
    peakRssMiB: Math.max(...Object.values(stages).map((s) => s.peakRssMiB)),
    stages,
    machine: {
      cpus: navigator.hardwareConcurrency,
      cpuModel: os.cpus()[0]?.model ?? "unknown",
      loadAverage1mAtStart: Math.round(load0[0] * 100) / 100,
      loadAverage1mAtEnd: Math.round(os.loadavg()[0] * 100) / 100,
    },
    created: new Date().toISOString(),
  };
  const name = `scale-${v.images}${v.stages ? "-" + wanted.join("+") : ""}.json`;
  await writeJsonAtomic(projectPath(join("outputs", "bench", name)), result);
  if (v.json) console.log(JSON.stringify(result));
  else {
    console.log(`stage      seconds  images/s  peak RSS MiB`);
    for (const [k, s] of Object.entries(stages)) {
      console.log(
        `${k.padEnd(10)} ${String(s.seconds).padStart(7)}  ${
          String(s.imagesPerSecond).padStart(8)
        }  ${String(s.peakRssMiB).padStart(12)}`,
      );
    }
  }
}

if (import.meta.main) await runCli("bench-scale", () => main(Deno.args), SCALE_CLI);
