/**
 * `deno task bench [--json] [--backend NAME[,NAME...]]`: training and prediction speed of every
 * registered model on the chosen backends (default: the one `initBackend()` picks), on wasm with
 * our kernels and with the stock ones, plus image loading (when the dataset is present). Each
 * model, backend and kernel set runs in a fresh subprocess, so that its peak RSS is its own.
 * Result: `outputs/bench/bench.json` (keys documented in `bench/README.md`); it names each backend
 * and, on webgpu, the adapter.
 *
 * Options: `--json` (print the JSON instead of a table), `--backend webgpu,wasm` (a GPU figure
 * beside the CPU one; a backend that cannot be initialised is reported with its reason and its
 * models are not run; a named webgpu accepts a software adapter such as lavapipe, whose figures
 * are not GPU speeds), `--models a,b`, `--steps N` (timed training steps per model, default 5),
 * `--stock-steps N` (default 2; 0 skips the stock runs), `--batch N` (default: each model's
 * training batch size), `--size N` (default: each model's input size), `--data DIR` (default
 * `../shared/data/chest_xray`), `--skip-load`, `--skip-parallel`, `--out PATH`.
 * @module
 */
import os from "node:os";
import { fileURLToPath } from "node:url";
import { writeJsonAtomic } from "../lib/util/atomic.ts";
import { type CliSpec, helpText, parseCli, runCli } from "../lib/cli/_args.ts";
import {
  BACKEND_ORDER,
  type BackendChoice,
  type BackendInfo,
  describeBackend,
  initBackend,
} from "../lib/backend/select.ts";
import { listModels } from "../lib/models/registry.ts";
import type { ModelBenchResult } from "./model_bench.ts";
import {
  type BackendEntry,
  type BenchJson,
  type ModelEntry,
  modelErrorEntry,
  SCHEMA,
} from "./schema.ts";
import { formatBench } from "./format.ts";
import { denoExecutable, requireWritable } from "./permissions.ts";
import { loadBenchOrNull, parallelBenchOrNull } from "./optional.ts";

const RUN_MODEL = fileURLToPath(new URL("./run_model.ts", import.meta.url));

