import assert from "node:assert/strict";
import { barChart, groupedBarChart, metricBars } from "../../lib/charts/bar.ts";

Deno.test("barChart draws one bar per label with its value written", () => {
  const html = barChart([{ label: "NORMAL", value: 1341 }, { label: "PNEUMONIA", value: 3875 }], {
    title: "Class distribution",
  });
  assert.match(html, /^<figure class="xr-chart" data-chart="bar"/);
  assert.match(html, /Class distribution/);
  assert.equal((html.match(/<svg/g) ?? []).length, 1);
  assert.match(html, /aria-label="bar"/);
  const bars = html.split('aria-label="bar"')[1].split("</g>")[0];
  assert.equal((bars.match(/<rect/g) ?? []).length, 2);
  for (const t of ["NORMAL", "PNEUMONIA", ">1341<", ">3875<"]) assert.ok(html.includes(t), t);
});

Deno.test("metricBars prints values with 3 decimals on a 0-1 axis", () => {
  const html = metricBars({ accuracy: 0.9123, recall: 0.95 }, { horizontal: true });
  assert.ok(html.includes(">0.912<"));
  assert.ok(html.includes(">0.950<"));
  assert.ok(html.includes("accuracy") && html.includes("recall"));
});

Deno.test("barChart refuses an empty list", () => {
  assert.throws(() => barChart([]), /no bars/);
});

Deno.test("groupedBarChart draws one bar per (group, series) with values", () => {
  const bars = ["accuracy", "f1"].flatMap((g) =>
    ["none", "down"].map((s, i) => ({ group: g, series: s, value: 0.8 + i / 10 }))
  );
  const html = groupedBarChart(bars, { max: 1 });
  const rects = html.split('aria-label="bar"')[1].split('aria-label="text"')[0];
  assert.equal((rects.match(/<rect/g) ?? []).length, 4);
  for (const t of ["accuracy", "f1", "none", "down", ">0.800<", ">0.900<"]) {
    assert.ok(html.includes(t), t);
  }
});
