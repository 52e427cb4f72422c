import assert from "node:assert/strict";
import { dotIntervalChart, zoomedDomain } from "../../lib/charts/dot_intervals.ts";

const models = [
  { label: "compact", estimate: 0.981, lo: 0.972, hi: 0.988 },
  { label: "dense", estimate: 0.962, lo: 0.948, hi: 0.974 },
  { label: "transfer", estimate: 0.989, lo: 0.983, hi: 0.994 },
];

/** The x positions Plot gave the marks labelled `aria` (cx of dots, x1/x2 of rules). */
function positions(html: string, aria: string, attr: string): number[] {
  const g = html.split(`aria-label="${aria}"`)[1].split("</g>")[0];
  return [...g.matchAll(new RegExp(`\\s${attr}="([\\d.]+)"`, "g"))].map((m) => Number(m[1]));
}

Deno.test("zoomedDomain: around the values and intervals, padded, at least minSpan, within bounds", () => {
  const [lo, hi] = zoomedDomain(models, { bounds: [0, 1] });
  assert.ok(lo > 0.9 && lo < 0.948, `low end ${lo}`);
  assert.ok(hi > 0.994 && hi <= 1, `high end ${hi}`);
  // Values that nearly agree: the axis is minSpan wide, not blown up to the last decimal.
  const close = zoomedDomain([{ label: "a", estimate: 0.5 }, { label: "b", estimate: 0.501 }]);
  assert.ok(Math.abs(close[1] - close[0] - 0.02 * 1.16) < 1e-9, `${close}`);
  // At a bound, the span extends to the other side.
  const top = zoomedDomain([{ label: "a", estimate: 1 }, { label: "b", estimate: 0.999 }], {
    bounds: [0, 1],
  });
  assert.equal(top[1], 1);
  assert.ok(1 - top[0] >= 0.02 - 1e-12);
  assert.deepEqual(zoomedDomain([{ label: "a", estimate: NaN }], { bounds: [0, 1] }), [0, 1]);
});

Deno.test("dotIntervalChart: a dot and an interval per row on a zoomed axis, values written", () => {
  const html = dotIntervalChart(models, { title: "Validation ROC-AUC", valueLabel: "ROC-AUC" });
  assert.match(html, /^<figure class="xr-chart" data-chart="dot-intervals"/);
  assert.equal((html.match(/<svg/g) ?? []).length, 1);
  for (const t of ["compact", "dense", "transfer", ">0.981<", ">0.962<", ">0.989<"]) {
    assert.ok(html.includes(t), t);
  }
  assert.match(html, /ROC-AUC \(axis zoomed\)/);
  assert.equal(positions(html, "dot", "cx").length, 3);
  assert.equal(positions(html, "rule", "x1").length, 3);
  // Zoomed: 0.962 and 0.989 lie far apart on a 560 px chart (from 0 they would be ~15 px apart).
  const [compact, dense, transfer] = positions(html, "dot", "cx");
  assert.ok(transfer - dense > 200, `dots at ${dense} and ${transfer}`);
  assert.ok(dense < compact && compact < transfer);
  // No tick at 0: the axis does not start at zero.
  assert.doesNotMatch(html.split('aria-label="x-axis tick label"')[1] ?? "", />0\.0</);
});

Deno.test("dotIntervalChart: panels get their own axes; an undefined estimate reads n/a", () => {
  const points = ["F1", "precision"].flatMap((panel, k) =>
    ["none", "down"].map((label, i) => ({
      label,
      panel,
      estimate: k === 1 && i === 1 ? NaN : 0.5 + 0.3 * k + 0.01 * i,
      lo: 0.45 + 0.3 * k,
      hi: 0.56 + 0.3 * k,
    }))
  );
  const html = dotIntervalChart(points, { valueLabel: "validation" });
  assert.equal((html.match(/<svg/g) ?? []).length, 2);
  assert.equal((html.match(/class="xr-panel"/g) ?? []).length, 2);
  assert.ok(html.includes(">F1<") && html.includes(">precision<"));
  assert.ok(html.includes(">n/a<"));
  assert.doesNotMatch(html, /NaN/);
  assert.throws(() => dotIntervalChart([]), /no rows/);
});
