/**
 * An ood.json for tests: a one-dimensional feature distribution (`mean`, `precision`, distance
 * threshold 2) and the image-statistics ranges of the given synthetic chests.
 */
import { imageStats, type OodFile, statRanges } from "../../lib/images/scope.ts";

/** The fixture; `chests` are grey images of `size` x `size`. */
export function oodFixture(
  chests: Uint8Array[],
  size: number,
  feature: { mean: number; precision: number } = { mean: 0, precision: 1 },
): OodFile {
  return {
    schema: "xray-ood/1",
    layer: "output",
    features: {
      dim: 1,
      mean: [feature.mean],
      precision: [feature.precision],
      shrinkage: 0,
      threshold: 2,
      quantile: 0.95,
      trainImages: 1,
      valImages: 1,
      valDistances: { p50: 1, p95: 2, p99: 2.5, max: 3 },
    },
    stats: statRanges(chests.map((c) => imageStats(null, c, size, 1))),
    fittedOn: {},
    created: "",
  };
}
