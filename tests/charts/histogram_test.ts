import assert from "node:assert/strict";
import { histogram } from "../../lib/charts/histogram.ts";

Deno.test("histogram bins one series into the requested number of bars", () => {
  const values = new Uint8Array([0, 0, 10, 200, 255]);
  const html = histogram([{ name: "pixels", values }], { bins: 4, domain: [0, 256] });
  assert.match(html, /data-chart="histogram"/);
  const rects = html.split('aria-label="rect"')[1].split("</g>")[0];
  assert.equal((rects.match(/<rect/g) ?? []).length, 4);
  assert.ok(html.includes("↑ count"));
});

Deno.test("histogram overlays two series as shares and names them", () => {
  const html = histogram([
    { name: "NORMAL", values: [1, 2, 3] },
    { name: "PNEUMONIA", values: [3, 4, 5] },
  ], { bins: 5 });
  assert.ok(html.includes(">NORMAL<") && html.includes(">PNEUMONIA<"));
  assert.ok(html.includes("share of pixels"));
  assert.match(html, /aria-label="line"/);
});
