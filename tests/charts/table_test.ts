import assert from "node:assert/strict";
import pl from "nodejs-polars";
import { rowsToHtml, tableHtml } from "../../lib/charts/table.ts";

Deno.test("tableHtml renders a polars DataFrame with fixed decimals", () => {
  const df = pl.DataFrame({ model: ["cnn", "compact"], f1: [0.91234, 0.95], params: [1000, 200] });
  const html = tableHtml(df, { caption: "Models", highlight: [{ column: "f1", best: "max" }] });
  assert.match(html, /class="xr-table"/);
  assert.ok(html.includes("<th>model</th><th>f1</th><th>params</th>"));
  assert.ok(html.includes(">0.912<"));
  assert.ok(html.includes("<b>0.950</b>"));
  assert.ok(html.includes("<caption>Models</caption>"));
  assert.equal((html.match(/<tr>/g) ?? []).length, 3);
});

Deno.test("rowsToHtml escapes text and truncates long tables", () => {
  const rows = Array.from({ length: 5 }, (_, i) => ({ name: `<a${i}>` }));
  const html = rowsToHtml(rows, { maxRows: 2 });
  assert.ok(html.includes("&lt;a0&gt;"));
  assert.ok(html.includes("3 more rows not shown"));
});

Deno.test("rowsToHtml: wrap lets the named text columns wrap, numbers and the rest stay on one line", () => {
  const html = rowsToHtml([{ name: "a", what: "a long description", n: 3 }], { wrap: ["what"] });
  const cells = [...html.matchAll(/<td([^>]*)>/g)].map((m) => m[1]);
  assert.deepEqual(cells, [
    "",
    ' style="white-space:normal;min-width:7em"',
    ' style="text-align:right"',
  ]);
  assert.doesNotMatch(rowsToHtml([{ what: "x" }]), /white-space/);
});