/** Runs `bench/run_model.ts` in a subprocess; returns its result or the error text. */
async function runModel(
  deno: string,
  model: string,
  backend: BackendChoice,
  kernels: "fast" | "reference",
  steps: number,
  batch: number | undefined,
  size: number | undefined,
): Promise<ModelBenchResult | { error: string }> {
  const args = [
    "run",
    "--allow-read",
    "--allow-env",
    "--allow-ffi",
    "--allow-sys",
    RUN_MODEL,
    "--model",
    model,
    "--kernels",
    kernels,
    "--steps",
    String(steps),
    "--backend",
    backend,
    ...(batch ? ["--batch", String(batch)] : []),
    ...(size ? ["--size", String(size)] : []),
  ];
  const out = await new Deno.Command(deno, { args, stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder().decode(out.stdout).trim().split("\n").pop() ?? "";
  if (out.success && text.startsWith("{")) return JSON.parse(text) as ModelBenchResult;
  const err = new TextDecoder().decode(out.stderr).trim().split("\n");
  const line = err.find((l) => /error/i.test(l)) ?? err.pop() ?? `exit code ${out.code}`;
  // deno-lint-ignore no-control-regex -- strips the ANSI colours of Deno's error output
  return { error: line.replace(/\x1b\[[0-9;]*m/g, "").slice(0, 500) };
}

/** The bench command's flags. */
export const BENCH_CLI = {
  name: "bench",
  synopsis: [
    "[--json] [--backend a,b] [--models a,b] [--steps N] [--stock-steps N] [--batch N] " +
    "[--size N] [--data DIR] " +
    "[--skip-load] [--skip-parallel] [--out PATH]",
  ],
  about: "Training and prediction speed of every registered model, image loading and two-core " +
    "data-parallel training; writes outputs/bench/bench.json.",
  flags: {
    json: { type: "boolean", help: "print the JSON instead of a table" },
    backend: {
      type: "string",
      arg: "a,b",
      help: "backends to measure, e.g. webgpu,wasm (default: the one initBackend() picks)",
    },
    models: { type: "string", arg: "a,b", help: "models to time (default: every registered one)" },
    steps: {
      type: "number",
      arg: "N",
      integer: true,
      min: 1,
      default: 5,
      help: "timed training steps per model",
    },
    "stock-steps": {
      type: "number",
      arg: "N",
      integer: true,
      min: 0,
      default: 2,
      help: "steps with the stock kernels (0 skips them)",
    },
    batch: {
      type: "number",
      arg: "N",
      integer: true,
      min: 1,
      help: "batch size (default: each model's training batch size)",
    },
    size: {
      type: "number",
      arg: "N",
      integer: true,
      min: 1,
      help: "input side (default: each model's)",
    },
    data: {
      type: "string",
      arg: "DIR",
      default: "../shared/data/chest_xray",
      help: "dataset for the image-loading figures",
    },
    "skip-load": { type: "boolean", help: "no image-loading figures" },
    "skip-parallel": { type: "boolean", help: "no data-parallel figure" },
    out: {
      type: "string",
      arg: "PATH",
      default: "outputs/bench/bench.json",
      help: "result file (under outputs/)",
    },
  },
} as const satisfies CliSpec;

async function main(args: string[]): Promise<void> {
  const { values, help } = parseCli(BENCH_CLI, args);
  if (help) return console.log(helpText(BENCH_CLI));
  await requireWritable("out", values.out);
  const deno = await denoExecutable("bench");
  const say = values.json ? (_: string) => {} : (s: string) => console.error(s);
  const wanted = values.backend?.split(",").map((s) => s.trim()).filter(Boolean) ?? [];
  for (const b of wanted) {
    if (!(BACKEND_ORDER as readonly string[]).includes(b)) {
      throw new Error(`bench: unknown backend "${b}"; expected one of ${BACKEND_ORDER.join(", ")}`);
    }
  }
  const known = listModels();
  const names = values.models
    ? values.models.split(",").map((s) => s.trim())
    : known.map((m) => m.name);
  for (const n of names) {
    if (!known.some((m) => m.name === n)) {
      throw new Error(
        `bench: unknown model "${n}"; known models: ${known.map((m) => m.name).join(", ")}`,
      );
    }
  }
  const steps = values.steps, stockSteps = values["stock-steps"];
  const batch = values.batch, size = values.size;
  const startedAt = new Date().toISOString();
  const load1m = os.loadavg()[0];
  const models: ModelEntry[] = [];
  const backends: BackendEntry[] = [];
  const infos: BackendInfo[] = [];
  for (const want of wanted.length ? wanted as BackendChoice[] : [undefined]) {
    let info: BackendInfo;
    try {
      info = await initBackend({ prefer: want });
    } catch (err) {
      if (wanted.length === 1) throw err;
      const error = (err as Error).message;
      say(`bench: ${want} not measured: ${error}`);
      backends.push({ name: want!, threads: null, simd: null, adapter: null, skipped: [], error });
      continue;
    }
    say(describeBackend(info));
    infos.push(info);
    backends.push({
      name: info.name,
      threads: info.threads,
      simd: info.simd,
      simdKernels: info.simdKernels,
      adapter: info.adapter,
      skipped: info.skipped,
      error: null,
    });
    for (const name of names) {
      say(`bench: ${name} on ${info.name} (our kernels, ${steps} steps) ...`);
      const fast = await runModel(deno, name, info.name, "fast", steps, batch, size);
      let stock: ModelBenchResult | { error: string } | null = null;
      if (info.name === "wasm" && stockSteps > 0 && !("error" in fast)) {
        say(`bench: ${name} (stock kernels, ${stockSteps} steps) ...`);
        stock = await runModel(deno, name, info.name, "reference", stockSteps, batch, size);
      }
      models.push({ ...toEntry(name, fast, stock), backend: info.name });
    }
  }
  if (infos.length === 0) {
    throw new Error(`bench: no backend could be initialised: ${JSON.stringify(backends)}`);
  }
  const backend = infos[0];
  say("bench: image loading ...");
  const imageLoading = values["skip-load"] ? null : await loadBenchOrNull(values.data);
  let parallel: Record<string, unknown> | null = null;
  // Data-parallel workers are a CPU (wasm) measure.
  if (
    !values["skip-parallel"] && names.includes("cnn_reg") && infos.some((i) => i.name === "wasm")
  ) {
    await initBackend({ prefer: "wasm" });
    say("bench: cnn_reg data-parallel (0 and 2 workers) ...");
    parallel = await parallelBenchOrNull("cnn_reg", batch ?? 8, steps);
  }
  const result: BenchJson = {
    schema: SCHEMA,
    startedAt,
    finishedAt: new Date().toISOString(),
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? "unknown",
      memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
      loadAverage1mAtStart: Math.round(load1m * 100) / 100,
      loadAverage1mAtEnd: Math.round(os.loadavg()[0] * 100) / 100,
      deno: Deno.version.deno,
    },
    backend: {
      name: backend.name,
      threads: backend.threads,
      simd: backend.simd,
      simdKernels: backend.simdKernels,
      skipped: backend.skipped,
      adapter: backend.adapter,
    },
    backends,
    models,
    imageLoading,
    parallel,
  };
  await writeJsonAtomic(values.out, result);
  if (values.json) console.log(JSON.stringify(result, null, 2));
  else {
    console.log(formatBench(result));
    console.log(`Written to ${values.out}`);
  }
}

function toEntry(
  name: string,
  fast: ModelBenchResult | { error: string },
  stock: ModelBenchResult | { error: string } | null,
): ModelEntry {
  if ("error" in fast) return modelErrorEntry(name, fast.error);
  const okStock = stock && !("error" in stock) ? stock : null;
  const ratio = (a: number | undefined, b: number) => (a ? Math.round((a / b) * 100) / 100 : null);
  return {
    model: name,
    error: null,
    inputSize: fast.inputSize,
    channels: fast.channels,
    batchSize: fast.batchSize,
    params: fast.params,
    threads: fast.threads,
    train: fast.train,
    predict: fast.predict,
    peakRssMiB: fast.peakRssMiB,
    stock: stock === null
      ? null
      : "error" in stock
      ? { error: stock.error, train: null, predict: null, peakRssMiB: null }
      : { error: null, train: stock.train, predict: stock.predict, peakRssMiB: stock.peakRssMiB },
    trainSpeedupVsStock: ratio(okStock?.train.msPerImage, fast.train.msPerImage),
    predictSpeedupVsStock: ratio(okStock?.predict.msPerImage, fast.predict.msPerImage),
    trainSpeedupVsStockCpu: ratio(okStock?.train.cpuMsPerImage, fast.train.cpuMsPerImage),
    predictSpeedupVsStockCpu: ratio(okStock?.predict.cpuMsPerImage, fast.predict.cpuMsPerImage),
  };
}

if (import.meta.main) await runCli("bench", () => main(Deno.args), BENCH_CLI);
