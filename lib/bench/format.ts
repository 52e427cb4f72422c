/**
 * Human-readable table of a benchmark result (what `deno task bench` prints without `--json`).
 * @module
 */
import type { BenchJson } from "./schema.ts";

const f = (x: number | null | undefined, d = 1) => (x == null ? "-" : x.toFixed(d));

/** Formats the result as a small fixed-width table plus notes. */
export function formatBench(r: BenchJson): string {
  const lines = [
    `Backend ${r.backend.name}, ${r.backend.threads} thread(s); ${r.machine.cpus} CPUs (${r.machine.cpuModel}); ` +
    `load average ${r.machine.loadAverage1mAtStart} -> ${r.machine.loadAverage1mAtEnd}`,
    "",
    "model          size batch  train ms/img  img/s   predict ms/img  img/s   peak RSS MiB | stock train ms/img  predict  speed-up train  predict",
  ];
  for (const m of r.models) {
    if (m.error) {
      lines.push(`${m.model.padEnd(14)} not run: ${m.error}`);
      continue;
    }
    const s = m.stock;
    lines.push(
      [
        m.model.padEnd(14),
        String(m.inputSize).padStart(4),
        String(m.batchSize).padStart(5),
        f(m.train?.msPerImage).padStart(13),
        f(m.train?.imagesPerSecond).padStart(6),
        f(m.predict?.msPerImage).padStart(16),
        f(m.predict?.imagesPerSecond).padStart(6),
        String(m.peakRssMiB).padStart(14),
        " |",
        (s?.error ? "error" : f(s?.train?.msPerImage)).padStart(18),
        f(s?.predict?.msPerImage).padStart(8),
        (m.trainSpeedupVsStock == null ? "-" : `${f(m.trainSpeedupVsStock)}x`).padStart(16),
        (m.predictSpeedupVsStock == null ? "-" : `${f(m.predictSpeedupVsStock)}x`).padStart(8),
      ].join(" "),
    );
  }
  const p = r.pytorchReference;
  lines.push(
    "",
    `PyTorch eager CPU reference (${p.source}): ${p.model} train ${p.trainMsPerImage1Thread} ms/img (1 thread), ` +
      `predict ${p.predictMsPerImage} ms/img`,
  );
  if (r.imageLoading) lines.push(`Image loading: ${JSON.stringify(r.imageLoading)}`);
  if (r.parallel) lines.push(`Data-parallel: ${JSON.stringify(r.parallel)}`);
  return lines.join("\n");
}
