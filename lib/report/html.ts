/**
 * The self-contained HTML report: every executed notebook converted by nbconvert's `basic`
 * template (markdown rendered, outputs inline), ids made unique per chapter, code folded, one
 * table of contents, the run's settings and timings, and the data source credited.
 * @module
 */
import { parseHTML } from "linkedom";
import { basename } from "node:path";
import { escapeHtml } from "../charts/_render.ts";
import { formatDuration, PAGE_CSS, PAGE_SCRIPT } from "./page_assets.ts";

/** The dataset's citation, shown in the report header and footer. */
export const DATA_CREDIT =
  'Data: Kermany D, Zhang K, Goldbaum M (2018), "Labeled Optical Coherence Tomography (OCT) and ' +
  'Chest X-Ray Images for Classification", Mendeley Data, v2, ' +
  '<a href="https://doi.org/10.17632/rscbjbr9sj.2">doi:10.17632/rscbjbr9sj.2</a>, licensed ' +
  '<a href="https://creativecommons.org/licenses/by/4.0/">CC BY 4.0</a>; as redistributed on ' +
  'Kaggle ("chest-xray-pneumonia"). Paper: Kermany et al., Cell 172(5), 2018, ' +
  '<a href="https://doi.org/10.1016/j.cell.2018.02.010">doi:10.1016/j.cell.2018.02.010</a>.';

