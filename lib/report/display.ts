/**
 * Showing chapter results in a notebook. Every output goes through `Deno.jupyter.display`, awaited
 * and followed by a short pause: the Deno kernel (2.9) can publish a cell's display and stream
 * messages after its "idle" status, and nbconvert then drops them (measured: 3 of 60 cells lost
 * without the pause, 0 of 120 with it). Outside a kernel the HTML is printed.
 * @module
 */
import type pl from "nodejs-polars";
import { tableHtml, type TableOptions } from "../charts/table.ts";

type Bundle = Record<string, unknown>;
type JupyterDeno = typeof Deno & {
  jupyter?: { display(obj: Bundle, opts: { raw: boolean }): Promise<void> };
};

/** Milliseconds to wait after a display so that the kernel flushes it before the cell ends. */
export const FLUSH_MS = 30;

/** The kernel's `Deno.jupyter`, or null outside `deno jupyter` (where reading it throws). */
export function jupyterApi(): NonNullable<JupyterDeno["jupyter"]> | null {
  try {
    return (Deno as JupyterDeno).jupyter ?? null;
  } catch {
    return null;
  }
}

async function emit(bundle: Bundle): Promise<void> {
  const jupyter = jupyterApi();
  if (jupyter?.display) {
    await jupyter.display(bundle, { raw: true });
    await new Promise((r) => setTimeout(r, FLUSH_MS));
  } else {
    console.log(String(bundle["text/html"] ?? bundle["text/markdown"] ?? bundle["text/plain"]));
  }
}

/**
 * Displays HTML fragments (charts, tables, grids) one after another, as one display message: on a
 * loaded machine the kernel was seen to lose some of several messages sent in a row (2 of a
 * chapter's 5 curves arrived), so a call's fragments travel together or not at all.
 */
export async function show(...html: string[]): Promise<void> {
  if (html.length === 0) return;
  await emit({ "text/html": html.join("\n"), "text/plain": "[html output]" });
}

/** Displays Markdown (text written from this run's numbers). */
export async function showMarkdown(md: string): Promise<void> {
  await emit({ "text/markdown": md, "text/plain": md });
}

/** Displays a polars DataFrame as an HTML table. */
export async function showTable(df: pl.DataFrame, opts: TableOptions = {}): Promise<void> {
  await show(tableHtml(df, opts));
}

/** Waits for pending kernel output (console lines) to flush; end long cells with it. */
export async function flush(): Promise<void> {
  await new Promise((r) => setTimeout(r, FLUSH_MS));
}
