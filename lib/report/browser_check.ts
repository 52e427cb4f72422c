/**
 * The report page as a reader sees it: loads an HTML report in headless Chromium (Debian's
 * `chromium`, driven by playwright-core) at a desktop width and checks what a reader would notice:
 * the page scrolls sideways, a box (a table's wrapper, a code block) scrolls inside itself so that
 * a reader who does not scroll never sees its right part, text inside a chart sits on other text
 * (legend entries, labels, ticks), or an image fails to load. Keeps full-page screenshots for
 * people to look at.
 *
 * ```sh
 * deno run -A lib/report/browser_check.ts outputs/report.html   # screenshots in outputs/browser/
 * ```
 *
 * playwright-core reads files at import time that Deno only grants with `--allow-all`
 * (`/proc/sys/fs/binfmt_misc/WSLInterop`), so it is imported lazily, and
 * {@link checkReportPageInSubprocess} runs the check in a child Deno with `-A` for callers that
 * run with narrower permissions (the test suite).
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** Where Debian installs Chromium; `CHROMIUM` overrides it. */
export const CHROMIUM_PATH = "/usr/bin/chromium";

/** Two text boxes of one SVG that intersect. */
export interface TextOverlap {
  /** The chart's title (figure caption), or "chart N". */
  chart: string;
  a: string;
  b: string;
  /** Area of the intersection in px². */
  area: number;
}

/** What the browser saw. */
export interface PageCheck {
  width: number;
  /** `scrollWidth - clientWidth` of the page: > 0 means the page scrolls sideways. */
  overflowPx: number;
  /** Elements wider than the page's viewport that stick out of it (tag, class, right edge). */
  overflowing: string[];
  /**
   * Boxes whose content is wider than the box and scrolls or is clipped inside it (overflow
   * auto, scroll, hidden or clip): the chapter, the element, its caption or first heading, and
   * how many px are out of sight.
   */
  hiddenInBoxes: string[];
  svgs: number;
  overlaps: TextOverlap[];
  images: number;
  /** Images that did not load (alt text or the start of the source). */
  brokenImages: string[];
  /** Full-page screenshots written (the page is split into parts of at most 16,000 px). */
  screenshots: string[];
  /** Height of the page in px. */
  height: number;
}

/** The Chromium binary to use, or null with the reason when there is none. */
export async function findChromium(): Promise<{ path: string } | { reason: string }> {
  const path = Deno.env.get("CHROMIUM") ?? CHROMIUM_PATH;
  try {
    if ((await Deno.stat(path)).isFile) return { path };
  } catch { /* fall through */ }
  return { reason: `no Chromium at ${path} (apt-get install chromium, or set CHROMIUM)` };
}

/**
 * Opens `htmlPath` at `width` px and checks overflow, overlapping SVG text and images. Text
 * boxes count as overlapping when they intersect by more than `minOverlapPx` px² (rounding of
 * glyph boxes gives a pixel or two of contact between neighbours that do not collide).
 */
