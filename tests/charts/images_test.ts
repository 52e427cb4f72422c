import assert from "node:assert/strict";
import { imageGrid } from "../../lib/charts/images.ts";

const PNG = "data:image/png;base64,iVBORw0KGgo=";

Deno.test("imageGrid lays out data-URL images with escaped captions", () => {
  const html = imageGrid(
    [{ src: PNG, caption: "NORMAL <1>" }, { src: PNG, caption: "PNEUMONIA" }],
    {
      columns: 2,
      title: "Samples",
    },
  );
  assert.match(html, /data-chart="images"/);
  assert.equal((html.match(/<img /g) ?? []).length, 2);
  assert.ok(html.includes("NORMAL &lt;1&gt;"));
  assert.ok(html.includes("repeat(2,"));
});

Deno.test("imageGrid refuses non-data URLs (the report must stay self-contained)", () => {
  assert.throws(() => imageGrid([{ src: "http://x/y.png" }]), /data URL/);
});
