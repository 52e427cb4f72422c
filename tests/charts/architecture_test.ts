import assert from "node:assert/strict";
import { architectureDiagram, shortCount } from "../../lib/charts/architecture.ts";

Deno.test("architectureDiagram: one box per layer, arrows between them, rows of five", () => {
  const layers = Array.from({ length: 7 }, (_, i) => ({
    name: `conv ${i + 1}`,
    detail: "16 filters 3x3, relu",
    type: "Conv2D",
    outputShape: "24x24x16",
    params: 448,
  }));
  const html = architectureDiagram(layers, { title: "m" });
  assert.match(html, /data-chart="architecture"/);
  assert.equal((html.match(/<rect /g) ?? []).length, 7);
  assert.equal((html.match(/marker-end=/g) ?? []).length, 6);
  assert.match(html, /conv 7/);
  assert.match(html, /7 layers, 3,136 parameters/);
  assert.throws(() => architectureDiagram([]), /no layers/);
});

Deno.test("shortCount: 129, 18.4k, 1.04M", () => {
  assert.equal(shortCount(129), "129");
  assert.equal(shortCount(1792), "1.79k");
  assert.equal(shortCount(18464), "18.5k");
  assert.equal(shortCount(1036801), "1.04M");
});
