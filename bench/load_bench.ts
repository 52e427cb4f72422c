/**
 * Benchmark (not a test): load every training image cold (fresh temporary cache) and then warm
 * (same cache), and print seconds, CPU-seconds (user + system, all threads of the process) and
 * images/s as JSON. On a busy machine the CPU-seconds are the figure to compare: the wall time of
 * an idle 2-core machine is about half of them (the decoding runs on both cores).
 *
 * ```sh
 * deno run --allow-read --allow-write=outputs --allow-env --allow-ffi --allow-sys \
 *   bench/load_bench.ts --data ../shared/data/chest_xray --size 150 [--channels 3]
 * ```
 * Targets of the image loader (2 cores, 5,216 images at 150 x 150 x 3): <= 5 s cold, <= 10 s
 * warm.
 * @module
 */
import { type CliSpec, helpText, parseCli, runCli } from "../lib/cli/_args.ts";
import { join } from "node:path";
import process from "node:process";
import { loadImages } from "../lib/images/cache.ts";
import { benchTempDir } from "./permissions.ts";
import { threadCpuMs } from "./thread_cpu.ts";

/** Result of {@link benchLoad}. */
export interface BenchLoadResult {
  /** Images found and loaded. */
  images: number;
  /** Images that failed (listed by loadImages). */
  failures: number;
  /** Seconds for the cold run (empty cache: every image decoded). */
  coldSeconds: number;
  /** Seconds for the warm run (same cache: nothing decoded). */
  warmSeconds: number;
  /** CPU-seconds (user + system, all threads) of the cold and warm runs. */
  coldCpuSeconds: number;
  warmCpuSeconds: number;
  /**
   * CPU-seconds of the main thread in the cold run (the part no other core can take: reading,
   * hashing, resizing; sharp decodes on other threads), or null where not measurable.
   */
  coldMainThreadCpuSeconds: number | null;
  /** Images decoded in the cold and warm runs (warm should be 0). */
  decodedCold: number;
  decodedWarm: number;
  /** Throughput of each run. */
  coldImagesPerSecond: number;
  warmImagesPerSecond: number;
}

/** Lists the image files of `dataDir/train/{NORMAL,PNEUMONIA}` (or `dataDir/{NORMAL,PNEUMONIA}`). */
async function listImages(dataDir: string): Promise<string[]> {
  const roots = [join(dataDir, "train"), dataDir];
  for (const root of roots) {
    const files: string[] = [];
    for (const cls of ["NORMAL", "PNEUMONIA"]) {
      try {
        for await (const e of Deno.readDir(join(root, cls))) {
          if (e.isFile && /\.(jpe?g|png)$/i.test(e.name)) files.push(join(root, cls, e.name));
        }
      } catch { /* try the next layout */ }
    }
    if (files.length) return files.sort();
  }
  throw new Error(
    `Found no images under ${dataDir}/train/{NORMAL,PNEUMONIA} or ${dataDir}/{NORMAL,PNEUMONIA} (looked for .jpeg .jpg .png .dcm)`,
  );
}

/**
 * Loads the training images of `dataDir` cold, into a fresh temporary cache, then warm; removes
 * the temporary cache afterwards.
 */
export async function benchLoad(
  dataDir: string,
  size: number,
  channels: 1 | 3,
  concurrency?: number,
): Promise<BenchLoadResult> {
  const paths = await listImages(dataDir);
  const cacheDir = await benchTempDir("bench_load_cache_");
  try {
    const cpu = (since: { user: number; system: number }) => {
      const { user, system } = process.cpuUsage(since);
      return (user + system) / 1e6;
    };
    const mainMs = threadCpuMs ?? (() => NaN);
    let t0 = performance.now(), c0 = process.cpuUsage();
    const m0 = mainMs();
    const cold = await loadImages(paths, { size, channels, cacheDir, concurrency });
    const coldSeconds = (performance.now() - t0) / 1000, coldCpu = cpu(c0);
    const coldMain = (mainMs() - m0) / 1000;
    t0 = performance.now(), c0 = process.cpuUsage();
    const warm = await loadImages(paths, { size, channels, cacheDir, concurrency });
    const warmSeconds = (performance.now() - t0) / 1000, warmCpu = cpu(c0);
    const r3 = (x: number) => Math.round(x * 1000) / 1000;
    return {
      images: paths.length,
      failures: cold.failures.length,
      coldSeconds: r3(coldSeconds),
      warmSeconds: r3(warmSeconds),
      coldCpuSeconds: r3(coldCpu),
      warmCpuSeconds: r3(warmCpu),
      coldMainThreadCpuSeconds: Number.isNaN(coldMain) ? null : r3(coldMain),
      decodedCold: cold.decoded,
      decodedWarm: warm.decoded,
      coldImagesPerSecond: Math.round(paths.length / coldSeconds),
      warmImagesPerSecond: Math.round(paths.length / warmSeconds),
    };
  } finally {
    await Deno.remove(cacheDir, { recursive: true }).catch(() => {});
  }
}

/** The flags of the script. */
const LOAD_BENCH_CLI = {
  name: "load_bench",
  command: "deno run --allow-read --allow-write=outputs --allow-env --allow-ffi --allow-sys " +
    "bench/load_bench.ts",
  synopsis: ["[--data DIR] [--size N] [--channels 1|3] [--concurrency N]"],
  about: "Times loading the training images, cold and through the cache.",
  flags: {
    data: { type: "string", arg: "DIR", default: "../shared/data/chest_xray", help: "dataset" },
    size: { type: "number", arg: "N", integer: true, min: 1, default: 150, help: "image side" },
    channels: { type: "string", choices: ["1", "3"], default: "3", help: "grayscale or RGB" },
    concurrency: { type: "number", arg: "N", integer: true, min: 1, help: "files read at once" },
  },
} as const satisfies CliSpec;

async function main(args: string[]): Promise<void> {
  const { values, help } = parseCli(LOAD_BENCH_CLI, args);
  if (help) return console.log(helpText(LOAD_BENCH_CLI));
  const channels = values.channels === "1" ? 1 : 3;
  const result = await benchLoad(
    values.data,
    values.size,
    channels,
    values.concurrency,
  );
  console.log(
    JSON.stringify({ data: values.data, size: values.size, channels, ...result }, null, 2),
  );
}

if (import.meta.main) await runCli("load_bench", () => main(Deno.args), LOAD_BENCH_CLI);
