/**
 * Our wasm training speed against PyTorch eager CPU in one run, at the same number of threads:
 * rounds that alternate `bench/pytorch_reference.py` (Debian's `python3-torch`,
 * `torch.set_num_threads(T)`) with our `cnn_reg` trained the way `deno task train` trains on T
 * cores, each in its own process so that both see the same load. With T = 1 that is one thread;
 * with T > 1, T data-parallel worker replicas of one thread each (`DataParallelTrainer`; what
 * `defaultTrainWorkers` gives cnn_reg at 150 px on 2 cores), and each round also runs ours on one thread (our speed-up) and with the
 * step split over T kernel threads in one process (`XRAY_WASM_THREADS=T`, no workers: the other
 * way to use the cores, which serves in-process work). With `--before`, also our kernels
 * without the relaxed-SIMD ones (`XRAY_WASM_SIMD=off`).
 *
 * Prints per-round figures and the medians, names the CPU, and writes
 * `outputs/bench/vs_pytorch.json`; with `--json` stdout is only that JSON object (progress goes to
 * stderr): `threads`, `oursMsPerImage`, `pytorchMsPerImage`, `ratio` (PyTorch ms per image /
 * ours: above 1 we are faster), and more (see {@link VsPytorchResult}).
 *
 * ```sh
 * apt-get install -y python3-torch   # optional; only this benchmark needs it
 * deno task bench-pytorch [--threads 1|2] [--json] [--rounds 3] [--steps 8] [--warmup 10] [--before]
 * ```
 * Never run by tests (PyTorch is not a dependency of the project); its parsing and summary are
 * (tests/bench/vs_pytorch_test.ts).
 * @module
 */
import { fileURLToPath } from "node:url";
import os from "node:os";
import { type CliSpec, helpText, parseCli, runCli, UsageError } from "../lib/cli/_args.ts";
import { writeJsonAtomic } from "../lib/util/atomic.ts";
import type { ModelBenchResult } from "./model_bench.ts";

export const VS_PYTORCH_CLI = {
  name: "bench-pytorch",
  command: "deno task bench-pytorch",
  synopsis: [
    "[--threads 1|2] [--json] [--rounds N] [--steps N] [--warmup N] [--before] [--python PATH] " +
    "[--out PATH]",
  ],
  about:
    "cnn_reg training, ours against PyTorch eager CPU at the same thread count, alternating rounds.",
  flags: {
    threads: {
      type: "number",
      arg: "N",
      integer: true,
      min: 1,
      default: 1,
      help: "threads on both sides (PyTorch set_num_threads, our XRAY_WASM_THREADS)",
    },
    json: { type: "boolean", help: "print only the result JSON on stdout" },
    rounds: { type: "number", arg: "N", integer: true, min: 1, default: 3, help: "rounds" },
    steps: { type: "number", arg: "N", integer: true, min: 2, default: 8, help: "steps per run" },
    warmup: {
      type: "number",
      arg: "N",
      integer: true,
      min: 0,
      default: 10,
      help: "untimed steps before them, on every side (worker replicas are slow for ~8 steps)",
    },
    before: { type: "boolean", help: "also time our kernels with XRAY_WASM_SIMD=off" },
    python: {
      type: "string",
      arg: "PATH",
      default: "/usr/bin/python3",
      help: "a Python with torch (Debian: python3-torch)",
    },
    out: {
      type: "string",
      arg: "PATH",
      default: "outputs/bench/vs_pytorch.json",
      help: "result file",
    },
  },
} as const satisfies CliSpec;

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

/** One timed run of one side. */
export interface Figures {
  /** Median wall ms per image over the run's steps. */
  trainMsPerImage: number;
  /** Median CPU ms per image (all the process's threads). */
  trainCpuMsPerImage: number;
  /** Median wall ms per image over the quiet steps (others used <= 10% of a CPU); or null. */
  trainQuietMsPerImage: number | null;
}

