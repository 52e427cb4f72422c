/**
 * `deno task gpu-check [--quick] [--size N]`: one command for a machine with a GPU (about five
 * minutes). It
 *
 * 1. finds which backends load here (tfjs-node-gpu, webgpu, tfjs-node, wasm; webgpu is forced, so
 *    a software adapter such as lavapipe is used too, and flagged);
 * 2. checks each against the `cpu` backend: output and gradients of every layer type the models
 *    use (`lib/backend/parity.ts`) and seeded 6-step Adam fits of `compact` and `dense_baseline`
 *    (`lib/train/fit_parity.ts`);
 * 3. times training epochs of `cnn_reg` and `compact` at 150 px on synthetic images through the
 *    training engine, on each backend that loaded, each in its own subprocess
 *    (`bench/epoch_run.ts`; no data-parallel workers; `cpu` is the reference only: too slow).
 *
 * It writes `outputs/bench/gpu_check.json` (schema `xray-gpu-check/1`, see `bench/README.md`) and
 * prints a summary. Timings on a software adapter are correctness runs, never GPU speeds.
 *
 * Options: `--quick` (48 px, 8 + 4 images per class: a plumbing check that runs on lavapipe in a
 * few minutes), `--size N` (default 150), `--train-per-class N` (default 256), `--val-per-class N`
 * (default 64), `--epochs N` (default 2: the first includes one-time set-up such as shader
 * compilation), `--backends a,b` (default all but cpu), `--models a,b` (default cnn_reg,compact),
 * `--skip-correctness`, `--out PATH`.
 * @module
 */
import { type CliSpec, helpText, parseCli, runCli } from "../lib/cli/_args.ts";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { type BackendChoice, type BackendInfo, initBackend } from "../lib/backend/select.ts";
import { type AdapterSummary, describeAdapter } from "../lib/backend/webgpu.ts";
import { LAYER_CASES, LAYER_TOLERANCE, layerParity } from "../lib/backend/parity.ts";
import { FIT_TOLERANCE, type FitParity, fitParity, fitPasses } from "../lib/train/fit_parity.ts";
import { writeJsonAtomic } from "../lib/util/atomic.ts";
import type { EpochRunResult } from "./epoch_run.ts";
import { BENCH_TMP, denoExecutable, requireWritable } from "./permissions.ts";

/** Schema id of the result file. */
export const GPU_CHECK_SCHEMA = "xray-gpu-check/1";

/** Backends the check tries by default, GPU ones first (`cpu` is the reference). */
export const CHECKED_BACKENDS: BackendChoice[] = ["tfjs-node-gpu", "webgpu", "tfjs-node", "wasm"];

/** One backend: whether it loaded, and why not. */
export interface BackendStatus {
  name: string;
  available: boolean;
  /** Why it did not load, else null. */
  reason: string | null;
  adapter: AdapterSummary | null;
  /** True on a software (CPU) WebGPU adapter: its timings say nothing about GPU speed. */
  software: boolean;
}

/** Correctness of one backend against `cpu`. */
export interface CorrectnessEntry {
  backend: string;
  reference: "cpu";
  layers: { name: string; maxError: number; passed: boolean }[];
  fits: (Omit<FitParity, "losses"> & { passed: boolean })[];
  /** Every layer and fit within tolerance. */
  passed: boolean;
  /** An exception that stopped the check, else null. */
  error: string | null;
  seconds: number;
}

/** Timed epochs of one model on one backend, or why they could not run. */
export type EpochEntry = EpochRunResult & { error: null } | {
  backend: string;
  model: string;
  error: string;
};

/** The whole result file. */
export interface GpuCheckJson {
  schema: string;
  startedAt: string;
  finishedAt: string;
  machine: { cpus: number; cpuModel: string; memoryGiB: number; deno: string };
  options: {
    size: number;
    trainPerClass: number;
    valPerClass: number;
    epochs: number;
    models: string[];
    quick: boolean;
  };
  tolerances: { layer: number; fit: typeof FIT_TOLERANCE };
  backends: BackendStatus[];
  correctness: CorrectnessEntry[];
  epochs: EpochEntry[];
}

const EPOCH_RUN = fileURLToPath(new URL("./epoch_run.ts", import.meta.url));