export async function checkReportPage(
  htmlPath: string,
  opts: { width?: number; screenshotDir?: string; name?: string; minOverlapPx?: number } = {},
): Promise<PageCheck> {
  const found = await findChromium();
  if ("reason" in found) throw new Error(`checkReportPage: ${found.reason}`);
  const width = opts.width ?? 1400;
  const { chromium } = await import("playwright-core");
  const browser = await chromium.launch({
    executablePath: found.path,
    args: ["--no-sandbox", "--disable-gpu", "--font-render-hinting=none"],
  });
  try {
    const page = await browser.newPage({ viewport: { width, height: 1000 } });
    await page.goto(`file://${await Deno.realPath(htmlPath)}`, { waitUntil: "load" });
    const result = await page.evaluate((minArea: number) => {
      const doc = document.documentElement;
      const overflowPx = doc.scrollWidth - doc.clientWidth;
      const overflowing: string[] = [];
      if (overflowPx > 0) {
        for (const el of Array.from(document.querySelectorAll("main *"))) {
          const r = el.getBoundingClientRect();
          if (r.right > doc.clientWidth + 1 && overflowing.length < 10) {
            overflowing.push(`${el.tagName.toLowerCase()}.${el.className} right=${r.right}`);
          }
        }
      }
      const hiddenInBoxes: string[] = [];
      for (const el of Array.from(document.querySelectorAll("body *"))) {
        const hidden = el.scrollWidth - el.clientWidth;
        if (hidden <= 1 || !/auto|scroll|hidden|clip/.test(getComputedStyle(el).overflowX)) {
          continue;
        }
        const sec = el.closest("section");
        const chapter = sec?.getAttribute("data-notebook") ??
          sec?.querySelector("h1")?.textContent?.trim() ?? "outside the chapters";
        const label = (el.querySelector("caption, figcaption, th, h1, h2, h3")?.textContent ??
          el.textContent ?? "").trim().replace(/\s+/g, " ").slice(0, 60);
        const cls = typeof el.className === "string" && el.className ? `.${el.className}` : "";
        hiddenInBoxes.push(
          `${chapter}: <${el.tagName.toLowerCase()}${cls}> "${label}" shows ${el.clientWidth} ` +
            `of ${el.scrollWidth} px (${hidden} px out of sight)`,
        );
      }
      const overlaps: { chart: string; a: string; b: string; area: number }[] = [];
      const svgs = Array.from(document.querySelectorAll("svg"));
      svgs.forEach((svg, i) => {
        const fig = svg.closest("figure");
        const chart = fig?.querySelector("figcaption")?.textContent ?? `chart ${i + 1}`;
        const boxes = Array.from(svg.querySelectorAll("text"))
          .filter((t) => (t.textContent ?? "").trim() !== "")
          .map((t) => ({ text: (t.textContent ?? "").trim(), r: t.getBoundingClientRect() }))
          .filter((b) => b.r.width > 0 && b.r.height > 0);
        for (let x = 0; x < boxes.length; x++) {
          for (let y = x + 1; y < boxes.length; y++) {
            const a = boxes[x].r, b = boxes[y].r;
            const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
            const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
            if (w > 0 && h > 0 && w * h > minArea) {
              overlaps.push({ chart, a: boxes[x].text, b: boxes[y].text, area: w * h });
            }
          }
        }
      });
      const imgs = Array.from(document.querySelectorAll("img[src]"));
      const brokenImages = (imgs as HTMLImageElement[])
        .filter((im) => !im.complete || im.naturalWidth === 0)
        .map((im) => (im as HTMLImageElement).alt || (im as HTMLImageElement).src.slice(0, 60));
      return {
        overflowPx,
        overflowing,
        hiddenInBoxes,
        svgs: svgs.length,
        overlaps,
        images: imgs.length,
        brokenImages,
        height: doc.scrollHeight,
      };
    }, opts.minOverlapPx ?? 4);
    const screenshots: string[] = [];
    if (opts.screenshotDir) {
      await Deno.mkdir(opts.screenshotDir, { recursive: true });
      const part = 16000;
      for (let y = 0, k = 1; y < result.height; y += part, k++) {
        const path = join(opts.screenshotDir, `${opts.name ?? "report"}-${k}.png`);
        await page.screenshot({
          path,
          fullPage: true,
          clip: { x: 0, y, width, height: Math.min(part, result.height - y) },
        });
        screenshots.push(path);
      }
    }
    return { width, ...result, screenshots };
  } finally {
    await browser.close();
  }
}

/** The problems of a check in words (empty when the page passes). */
export function pageProblems(c: PageCheck): string[] {
  const out: string[] = [];
  if (c.overflowPx > 0) {
    out.push(
      `the page scrolls sideways by ${c.overflowPx} px at ${c.width} px: ${
        c.overflowing.join("; ")
      }`,
    );
  }
  for (const h of c.hiddenInBoxes) out.push(`content hidden in a scrolling box: ${h}`);
  for (const o of c.overlaps) {
    out.push(`in "${o.chart}", "${o.a}" overlaps "${o.b}" (${o.area.toFixed(0)} px²)`);
  }
  for (const b of c.brokenImages) out.push(`image not loaded: ${b}`);
  return out;
}

/**
 * {@link checkReportPage} in a child `deno run -A` (this file with `--json`), for callers without
 * `--allow-all`; needs `--allow-run`. Errors carry the child's stderr.
 */
export async function checkReportPageInSubprocess(
  htmlPath: string,
  opts: { width?: number; screenshotDir?: string; name?: string } = {},
): Promise<PageCheck> {
  const args = ["run", "-A", fileURLToPath(import.meta.url), "--json"];
  if (opts.width) args.push("--width", String(opts.width));
  if (opts.screenshotDir) args.push("--screenshots", opts.screenshotDir);
  if (opts.name) args.push("--name", opts.name);
  const out = await new Deno.Command(Deno.execPath(), {
    args: [...args, htmlPath],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  if (!out.success || !text.startsWith("{")) {
    throw new Error(
      `browser check of ${htmlPath} failed: ${new TextDecoder().decode(out.stderr).slice(-800)}`,
    );
  }
  return JSON.parse(text) as PageCheck;
}

if (import.meta.main) {
  const args = [...Deno.args];
  const flag = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args.splice(i, 2)[1] : undefined;
  };
  const json = args.includes("--json");
  const width = Number(flag("--width") ?? 1400);
  const screenshotDir = flag("--screenshots") ?? join("outputs", "browser");
  const named = flag("--name");
  const html = args.filter((a) => a !== "--json")[0] ?? "outputs/report.html";
  const name = named ?? html.split("/").pop()!.replace(/\.html$/, "");
  const c = await checkReportPage(html, { width, screenshotDir, name });
  if (json) {
    console.log(JSON.stringify(c));
  } else {
    const problems = pageProblems(c);
    console.log(
      `${html}: ${c.svgs} SVGs, ${c.images} images, ${c.height} px tall at ${c.width} px; ` +
        `screenshots ${c.screenshots.join(", ")}`,
    );
    for (const p of problems) console.log(`- ${p}`);
    if (problems.length) Deno.exit(1);
  }
}
