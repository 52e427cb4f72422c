/**
 * What the report page adds to nbconvert's output so that it reads well at any width: a table of
 * contents without double numbers, tables and code that scroll or wrap inside the column instead
 * of widening the page, chapter times in the headings, and images that enlarge on click (a few
 * lines of inline script; the page stays one self-contained file).
 * @module
 */

/** Extra page styles (appended to the page's base CSS). */
export const PAGE_CSS = `
nav ol{list-style:none;padding-left:.6em} nav>ol{padding-left:0}
main{box-sizing:border-box;width:100%;min-width:0}
.xr-table-wrap{max-width:100%;overflow-x:auto;margin:.5em 0}
table.xr-table td{white-space:nowrap}
table.xr-table th{min-width:3.2em}
.output_text pre,.output_stream pre,.output_stderr pre{white-space:pre-wrap;overflow-wrap:anywhere}
.output_markdown p,.output_markdown li,.text_cell_render p,.text_cell_render li{overflow-wrap:break-word}
.output_markdown code,.text_cell_render code{overflow-wrap:anywhere}
.output_area svg{max-width:100%;height:auto}
figure.xr-chart{max-width:100%;overflow-x:auto}
h1 .xr-time{font-size:13px;font-weight:400;color:#777;margin-left:.6em}
main img{cursor:zoom-in}
#xr-zoom{position:fixed;inset:0;background:rgba(20,20,20,.85);display:none;align-items:center;
 justify-content:center;z-index:10;cursor:zoom-out}
#xr-zoom.open{display:flex}
#xr-zoom img{max-width:94vw;max-height:90vh;min-width:min(60vw,60vh);object-fit:contain;
 image-rendering:pixelated;background:#fff;cursor:zoom-out}
#xr-zoom p{position:fixed;bottom:.4em;left:0;right:0;text-align:center;color:#eee;font-size:13px}
`;

/** Click an image to see it large (Escape or a click closes it). */
export const PAGE_SCRIPT = `<div id="xr-zoom" role="dialog" aria-label="enlarged image">` +
  `<img alt=""><p></p></div><script>
(() => {
  const box = document.getElementById("xr-zoom"), big = box.querySelector("img"),
    note = box.querySelector("p");
  document.querySelector("main").addEventListener("click", (e) => {
    const img = e.target.closest("img");
    if (!img) return;
    big.src = img.src;
    note.textContent = img.alt;
    box.classList.add("open");
  });
  box.addEventListener("click", () => box.classList.remove("open"));
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape") box.classList.remove("open");
  });
})();
</script>`;

/** A duration for people: "0.4 s", "12 s", "3 min 05 s", "1 h 02 min". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "n/a";
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const s = Math.round(seconds);
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} min`;
}