/** Converts one executed notebook to an HTML fragment with nbconvert's `basic` template. */
export async function notebookFragment(path: string): Promise<string> {
  const out = await new Deno.Command("jupyter", {
    args: ["nbconvert", "--to", "html", "--template", "basic", "--stdout", path],
    env: { PYDEVD_DISABLE_FILE_VALIDATION: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    const err = new TextDecoder().decode(out.stderr).split("\n").filter(Boolean).slice(-3).join(
      " | ",
    );
    throw new Error(`nbconvert --to html failed for ${path}: ${err}`);
  }
  return new TextDecoder().decode(out.stdout);
}

/** One chapter of the report. */
export interface Chapter {
  /** Short id used in anchors (e.g. "01"). */
  id: string;
  /** File name of the executed notebook. */
  file: string;
  /** HTML fragment from {@link notebookFragment}. */
  fragment: string;
  /** Wall time of the notebook's execution in seconds, when measured. */
  seconds?: number;
}

/** What the header says about the run. */
export interface ReportMeta {
  title: string;
  profile: string;
  data: string;
  seed: number;
  /** ISO time the report was made. */
  created: string;
  /** Total wall time in seconds. */
  totalSeconds?: number;
  /** A failure that stopped the report (the report is then partial). */
  failure?: string;
  /** Extra lines for the header (e.g. where the test split came from). */
  notes?: string[];
  /** The reproducibility panel (lib/report/provenance.ts), shown under the header's lines. */
  provenance?: string;
}

interface TocEntry {
  level: 1 | 2;
  id: string;
  text: string;
}

/**
 * Rewrites a chapter fragment: prefixes every id and in-page link with the chapter id, folds the
 * code inputs into `<details>`, drops prompts and anchor pilcrows, and returns its headings.
 */
export function processFragment(ch: Chapter): { html: string; toc: TocEntry[] } {
  const { document } = parseHTML(
    `<!DOCTYPE html><html><body><section>${ch.fragment}</section></body></html>`,
  );
  const root = document.querySelector("section")!;
  const prefix = `ch${ch.id}-`;
  for (const el of root.querySelectorAll("[id]")) {
    el.setAttribute("id", prefix + el.getAttribute("id"));
  }
  for (const a of root.querySelectorAll('a[href^="#"]')) {
    a.setAttribute("href", "#" + prefix + a.getAttribute("href")!.slice(1));
  }
  for (const a of root.querySelectorAll("a.anchor-link")) a.remove();
  for (const p of root.querySelectorAll(".prompt")) p.remove();
  for (const input of root.querySelectorAll("div.input")) {
    const details = document.createElement("details");
    details.setAttribute("class", "xr-code");
    const summary = document.createElement("summary");
    summary.textContent = "code";
    details.appendChild(summary);
    while (input.firstChild) details.appendChild(input.firstChild);
    input.appendChild(details);
  }
  const toc: TocEntry[] = [];
  for (const h of root.querySelectorAll("h1, h2")) {
    if (!h.getAttribute("id")) h.setAttribute("id", `${prefix}h${toc.length}`);
    toc.push({
      level: h.tagName.toLowerCase() === "h1" ? 1 : 2,
      id: h.getAttribute("id")!,
      text: (h.textContent ?? "").trim(),
    });
  }
  const h1 = root.querySelector("h1");
  if (h1 && ch.seconds !== undefined) {
    const time = document.createElement("span");
    time.setAttribute("class", "xr-time");
    time.textContent = formatDuration(ch.seconds);
    h1.appendChild(time);
  }
  return { html: root.innerHTML, toc };
}

const CSS = `
body{font:15px/1.5 system-ui,-apple-system,Segoe UI,sans-serif;color:#222;margin:0;display:flex}
nav{position:sticky;top:0;height:100vh;overflow:auto;width:270px;flex:none;background:#f6f7f9;
 border-right:1px solid #ddd;padding:1em;box-sizing:border-box;font-size:13px}
nav ol{padding-left:1.2em;margin:0} nav li{margin:.2em 0} nav ol ol{font-size:12px}
nav a{color:#234;text-decoration:none} nav a:hover{text-decoration:underline}
main{max-width:1000px;padding:1em 2em;min-width:0}
header{border-bottom:2px solid #2b5797;margin-bottom:1em}
section.chapter{border-bottom:1px solid #ccc;padding-bottom:1em;margin-bottom:1.5em}
.credit{font-size:12px;color:#555}
.failure{background:#fde8e8;border:1px solid #c33;padding:.6em;border-radius:4px}
details.xr-code{margin:.4em 0;font-size:12px} details.xr-code summary{cursor:pointer;color:#777}
.highlight pre,.output_text pre,pre{background:#f7f7f7;padding:.5em;overflow-x:auto;font-size:12px}
.output_stderr pre{background:#fff4e5}
table.xr-table td,table.xr-table th{border:1px solid #ddd;padding:3px 5px}
table.xr-table th{background:#eef2f7} table.xr-table caption{font-weight:600;text-align:left}
figure.xr-chart{display:inline-block;vertical-align:top;margin:.4em .6em .4em 0}
figure.xr-chart figcaption{font-weight:600;font-size:13px}
.xr-caption{font-size:12px;color:#555}
.output_area{overflow-x:auto}
details.xr-provenance{background:#f6f8fb;border:1px solid #d5dbe5;border-radius:4px;padding:.4em .8em;
 margin:.6em 0;font-size:13px} details.xr-provenance summary{cursor:pointer}
.xr-command{overflow-wrap:anywhere} .xr-scroll{overflow-x:auto;max-height:22em;overflow-y:auto}
` + PAGE_CSS;

/** Assembles the report page: header, table of contents, chapters, timings, credit. */
export function reportHtml(chapters: Chapter[], meta: ReportMeta): string {
  const parts = chapters.map((ch) => ({ ch, ...processFragment(ch) }));
  const tocHtml = parts.map(({ ch, toc }) => {
    const h1 = toc.find((t) => t.level === 1);
    const subs = toc.filter((t) => t.level === 2)
      .map((t) => `<li><a href="#${t.id}">${escapeHtml(t.text)}</a></li>`).join("");
    const title = h1?.text ?? ch.file;
    return `<li><a href="#${h1?.id ?? `ch${ch.id}`}">${escapeHtml(title)}</a>` +
      (subs ? `<ol>${subs}</ol>` : "") + "</li>";
  }).join("");
  const timing = chapters.map((c) =>
    `<tr><td>${escapeHtml(c.file)}</td><td style="text-align:right">` +
    `${c.seconds === undefined ? "" : formatDuration(c.seconds)}</td></tr>`
  ).join("");
  const notes = (meta.notes ?? []).map((n) => `<p>${escapeHtml(n)}</p>`).join("");
  const failure = meta.failure
    ? `<p class="failure"><b>The report is incomplete.</b> ${escapeHtml(meta.failure)}</p>`
    : "";
  const body = parts.map(({ ch, html }) =>
    `<section class="chapter" id="ch${ch.id}" data-notebook="${
      escapeHtml(ch.file)
    }">${html}</section>`
  ).join("\n");
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>${escapeHtml(meta.title)}</title><style>${CSS}</style></head>
<body><nav><b>Contents</b><ol>${tocHtml}<li><a href="#run-info">Run information</a></li></ol></nav>
<main><header><h1>${escapeHtml(meta.title)}</h1>
<p>Profile <b>${escapeHtml(meta.profile)}</b>, seed ${meta.seed}, data <code>${
    escapeHtml(meta.data)
  }</code>,
made ${escapeHtml(meta.created)}${
    meta.totalSeconds === undefined ? "" : `, in ${formatDuration(meta.totalSeconds)}`
  }.</p>
${notes}${failure}${meta.provenance ?? ""}<p class="credit">${DATA_CREDIT}</p></header>
${body}
<section id="run-info"><h2>Run information</h2>
<table class="xr-table"><thead><tr><th>notebook</th><th>time</th></tr></thead><tbody>${timing}</tbody></table>
<p class="credit">${DATA_CREDIT}</p></section></main>${PAGE_SCRIPT}</body></html>
`;
}

/** Chapter id from a notebook file name (`03_cnn.ipynb` -> `03`). */
export function chapterId(file: string): string {
  return basename(file).match(/^(\d+)/)?.[1] ?? basename(file).replace(/\W+/g, "_");
}
