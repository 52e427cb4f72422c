/**
 * `deno task bench [--json]`: training and prediction speed of every registered model on the
 * active backend, with our wasm kernels and with the stock ones, plus image loading (when the
 * dataset is present). Each model and kernel set runs in a fresh subprocess, so that its peak RSS
 * is its own. Result: `outputs/bench/bench.json` (keys documented in `bench/README.md`).
 *
 * Options: `--json` (print the JSON instead of a table), `--models a,b`, `--steps N` (timed
 * training steps per model, default 5), `--stock-steps N` (default 2; 0 skips the stock runs),
 * `--batch N` (default: each model's training batch size), `--data DIR` (default
 * `../shared/data/chest_xray`), `--skip-load`, `--skip-parallel`, `--out PATH`.
 * @module
 */
import { parseArgs } from "node:util";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { writeJsonAtomic } from "../lib/util/atomic.ts";
import { describeBackend, initBackend } from "../lib/backend/select.ts";
import { listModels } from "../lib/models/registry.ts";
import type { ModelBenchResult } from "./model_bench.ts";
import {
  type BenchJson,
  type ModelEntry,
  modelErrorEntry,
  PYTORCH_REFERENCE,
  SCHEMA,
} from "./schema.ts";
import { formatBench } from "./format.ts";
import { loadBenchOrNull, parallelBenchOrNull } from "./optional.ts";

const RUN_MODEL = fileURLToPath(new URL("./run_model.ts", import.meta.url));

/** Runs `bench/run_model.ts` in a subprocess; returns its result or the error text. */
async function runModel(
  model: string,
  kernels: "fast" | "reference",
  steps: number,
  batch: number | undefined,
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
    ...(batch ? ["--batch", String(batch)] : []),
  ];
  const out = await new Deno.Command(Deno.execPath(), { args, stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder().decode(out.stdout).trim().split("\n").pop() ?? "";
  if (out.success && text.startsWith("{")) return JSON.parse(text) as ModelBenchResult;
  const err = new TextDecoder().decode(out.stderr).trim().split("\n");
  const line = err.find((l) => /error/i.test(l)) ?? err.pop() ?? `exit code ${out.code}`;
  // deno-lint-ignore no-control-regex -- strips the ANSI colours of Deno's error output
  return { error: line.replace(/\x1b\[[0-9;]*m/g, "").slice(0, 500) };
}

async function main() {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      json: { type: "boolean", default: false },
      models: { type: "string" },
      steps: { type: "string", default: "5" },
      "stock-steps": { type: "string", default: "2" },
      batch: { type: "string" },
      data: { type: "string", default: "../shared/data/chest_xray" },
      "skip-load": { type: "boolean", default: false },
      "skip-parallel": { type: "boolean", default: false },
      out: { type: "string", default: "outputs/bench/bench.json" },
    },
  });
  const say = values.json ? (_: string) => {} : (s: string) => console.error(s);
  const backend = await initBackend();
  say(describeBackend(backend));
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
  const steps = Number(values.steps), stockSteps = Number(values["stock-steps"]);
  const batch = values.batch ? Number(values.batch) : undefined;
  const startedAt = new Date().toISOString();
  const load1m = os.loadavg()[0];
  const models: ModelEntry[] = [];
  for (const name of names) {
    say(`bench: ${name} (our kernels, ${steps} steps) ...`);
    const fast = await runModel(name, "fast", steps, batch);
    let stock: ModelBenchResult | { error: string } | null = null;
    if (backend.name === "wasm" && stockSteps > 0 && !("error" in fast)) {
      say(`bench: ${name} (stock kernels, ${stockSteps} steps) ...`);
      stock = await runModel(name, "reference", stockSteps, batch);
    }
    models.push(toEntry(name, fast, stock));
  }
  say("bench: image loading ...");
  const imageLoading = values["skip-load"] ? null : await loadBenchOrNull(values.data!);
  let parallel: Record<string, unknown> | null = null;
  if (!values["skip-parallel"] && names.includes("cnn_reg")) {
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
      skipped: backend.skipped,
    },
    models,
    imageLoading,
    parallel,
    pytorchReference: PYTORCH_REFERENCE,
  };
  await writeJsonAtomic(values.out!, result);
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

if (import.meta.main) await main();
