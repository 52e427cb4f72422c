import assert from "node:assert/strict";
import { binaryConfusionHeatmap, confusionHeatmap } from "../../lib/charts/heatmap.ts";

Deno.test("binaryConfusionHeatmap shows four cells with counts and row shares", () => {
  const html = binaryConfusionHeatmap({ tn: 90, fp: 10, fn: 5, tp: 195 });
  assert.match(html, /data-chart="confusion"/);
  const cells = html.split('aria-label="cell"')[1].split("</g>")[0];
  assert.equal((cells.match(/<rect/g) ?? []).length, 4);
  for (const t of [">90<", ">10<", ">5<", ">195<", "90.0%", "97.5%", "NORMAL", "PNEUMONIA"]) {
    assert.ok(html.includes(t), t);
  }
  assert.ok(html.includes("predicted") && html.includes("actual"));
});

Deno.test("confusionHeatmap handles three classes and checks the shape", () => {
  const m = [[5, 1, 0], [1, 7, 2], [0, 3, 6]];
  const html = confusionHeatmap(m, ["normal", "bacteria", "virus"]);
  const cells = html.split('aria-label="cell"')[1].split("</g>")[0];
  assert.equal((cells.match(/<rect/g) ?? []).length, 9);
  assert.throws(() => confusionHeatmap([[1, 2]], ["a", "b"]), /1x2, expected 2x2/);
});