/** One round: PyTorch and ours at `threads`, and ours on one thread when threads > 1. */
export interface Round {
  pytorch: Figures;
  ours: Figures;
  oursOneThread: Figures | null;
  /** With threads > 1: ours with the step split over the kernel threads, no workers. */
  oursKernelThreads?: Figures | null;
  oursBefore: Figures | null;
}

/** What the benchmark prints with --json and writes to --out. */
export interface VsPytorchResult {
  schema: "xray-bench-vs-pytorch/3";
  threads: number;
  /** Medians over rounds of each round's median wall ms per image. */
  oursMsPerImage: number;
  pytorchMsPerImage: number;
  /** pytorchMsPerImage / oursMsPerImage: above 1 we are faster. */
  ratio: number;
  /** With threads > 1: ours on one thread, and oursOneThread / ours (our speed-up). */
  oursOneThreadMsPerImage: number | null;
  speedupVsOneThread: number | null;
  /** With threads > 1: ours with the step split over the kernel threads, and its speed-up. */
  oursKernelThreadsMsPerImage: number | null;
  kernelThreadsSpeedupVsOneThread: number | null;
  /** The same medians over quiet steps only, where every side had >= 3 quiet steps a round. */
  quiet: { oursMsPerImage: number; pytorchMsPerImage: number; ratio: number } | null;
  ratioWithoutSimdKernels: number | null;
  torch: string;
  workload: string;
  machine: Record<string, unknown>;
  finishedAt: string;
  rounds: Round[];
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const r2 = (x: number) => Math.round(x * 100) / 100;

/**
 * The last line of a subprocess's stdout as JSON with the numeric fields `fields`; throws naming
 * `who` and the line when it is not.
 */
export function parseResultLine(
  who: string,
  stdout: string,
  fields: string[],
): Record<string, unknown> {
  const line = stdout.trim().split("\n").at(-1) ?? "";
  let r: Record<string, unknown>;
  try {
    r = JSON.parse(line);
  } catch {
    throw new Error(`${who}: expected one JSON line on stdout, got ${JSON.stringify(line)}`);
  }
  for (const f of fields) {
    if (typeof r[f] !== "number") {
      throw new Error(`${who}: field ${f} missing or not a number in ${line}`);
    }
  }
  return r;
}

/** pytorch_reference.py's line as {@link Figures} (+ the torch version). */
export function pytorchFigures(stdout: string): Figures & { torch: string } {
  const r = parseResultLine("pytorch_reference.py", stdout, [
    "trainMsPerImage",
    "trainCpuMsPerImage",
  ]);
  return {
    torch: String(r.torch),
    trainMsPerImage: r.trainMsPerImage as number,
    trainCpuMsPerImage: r.trainCpuMsPerImage as number,
    trainQuietMsPerImage: (r.trainQuietMsPerImage as number | null) ?? null,
  };
}

/** run_model.ts's line ({@link ModelBenchResult}) as {@link Figures}. */
export function oursFigures(stdout: string): Figures {
  const r = parseResultLine("run_model.ts", stdout, []) as unknown as ModelBenchResult;
  if (typeof r.train?.msPerImage !== "number") {
    throw new Error(`run_model.ts: no train.msPerImage in ${stdout.trim().split("\n").at(-1)}`);
  }
  return {
    trainMsPerImage: r.train.msPerImage,
    trainCpuMsPerImage: r.train.cpuMsPerImage,
    trainQuietMsPerImage: r.train.quietMsPerImage ?? null,
  };
}

/** The result object from the rounds (medians over rounds; see {@link VsPytorchResult}). */
export function summarise(
  rounds: Round[],
  threads: number,
  meta: { torch: string; machine: Record<string, unknown>; finishedAt: string },
): VsPytorchResult {
  if (rounds.length === 0) throw new Error("summarise: no rounds");
  const med = (f: (r: Round) => number) => r2(median(rounds.map(f)));
  const ours = med((r) => r.ours.trainMsPerImage);
  const pytorch = med((r) => r.pytorch.trainMsPerImage);
  const one = rounds.every((r) => r.oursOneThread)
    ? med((r) => r.oursOneThread!.trainMsPerImage)
    : null;
  const quietOk = rounds.every((r) =>
    r.ours.trainQuietMsPerImage !== null && r.pytorch.trainQuietMsPerImage !== null
  );
  const quiet = quietOk
    ? (() => {
      const o = med((r) => r.ours.trainQuietMsPerImage!);
      const p = med((r) => r.pytorch.trainQuietMsPerImage!);
      return { oursMsPerImage: o, pytorchMsPerImage: p, ratio: r2(p / o) };
    })()
    : null;
  const kernel = rounds.every((r) => r.oursKernelThreads)
    ? med((r) => r.oursKernelThreads!.trainMsPerImage)
    : null;
  const before = rounds.every((r) => r.oursBefore)
    ? r2(pytorch / med((r) => r.oursBefore!.trainMsPerImage))
    : null;
  return {
    schema: "xray-bench-vs-pytorch/3",
    threads,
    oursMsPerImage: ours,
    pytorchMsPerImage: pytorch,
    ratio: r2(pytorch / ours),
    oursOneThreadMsPerImage: one,
    speedupVsOneThread: one === null ? null : r2(one / ours),
    oursKernelThreadsMsPerImage: kernel,
    kernelThreadsSpeedupVsOneThread: one === null || kernel === null ? null : r2(one / kernel),
    quiet,
    ratioWithoutSimdKernels: before,
    torch: meta.torch,
    workload: `cnn_reg 150x150x3, batch 8, Adam; ${threads} thread(s) each (PyTorch ` +
      `set_num_threads; ours ${
        threads === 1
          ? "one thread"
          : `${threads} data-parallel workers of one thread each, as deno task train trains`
      })`,
    machine: meta.machine,
    finishedAt: meta.finishedAt,
    rounds,
  };
}

/** One line per round, for people. */
export function formatRound(i: number, r: Round): string {
  const f = (x: Figures) =>
    `${x.trainMsPerImage} ms/img (CPU ${x.trainCpuMsPerImage}${
      x.trainQuietMsPerImage === null ? "" : `, quiet ${x.trainQuietMsPerImage}`
    })`;
  return `round ${i + 1}: PyTorch ${f(r.pytorch)}, ours ${f(r.ours)}${
    r.oursOneThread ? `, ours 1 thread ${f(r.oursOneThread)}` : ""
  }${r.oursKernelThreads ? `, ours on kernel threads ${f(r.oursKernelThreads)}` : ""}${
    r.oursBefore ? `, ours without SIMD kernels ${f(r.oursBefore)}` : ""
  }: ratio ${r2(r.pytorch.trainMsPerImage / r.ours.trainMsPerImage)}`;
}

async function output(cmd: string, args: string[], env: Record<string, string> = {}) {
  const res = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" })
    .output();
  if (!res.success) {
    throw new Error(`${cmd} ${args.join(" ")} failed: ${new TextDecoder().decode(res.stderr)}`);
  }
  return new TextDecoder().decode(res.stdout);
}

async function pytorch(python: string, steps: number, warmup: number, threads: number) {
  return pytorchFigures(
    await output(python, [
      here("./pytorch_reference.py"),
      "--threads",
      `${threads}`,
      "--steps",
      `${steps}`,
      "--warmup",
      `${warmup}`,
    ]),
  );
}

/** Ours: `threads` kernel threads in one process, or `workers` data-parallel replicas. */
async function ours(
  steps: number,
  warmup: number,
  simd: boolean,
  threads: number,
  workers = 0,
): Promise<Figures> {
  return oursFigures(
    await output(Deno.execPath(), [
      "run",
      "--allow-read",
      "--allow-env",
      "--allow-ffi",
      "--allow-sys",
      here("./run_model.ts"),
      "--model",
      "cnn_reg",
      "--steps",
      `${steps}`,
      "--warmup",
      `${warmup}`,
      "--backend",
      "wasm",
      "--workers",
      `${workers}`,
    ], {
      XRAY_WASM_SIMD: simd ? "on" : "off",
      XRAY_BACKEND: "wasm",
      XRAY_WASM_THREADS: `${threads}`,
    }),
  );
}

/** "AVX-512", "AVX2" or "no AVX2", from /proc/cpuinfo (read by grep: Deno asks --allow-all for /proc). */
async function cpuVector(): Promise<string> {
  const has = async (flag: string) => {
    try {
      return (await new Deno.Command("grep", {
        args: ["-qw", flag, "/proc/cpuinfo"],
        stdout: "null",
        stderr: "null",
      }).output()).success;
    } catch {
      return false;
    }
  };
  return (await has("avx512f")) ? "AVX-512" : (await has("avx2")) ? "AVX2" : "no AVX2 (or unknown)";
}

async function main(args: string[]) {
  const { values, help } = parseCli(VS_PYTORCH_CLI, args);
  if (help) return console.log(helpText(VS_PYTORCH_CLI));
  const log = values.json ? console.error : console.log;
  const T = values.threads;
  try {
    await output(values.python, ["-c", "import json, torch; print(json.dumps(1))"]);
  } catch {
    throw new UsageError(
      `${values.python} cannot import torch: install Debian's python3-torch ` +
        "(apt-get install -y python3-torch) or pass --python",
    );
  }
  const machine = {
    cpuModel: os.cpus()[0]?.model ?? "unknown",
    cpus: os.cpus().length,
    vector: await cpuVector(),
    loadAverage1mAtStart: r2(os.loadavg()[0]),
  };
  log(
    `bench-pytorch: ${machine.cpuModel} (${machine.vector}, ${machine.cpus} CPUs), load ${machine.loadAverage1mAtStart}; cnn_reg 150x150x3 batch 8, ${T} thread(s) each`,
  );
  const rounds: Round[] = [];
  let torchVersion = "";
  for (let i = 0; i < values.rounds; i++) {
    const { steps, warmup } = values;
    const pt = await pytorch(values.python, steps, warmup, T);
    torchVersion = pt.torch;
    const workers = T > 1 ? T : 0;
    const us = await ours(steps, warmup, true, T, workers);
    const one = T > 1 ? await ours(steps, warmup, true, 1) : null;
    const kernel = T > 1 ? await ours(steps, warmup, true, T) : null;
    const before = values.before ? await ours(steps, warmup, false, T, workers) : null;
    const { torch: _, ...ptFigures } = pt;
    rounds.push({
      pytorch: ptFigures,
      ours: us,
      oursOneThread: one,
      oursKernelThreads: kernel,
      oursBefore: before,
    });
    log(formatRound(i, rounds[i]));
  }
  const result = summarise(rounds, T, {
    torch: torchVersion,
    machine: { ...machine, loadAverage1mAtEnd: r2(os.loadavg()[0]) },
    finishedAt: new Date().toISOString(),
  });
  await writeJsonAtomic(values.out, result);
  if (values.json) console.log(JSON.stringify(result));
  else {
    log(
      `median: ours ${result.oursMsPerImage} ms/img, PyTorch ${result.pytorchMsPerImage}: ratio ${result.ratio}${
        result.speedupVsOneThread === null
          ? ""
          : `; ours ${result.speedupVsOneThread}x our one thread (${result.oursOneThreadMsPerImage})`
      }${
        result.oursKernelThreadsMsPerImage === null
          ? ""
          : `; on kernel threads instead ${result.oursKernelThreadsMsPerImage} ms/img (${result.kernelThreadsSpeedupVsOneThread}x)`
      }${
        result.quiet ? `; quiet steps only: ratio ${result.quiet.ratio}` : ""
      }. Written to ${values.out}`,
    );
  }
}

if (import.meta.main) await runCli("bench-pytorch", () => main(Deno.args), VS_PYTORCH_CLI);
