/**
 * Subprocess entry of `deno task bench`: times one model with one kernel set and prints the
 * {@link ModelBenchResult} as one line of JSON on stdout (everything else goes to stderr).
 *
 * ```sh
 * deno run --allow-read --allow-env --allow-ffi --allow-sys bench/run_model.ts \
 *   --model cnn_reg --kernels fast --steps 5
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import { benchModel } from "./model_bench.ts";

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      model: { type: "string" },
      kernels: { type: "string", default: "fast" },
      steps: { type: "string", default: "5" },
      warmup: { type: "string", default: "1" },
      batch: { type: "string" },
      size: { type: "string" },
    },
  });
  if (!values.model) throw new Error("run_model.ts: --model NAME is required");
  if (values.kernels !== "fast" && values.kernels !== "reference") {
    throw new Error(
      `run_model.ts: --kernels must be "fast" or "reference", got "${values.kernels}"`,
    );
  }
  // Keep stdout for the JSON line: tfjs prints its banners with console.log.
  const log = console.log;
  console.log = console.error;
  const result = await benchModel({
    model: values.model,
    kernels: values.kernels,
    steps: Number(values.steps),
    warmup: Number(values.warmup),
    batchSize: values.batch ? Number(values.batch) : undefined,
    size: values.size ? Number(values.size) : undefined,
  });
  log(JSON.stringify(result));
}
