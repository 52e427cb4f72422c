/**
 * Human-readable table of a benchmark result (what `deno task bench` prints without `--json`).
 * @module
 */
import type { BenchJson } from "./schema.ts";
import { describeAdapter } from "../lib/backend/webgpu.ts";

const f = (x: number | null | undefined, d = 1) => (x == null ? "-" : x.toFixed(d));

/** Formats the result as a small fixed-width table plus notes. */
export function formatBench(r: BenchJson): string {
  const backends = r.backends ??
    [{ ...r.backend, adapter: r.backend.adapter ?? null, error: null }];
  const several = backends.length > 1;
  const lines = [
    ...backends.map((b) =>
      b.error
        ? `Backend ${b.name}: not measured: ${b.error}`
        : `Backend ${b.name}, ${b.threads} thread(s)` +
          (b.adapter
            ? `, adapter ${describeAdapter(b.adapter)}` +
              (b.adapter.software ? " (a CPU renderer: correctness only, not a GPU speed)" : "")
            : "")
    ),
    `${r.machine.cpus} CPUs (${r.machine.cpuModel}); ` +
    `load average ${r.machine.loadAverage1mAtStart} -> ${r.machine.loadAverage1mAtEnd}`,
    "",
    "model          size batch  train ms/img (CPU)  img/s  predict ms/img (CPU)  img/s  peak RSS MiB | stock train ms/img (CPU)  predict  speed-up train  predict",
  ];
  for (const m of r.models) {
    const label = several && m.backend ? `${m.model}@${m.backend}` : m.model;
    if (m.error) {
      lines.push(`${label.padEnd(14)} not run: ${m.error}`);
      continue;
    }
    const s = m.stock;
    lines.push(
      [
        label.padEnd(14),
        String(m.inputSize).padStart(4),
        String(m.batchSize).padStart(5),
        `${f(m.train?.msPerImage)} (${f(m.train?.cpuMsPerImage)})`.padStart(19),
        f(m.train?.imagesPerSecond).padStart(6),
        `${f(m.predict?.msPerImage)} (${f(m.predict?.cpuMsPerImage)})`.padStart(20),
        f(m.predict?.imagesPerSecond).padStart(6),
        String(m.peakRssMiB).padStart(14),
        " |",
        (s?.error ? "error" : `${f(s?.train?.msPerImage)} (${f(s?.train?.cpuMsPerImage)})`)
          .padStart(24),
        f(s?.predict?.msPerImage).padStart(8),
        (m.trainSpeedupVsStock == null
          ? "-"
          : `${f(m.trainSpeedupVsStock)}x (${f(m.trainSpeedupVsStockCpu)}x)`).padStart(16),
        (m.predictSpeedupVsStock == null ? "-" : `${f(m.predictSpeedupVsStock)}x`).padStart(8),
      ].join(" "),
    );
  }
  lines.push(
    "(ms per image: wall clock, median step; in parentheses: CPU time of the process, less disturbed by other load)",
    "",
    "Against PyTorch on this machine: deno task bench-pytorch (needs python3-torch)",
  );
  if (r.imageLoading) lines.push(`Image loading: ${JSON.stringify(r.imageLoading)}`);
  if (r.parallel) lines.push(`Data-parallel: ${JSON.stringify(r.parallel)}`);
  return lines.join("\n");
}