/** Tries each backend in this process; returns their status and the infos of those that loaded. */
async function findBackends(names: BackendChoice[]): Promise<[BackendStatus[], BackendInfo[]]> {
  const status: BackendStatus[] = [], infos: BackendInfo[] = [];
  for (const name of names) {
    try {
      const info = await initBackend({ prefer: name });
      infos.push(info);
      const software = info.adapter?.software ?? false;
      status.push({ name, available: true, reason: null, adapter: info.adapter, software });
    } catch (err) {
      const reason = (err as Error).message.replace(
        /^Backend "[^"]+" was forced \(prefer\) but /,
        "",
      );
      status.push({ name, available: false, reason, adapter: null, software: false });
    }
  }
  return [status, infos];
}

/** Layer and fit parity of `info`'s backend against cpu. */
async function correctness(info: BackendInfo): Promise<CorrectnessEntry> {
  const t0 = performance.now();
  const entry: CorrectnessEntry = {
    backend: info.name,
    reference: "cpu",
    layers: [],
    fits: [],
    passed: false,
    error: null,
    seconds: 0,
  };
  try {
    await initBackend({ prefer: "cpu" });
    await initBackend({ prefer: info.name });
    for (const c of LAYER_CASES) {
      const r = await layerParity(c, info.tfName, "cpu");
      entry.layers.push({
        name: r.name,
        maxError: r.maxError,
        passed: r.maxError < LAYER_TOLERANCE,
      });
    }
    for (const [model, size, batch] of [["compact", 16, 2], ["dense_baseline", 8, 4]] as const) {
      const r = await fitParity(model, info.tfName, "cpu", { size, batch, steps: 6 });
      const { losses: _losses, ...errors } = r;
      entry.fits.push({ ...errors, passed: fitPasses(r) });
    }
    entry.passed = entry.layers.every((l) => l.passed) && entry.fits.every((f) => f.passed);
  } catch (err) {
    entry.error = (err as Error).message.split("\n")[0];
  }
  entry.seconds = Math.round((performance.now() - t0) / 100) / 10;
  return entry;
}

