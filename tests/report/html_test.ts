import assert from "node:assert/strict";
import { chapterId, DATA_CREDIT, processFragment, reportHtml } from "../../lib/report/html.ts";

const FRAGMENT = `<div class="cell text_cell"><div class="text_cell_render">
<h1 id="Title">Title<a class="anchor-link" href="#Title">&#182;</a></h1>
<h2 id="Part">Part<a class="anchor-link" href="#Part">&#182;</a></h2><p>see <a href="#Part">part</a></p>
</div></div>
<div class="cell code_cell"><div class="input"><div class="prompt input_prompt">In&nbsp;[1]:</div>
<div class="inner_cell"><pre>show(x)</pre></div></div>
<div class="output_wrapper"><figure class="xr-chart" data-chart="bar"><svg></svg></figure></div></div>`;

Deno.test("processFragment prefixes ids and links, folds code, collects headings", () => {
  const { html, toc } = processFragment({ id: "03", file: "03_cnn.ipynb", fragment: FRAGMENT });
  assert.deepEqual(toc.map((t) => [t.level, t.id, t.text]), [[1, "ch03-Title", "Title"], [
    2,
    "ch03-Part",
    "Part",
  ]]);
  assert.ok(html.includes('href="#ch03-Part"'));
  assert.ok(!html.includes("anchor-link"));
  assert.ok(!html.includes("In&nbsp;[1]"));
  assert.match(html, /<details class="xr-code"><summary>code<\/summary>/);
  assert.ok(html.includes('data-chart="bar"'));
});

Deno.test("reportHtml: one page with contents, chapters, timings, credit and no external resources", () => {
  const html = reportHtml([
    { id: "01", file: "01_a.ipynb", fragment: FRAGMENT, seconds: 3 },
    { id: "02", file: "02_b.ipynb", fragment: FRAGMENT.replaceAll("Title", "Second"), seconds: 4 },
  ], {
    title: "T",
    profile: "ci",
    data: "/d",
    seed: 1,
    created: "2026-01-01T00:00:00Z",
    totalSeconds: 7,
  });
  assert.match(html, /^<!DOCTYPE html>/);
  assert.ok(html.includes('<a href="#ch01-Title">Title</a>'));
  assert.ok(html.includes('<a href="#ch02-Second">Second</a>'));
  assert.equal((html.match(/<section class="chapter"/g) ?? []).length, 2);
  assert.ok(html.includes(DATA_CREDIT));
  assert.ok(html.includes("10.17632/rscbjbr9sj.2") && html.includes("CC BY 4.0"));
  assert.ok(!/<script[^>]*\ssrc=|<link /.test(html), "no external scripts or stylesheets");
  assert.equal((html.match(/<script>/g) ?? []).length, 1, "one inline script: click to enlarge");
  assert.match(html, /<span class="xr-time">3\.0 s<\/span>/, "the chapter's time in its heading");
  assert.ok(!/src="https?:/.test(html), "no remote images");
  assert.ok(!html.includes("incomplete"));
});

Deno.test("reportHtml marks a partial report with the failure", () => {
  const html = reportHtml([], {
    title: "T",
    profile: "quick",
    data: "/d",
    seed: 1,
    created: "now",
    failure: "Notebook 04_x.ipynb cell 3 failed: Error: <boom>",
  });
  assert.match(html, /The report is incomplete.*cell 3 failed: Error: &lt;boom&gt;/);
});

Deno.test("chapterId takes the notebook's number", () => {
  assert.equal(chapterId("/a/b/07_evaluation.ipynb"), "07");
  assert.equal(chapterId("notes.ipynb"), "notes_ipynb");
});
