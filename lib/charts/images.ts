/**
 * Image grids for the report: PNG data URLs in an HTML grid with a caption under each image
 * (the training samples, the TN/FP/FN/TP examples, activation maps).
 * @module
 */
import { escapeHtml, frame } from "./_render.ts";

/** One tile of a grid. */
export interface GridImage {
  /** Image source: a `data:image/png;base64,...` URL (keeps the report self-contained). */
  src: string;
  /** Caption under the image (plain text). */
  caption?: string;
}

/** Options of {@link imageGrid}. */
export interface GridOptions {
  /** Images per row (default 4). */
  columns?: number;
  /** Displayed width of each tile in px (default 150). */
  tileWidth?: number;
  /** Heading above the grid. */
  title?: string;
  /** Note under the grid. */
  caption?: string;
  /** Nearest-neighbour scaling (small feature maps stay sharp); default false. */
  pixelated?: boolean;
}

/** A grid of images as an HTML figure (`data-chart="images"`). */
export function imageGrid(images: GridImage[], opts: GridOptions = {}): string {
  if (images.length === 0) throw new Error("imageGrid: no images");
  for (const im of images) {
    if (!/^data:image\/(png|jpeg|svg\+xml);base64,/.test(im.src)) {
      throw new Error(
        `imageGrid: expected a PNG/JPEG/SVG data URL, got ${JSON.stringify(im.src.slice(0, 40))}`,
      );
    }
  }
  const cols = opts.columns ?? 4;
  const w = opts.tileWidth ?? 150;
  const render = opts.pixelated ? "image-rendering:pixelated;" : "";
  const tiles = images.map((im) =>
    `<div style="text-align:center;font:11px system-ui,sans-serif">` +
    `<img src="${im.src}" alt="${escapeHtml(im.caption ?? "")}" ` +
    `style="width:${w}px;height:auto;display:block;margin:auto;${render}"/>` +
    (im.caption ? `<div>${escapeHtml(im.caption)}</div>` : "") + `</div>`
  ).join("");
  const grid = `<div class="xr-grid" style="display:grid;` +
    `grid-template-columns:repeat(${cols},${w + 8}px);gap:6px">${tiles}</div>`;
  return frame("images", grid, { title: opts.title, caption: opts.caption });
}
