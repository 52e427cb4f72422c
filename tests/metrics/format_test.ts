import assert from "node:assert/strict";
import {
  formatMetric,
  formatPercent,
  formatSigned,
  UNDEFINED_METRIC,
} from "../../lib/metrics/format.ts";
import { epochLogLine, epochMetrics } from "../../lib/train/epoch_metrics.ts";
import { formatInterval } from "../../lib/metrics/bootstrap.ts";
import { comparisonMarkdown } from "../../lib/train/compare.ts";
import { rowsToHtml } from "../../lib/charts/table.ts";

Deno.test("formatMetric, formatSigned, formatPercent: undefined (NaN) is n/a, never NaN", () => {
  assert.equal(UNDEFINED_METRIC, "n/a");
  assert.equal(formatMetric(0.91234), "0.912");
  assert.equal(formatMetric(0.91234, 4), "0.9123");
  assert.equal(formatMetric(NaN), "n/a");
  assert.equal(formatMetric(null), "n/a", "summary.json stores NaN as null");
  assert.equal(formatMetric(Infinity), "∞");
  assert.equal(formatMetric(-Infinity, 2), "-∞");
  assert.equal(formatSigned(0.0123), "+0.012");
  assert.equal(formatSigned(-0.0123), "-0.012");
  assert.equal(formatSigned(0), "+0.000");
  assert.equal(formatSigned(NaN), "n/a");
  assert.equal(formatPercent(0.1234, 1), "12.3%");
  assert.equal(formatPercent(0.5), "50%");
  assert.equal(formatPercent(NaN, 1), "n/a");
  assert.equal(formatPercent(undefined), "n/a");
});

Deno.test("a model that predicts no positive: the log line, intervals, tables say n/a, not NaN", () => {
  // Every probability below 0.5: precision (and F1) are undefined.
  const y = [0, 1, 0, 1, 1, 0], p = [0.1, 0.2, 0.3, 0.4, 0.45, 0.05];
  const m = epochMetrics(y, p);
  assert.ok(Number.isNaN(m.precision), "precision is undefined here");
  const line = epochLogLine({
    epoch: 3,
    epochs: 5,
    train: m,
    val: { ...m, auc: NaN },
    timeS: 1.34,
    improved: true,
    averagedFrom: 2,
  });
  assert.doesNotMatch(line, /NaN/);
  assert.match(line, /^epoch 3\/5 loss \d\.\d{4} acc 0\.5000 auc \d\.\d{4} \| val loss/);
  assert.match(line, / prec n\/a /);
  assert.match(line, / auc n\/a \| 1\.3 s \* \(val: mean of epochs 2-3\)$/);
  assert.equal(formatInterval({ estimate: NaN, lo: NaN, hi: NaN, nValid: 0, nSkipped: 9 }), "n/a");
  const md = comparisonMarkdown([{
    run: "m",
    model: "m",
    input: "64x64x1",
    trainImages: 6,
    valImages: 6,
    ...m,
    trainableParams: 10,
    totalTimeS: 1,
    epochs: 1,
    bestEpoch: 1,
    timePerEpochS: 1,
  }]);
  assert.doesNotMatch(md, /NaN/);
  assert.match(md, /n\/a/);
  assert.doesNotMatch(rowsToHtml([{ precision: NaN }]), /NaN/);
});
