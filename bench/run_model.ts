/**
 * Subprocess entry of `deno task bench`: times one model with one kernel set and prints the
 * {@link ModelBenchResult} as one line of JSON on stdout (everything else goes to stderr).
 *
 * ```sh
 * deno run --allow-read --allow-env --allow-ffi --allow-sys bench/run_model.ts \
 *   --model cnn_reg --kernels fast --steps 5 [--backend webgpu]
 * ```
 * @module
 */
import { type CliSpec, helpText, parseCli, runCli, UsageError } from "../lib/cli/_args.ts";
import { BACKEND_ORDER, type BackendChoice } from "../lib/backend/select.ts";
import { benchModel } from "./model_bench.ts";

/** The flags of this subprocess entry. */
const RUN_MODEL_CLI = {
  name: "run_model",
  command: "deno run --allow-read --allow-env --allow-ffi --allow-sys bench/run_model.ts",
  synopsis: [
    "--model NAME [--kernels fast|reference] [--steps N] [--warmup N] [--batch N] " +
    "[--size N] [--backend NAME] [--workers N]",
  ],
  about: "Times one model with one kernel set; prints the result as one line of JSON.",
  flags: {
    model: { type: "string", arg: "NAME", help: "registered model" },
    kernels: {
      type: "string",
      choices: ["fast", "reference"],
      default: "fast",
      help: "our wasm kernels or the stock ones",
    },
    steps: { type: "number", arg: "N", integer: true, min: 1, default: 5, help: "timed steps" },
    warmup: { type: "number", arg: "N", integer: true, min: 0, default: 1, help: "untimed steps" },
    batch: { type: "number", arg: "N", integer: true, min: 1, help: "batch size" },
    size: { type: "number", arg: "N", integer: true, min: 1, help: "input side" },
    backend: {
      type: "string",
      arg: "NAME",
      choices: BACKEND_ORDER,
      help: "backend to force (default: initBackend()'s choice)",
    },
    workers: {
      type: "number",
      arg: "N",
      integer: true,
      min: 0,
      default: 0,
      help: "train through N data-parallel worker replicas (0: in this process)",
    },
  },
} as const satisfies CliSpec;

async function main(args: string[]): Promise<void> {
  const { values, help } = parseCli(RUN_MODEL_CLI, args);
  if (help) return console.log(helpText(RUN_MODEL_CLI));
  if (!values.model) throw new UsageError("--model NAME is required");
  // Keep stdout for the JSON line: tfjs prints its banners with console.log.
  const log = console.log;
  console.log = console.error;
  const result = await benchModel({
    model: values.model,
    kernels: values.kernels,
    steps: values.steps,
    warmup: values.warmup,
    batchSize: values.batch,
    size: values.size,
    backend: values.backend as BackendChoice | undefined,
    workers: values.workers,
  });
  log(JSON.stringify(result));
}

if (import.meta.main) await runCli("run_model", () => main(Deno.args), RUN_MODEL_CLI);
