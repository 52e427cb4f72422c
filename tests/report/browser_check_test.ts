/**
 * The browser check on small pages made here: a table cut by its scrolling wrapper is reported
 * with its chapter and caption, a table that fits is not. Needs Chromium (ignored without it).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  checkReportPageInSubprocess,
  findChromium,
  pageProblems,
} from "../../lib/report/browser_check.ts";

const found = await findChromium();
const noChromium = "reason" in found ? found.reason : null;
if (noChromium) console.log(`browser check test ignored: ${noChromium}`);

const page = (table: string) =>
  `<!DOCTYPE html><html><body><main style="max-width:600px">` +
  `<section class="chapter" data-notebook="06_comparison.ipynb"><h1>Comparison</h1>` +
  `<div class="xr-table-wrap" style="overflow-x:auto">${table}</div></section></main></body></html>`;

Deno.test({
  name: "browser check: content hidden in a scrolling box is named with its chapter",
  ignore: noChromium !== null,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "browser_check_" });
    try {
      const wide = `<table><caption>Validation metrics of every model</caption><tr>` +
        `<th>run</th><td style="white-space:nowrap">${"confusion ".repeat(40)}</td></tr></table>`;
      await Deno.writeTextFile(join(dir, "wide.html"), page(wide));
      const cut = await checkReportPageInSubprocess(join(dir, "wide.html"), { width: 900 });
      assert.equal(cut.overflowPx, 0, "the page itself does not scroll");
      assert.equal(cut.hiddenInBoxes.length, 1, cut.hiddenInBoxes.join("\n"));
      assert.match(
        cut.hiddenInBoxes[0],
        /^06_comparison\.ipynb: <div\.xr-table-wrap> "Validation metrics of every model" shows 600 of \d+ px/,
      );
      assert.match(pageProblems(cut).join("\n"), /content hidden in a scrolling box/);

      const narrow = `<table><caption>Fits</caption><tr><th>run</th><td>0.981</td></tr></table>`;
      await Deno.writeTextFile(join(dir, "narrow.html"), page(narrow));
      const fits = await checkReportPageInSubprocess(join(dir, "narrow.html"), { width: 900 });
      assert.deepEqual(pageProblems(fits), []);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
