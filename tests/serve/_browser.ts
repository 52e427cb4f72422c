/**
 * Drives headless Chromium through the screening page for `page_test.ts`, in its own process:
 * playwright-core probes /proc at load time, which Deno only allows with --allow-all, so the test
 * runs this script with `deno run -A` and keeps its own permissions narrow.
 *
 * Input (argument 1, JSON): { url, chromium, files: [name, path][] }. Output (stdout, JSON): the
 * page's start state, its results (full precision, heatmaps included), the overlay canvases'
 * sizes, the exported CSV, the requests that went to another origin (aborted) and page errors.
 * Files are dropped on the page after the browser is switched offline.
 */
import { chromium } from "playwright-core";

const { url, chromium: executablePath, files } = JSON.parse(Deno.args[0]) as {
  url: string;
  chromium: string;
  files: [string, string][];
};
const browser = await chromium.launch({ executablePath, headless: true });
try {
  const context = await browser.newContext({ acceptDownloads: true });
  const page = await context.newPage();
  const foreign: string[] = [];
  await context.route("**/*", (route) => {
    const u = route.request().url();
    if (new URL(u).origin !== new URL(url).origin) {
      foreign.push(u);
      return route.abort();
    }
    return route.continue();
  });
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(url);
  await page.waitForFunction(
    () => {
      const s = (globalThis as any).__screening;
      return s && (s.ready || s.error);
    },
    null,
    { timeout: 60_000 },
  );
  const state = await page.evaluate(() => {
    const s = (globalThis as any).__screening;
    return { ready: s.ready, backend: s.backend, error: s.error };
  });
  let results: unknown[] = [], overlays: number[][] = [], csv = "";
  if (state.ready) {
    await context.setOffline(true);
    const payload = await Promise.all(
      files.map(async ([name, path]) => [name, Array.from(await Deno.readFile(path))] as const),
    );
    await page.evaluate((all) => {
      const dt = new DataTransfer();
      for (const [name, bytes] of all) dt.items.add(new File([new Uint8Array(bytes)], name));
      const drop = document.getElementById("drop")!;
      for (const type of ["dragover", "drop"]) {
        drop.dispatchEvent(
          new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }),
        );
      }
    }, payload);
    await page.waitForFunction(
      (n) => (globalThis as any).__screening.results.length >= n,
      files.length,
      { timeout: 60_000 },
    );
    results = await page.evaluate(() =>
      (globalThis as any).__screening.results.map((r: any) => ({
        file: r.file,
        prob: r.prob,
        label: r.label,
        warnings: r.warnings,
        distance: r.distance,
        heatmap: r.heatmap ? Array.from(r.heatmap) : null,
        error: r.error ?? null,
      }))
    );
    overlays = await page.$$eval("canvas.overlay", (cs) => cs.map((c: any) => [c.width, c.height]));
    const [download] = await Promise.all([page.waitForEvent("download"), page.click("#csv")]);
    csv = await Deno.readTextFile((await download.path())!);
  }
  console.log(JSON.stringify({ state, results, overlays, csv, foreign, errors }));
} finally {
  await browser.close();
}
