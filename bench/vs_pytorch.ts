/**
 * Our wasm training speed against PyTorch eager CPU in one run, on one thread each: rounds that
 * alternate `bench/pytorch_reference.py` (Debian's `python3-torch`) with our `cnn_reg` (and,
 * with `--before`, our kernels without the relaxed-SIMD ones, `XRAY_WASM_SIMD=off`), each in its
 * own process, so that both see the same load. Prints per-round figures and the median ratio
 * (PyTorch ms per image / ours: 1.0 means as fast as PyTorch), names the CPU, and writes
 * `outputs/bench/vs_pytorch.json`.
 *
 * ```sh
 * apt-get install -y python3-torch   # optional; only this benchmark needs it
 * deno task bench-pytorch [--rounds 3] [--steps 8] [--before] [--model cnn_reg]
 * ```
 * Never run by tests (PyTorch is not a dependency of the project).
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
  synopsis: ["[--rounds N] [--steps N] [--before] [--python PATH] [--out PATH]"],
  about: "cnn_reg training, ours against PyTorch eager CPU, one thread each, alternating rounds.",
  flags: {
    rounds: { type: "number", arg: "N", integer: true, min: 1, default: 3, help: "rounds" },
    steps: { type: "number", arg: "N", integer: true, min: 2, default: 8, help: "steps per run" },
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

interface Figures {
  trainMsPerImage: number;
  trainCpuMsPerImage: number;
}

async function output(cmd: string, args: string[], env: Record<string, string> = {}) {
  const res = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" })
    .output();
  const out = new TextDecoder().decode(res.stdout).trim().split("\n").at(-1) ?? "";
  if (!res.success) {
    throw new Error(`${cmd} ${args.join(" ")} failed: ${new TextDecoder().decode(res.stderr)}`);
  }
  return JSON.parse(out);
}

async function pytorch(python: string, steps: number): Promise<Figures & { torch: string }> {
  const r = await output(python, [
    here("./pytorch_reference.py"),
    "--threads",
    "1",
    "--steps",
    `${steps}`,
  ]);
  return {
    torch: r.torch,
    trainMsPerImage: r.trainMsPerImage,
    trainCpuMsPerImage: r.trainCpuMsPerImage,
  };
}

async function ours(steps: number, simd: boolean): Promise<Figures> {
  const r: ModelBenchResult = await output(Deno.execPath(), [
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
    "--backend",
    "wasm",
  ], { XRAY_WASM_SIMD: simd ? "on" : "off", XRAY_BACKEND: "wasm" });
  return { trainMsPerImage: r.train.msPerImage, trainCpuMsPerImage: r.train.cpuMsPerImage };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const r2 = (x: number) => Math.round(x * 100) / 100;

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
  console.log(
    `bench-pytorch: ${machine.cpuModel} (${machine.vector}, ${machine.cpus} CPUs), load ${machine.loadAverage1mAtStart}; cnn_reg 150x150x3 batch 8, one thread each`,
  );
  const rounds: { pytorch: Figures; ours: Figures; oursBefore: Figures | null }[] = [];
  let torchVersion = "";
  for (let i = 0; i < values.rounds; i++) {
    const pt = await pytorch(values.python, values.steps);
    torchVersion = pt.torch;
    const us = await ours(values.steps, true);
    const before = values.before ? await ours(values.steps, false) : null;
    rounds.push({ pytorch: pt, ours: us, oursBefore: before });
    console.log(
      `round ${
        i + 1
      }: PyTorch ${pt.trainMsPerImage} ms/img (CPU ${pt.trainCpuMsPerImage}), ours ${us.trainMsPerImage} (CPU ${us.trainCpuMsPerImage})${
        before
          ? `, ours without SIMD kernels ${before.trainMsPerImage} (CPU ${before.trainCpuMsPerImage})`
          : ""
      }: ratio ${r2(pt.trainMsPerImage / us.trainMsPerImage)}`,
    );
  }
  const ratio = median(rounds.map((r) => r.pytorch.trainMsPerImage / r.ours.trainMsPerImage));
  const ratioBefore = values.before
    ? median(rounds.map((r) => r.pytorch.trainMsPerImage / r.oursBefore!.trainMsPerImage))
    : null;
  const result = {
    schema: "xray-bench-vs-pytorch/1",
    finishedAt: new Date().toISOString(),
    machine: { ...machine, loadAverage1mAtEnd: r2(os.loadavg()[0]) },
    workload: "cnn_reg 150x150x3, batch 8, Adam, one thread (PyTorch set_num_threads(1))",
    torch: torchVersion,
    rounds,
    speedRatio: r2(ratio),
    speedRatioWithoutSimdKernels: ratioBefore === null ? null : r2(ratioBefore),
  };
  await writeJsonAtomic(values.out, result);
  console.log(
    `median speed ratio (PyTorch ms per image / ours): ${r2(ratio)}${
      ratioBefore === null ? "" : `; without our SIMD kernels ${r2(ratioBefore)}`
    }. Written to ${values.out}`,
  );
}

if (import.meta.main) await runCli("bench-pytorch", () => main(Deno.args), VS_PYTORCH_CLI);