/** Runs `bench/epoch_run.ts` in a subprocess; returns its result or the error text. */
async function epochRun(
  deno: string,
  backend: string,
  model: string,
  o: GpuCheckJson["options"],
): Promise<EpochEntry> {
  const args = [
    "run",
    "--allow-read",
    `--allow-write=${BENCH_TMP}`,
    "--allow-env",
    "--allow-ffi",
    "--allow-sys",
    EPOCH_RUN,
    ...["--backend", backend, "--model", model, "--size", String(o.size)],
    ...["--train-per-class", String(o.trainPerClass), "--val-per-class", String(o.valPerClass)],
    ...["--epochs", String(o.epochs)],
  ];
  const out = await new Deno.Command(deno, { args, stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder().decode(out.stdout).trim().split("\n").pop() ?? "";
  if (out.success && text.startsWith("{")) return { ...JSON.parse(text), error: null };
  const err = new TextDecoder().decode(out.stderr).trim().split("\n");
  const line = err.find((l) => /error/i.test(l)) ?? err.pop() ?? `exit code ${out.code}`;
  // deno-lint-ignore no-control-regex -- strips the ANSI colours of Deno's error output
  return { backend, model, error: line.replace(/\x1b\[[0-9;]*m/g, "").slice(0, 500) };
}

/** The summary printed at the end. */
export function formatGpuCheck(r: GpuCheckJson): string {
  const lines = ["Backends:"];
  for (const b of r.backends) {
    lines.push(
      b.available
        ? `  ${b.name}: loaded${b.adapter ? ` on ${describeAdapter(b.adapter)}` : ""}` +
          (b.software ? " (software renderer: timings are not GPU speeds)" : "")
        : `  ${b.name}: not available: ${b.reason}`,
    );
  }
  lines.push("Correctness against cpu:");
  for (const c of r.correctness) {
    const worst = Math.max(...c.layers.map((l) => l.maxError));
    const fits = c.fits.map((f) => `${f.model} loss error ${f.lossError.toExponential(1)}`);
    lines.push(
      c.error
        ? `  ${c.backend}: FAILED to run: ${c.error}`
        : `  ${c.backend}: ${c.passed ? "passed" : "FAILED"} (${c.layers.length} layer cases, ` +
          `worst error ${worst.toExponential(1)}; ${fits.join(", ")}; ${c.seconds} s)`,
    );
  }
  lines.push(`Training epochs (${r.options.size} px, synthetic images, one process):`);
  for (const e of r.epochs) {
    lines.push(
      e.error !== null
        ? `  ${e.model} on ${e.backend}: not run: ${e.error}`
        : `  ${e.model} on ${e.backend}: ${e.trainImages} images, batch ${e.batchSize}, epochs ` +
          `${e.epochSeconds.map((s) => `${s} s`).join(", ")} (last: ${e.imagesPerSecond} img/s)`,
    );
  }
  return lines.join("\n");
}

const count = (help: string, min: number, def?: number) =>
  ({ type: "number", arg: "N", integer: true, min, default: def, help }) as const;

/** The gpu-check command's flags. */
export const GPU_CHECK_CLI = {
  name: "gpu-check",
  synopsis: [
    "[--quick] [--size N] [--train-per-class N] [--val-per-class N] [--epochs N] " +
    "[--backends a,b] [--models a,b] [--skip-correctness] [--out PATH]",
  ],
  about:
    "Which backends load here, each checked against cpu (layer gradients, seeded fits), then " +
    "timed training epochs of cnn_reg and compact on each; writes outputs/bench/gpu_check.json.",
  flags: {
    quick: { type: "boolean", help: "48 px, 8 + 4 images per class (runs on a software adapter)" },
    size: count("input side (default 150, --quick 48)", 8),
    "train-per-class": count("synthetic training images per class (default 256, --quick 8)", 1),
    "val-per-class": count("synthetic validation images per class (default 64, --quick 4)", 1),
    epochs: {
      type: "number",
      arg: "N",
      integer: true,
      min: 1,
      default: 2,
      help: "epochs per model and backend (the first includes set-up)",
    },
    backends: { type: "string", arg: "a,b", help: `default ${CHECKED_BACKENDS.join(",")}` },
    models: { type: "string", arg: "a,b", default: "cnn_reg,compact", help: "models to time" },
    "skip-correctness": { type: "boolean", help: "only the timed epochs" },
    out: {
      type: "string",
      arg: "PATH",
      default: "outputs/bench/gpu_check.json",
      help: "result (under outputs/)",
    },
  },
} as const satisfies CliSpec;

async function main(args: string[]): Promise<void> {
  const { values: v, help } = parseCli(GPU_CHECK_CLI, args);
  if (help) return console.log(helpText(GPU_CHECK_CLI));
  await requireWritable("out", v.out);
  const deno = await denoExecutable("gpu-check");
  const q = v.quick;
  const options: GpuCheckJson["options"] = {
    size: v.size ?? (q ? 48 : 150),
    trainPerClass: v["train-per-class"] ?? (q ? 8 : 256),
    valPerClass: v["val-per-class"] ?? (q ? 4 : 64),
    epochs: v.epochs,
    models: v.models.split(",").map((s) => s.trim()),
    quick: q,
  };
  const names =
    (v.backends?.split(",").map((s) => s.trim()) ?? CHECKED_BACKENDS) as BackendChoice[];
  const startedAt = new Date().toISOString();
  const say = (s: string) => console.error(`gpu-check: ${s}`);
  const [backends, infos] = await findBackends(names);
  for (const b of backends) say(`${b.name}: ${b.available ? "loaded" : b.reason}`);
  const result: GpuCheckJson = {
    schema: GPU_CHECK_SCHEMA,
    startedAt,
    finishedAt: "",
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? "unknown",
      memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
      deno: Deno.version.deno,
    },
    options,
    tolerances: { layer: LAYER_TOLERANCE, fit: FIT_TOLERANCE },
    backends,
    correctness: [],
    epochs: [],
  };
  if (!v["skip-correctness"]) {
    for (const info of infos) {
      say(`correctness of ${info.name} against cpu ...`);
      result.correctness.push(await correctness(info));
    }
  }
  for (const info of infos) {
    for (const model of options.models) {
      say(`${model} on ${info.name}: ${options.epochs} epochs at ${options.size} px ...`);
      result.epochs.push(await epochRun(deno, info.name, model, options));
    }
  }
  result.finishedAt = new Date().toISOString();
  await writeJsonAtomic(v.out, result);
  console.log(formatGpuCheck(result));
  console.log(`Written to ${v.out}`);
  const failed = result.correctness.some((c) => !c.passed);
  if (failed) Deno.exitCode = 1;
}

if (import.meta.main) await runCli("gpu-check", () => main(Deno.args), GPU_CHECK_CLI);
