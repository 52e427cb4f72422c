/**
 * An architecture diagram (like Keras' `plot_model`): one box per layer with its readable name,
 * what it does, its output shape and parameters, joined by arrows in reading order (left to right,
 * then the next row). Drawn as plain SVG: Plot has no mark for box-and-arrow diagrams.
 * @module
 */
import { escapeHtml, frame } from "./_render.ts";

/** One layer box (see `LayerInfo` in lib/models/describe.ts, which has these fields). */
export interface DiagramLayer {
  name: string;
  detail: string;
  type: string;
  outputShape: string;
  params: number;
  trainable?: boolean;
}

/** Options of {@link architectureDiagram}. */
export interface DiagramOptions {
  title?: string;
  caption?: string;
  /** Boxes per row (default 5: fits a 940 px column). */
  perRow?: number;
}

const FILL: [RegExp, string][] = [
  [/Conv/, "#dbe6fb"],
  [/Pool/, "#dcf2e0"],
  [/Dense/, "#fde6cc"],
  [/Functional|Model|Sequential/, "#e9ddfb"],
];

/** Readable parameter counts: 129, 18.4k, 1.04M. */
export function shortCount(n: number): string {
  if (n < 1000) return String(n);
  if (n < 1e6) return `${(n / 1000).toFixed(n < 1e4 ? 2 : 1)}k`;
  return `${(n / 1e6).toFixed(2)}M`;
}

/** The diagram as an SVG figure (`data-chart="architecture"`). */
export function architectureDiagram(layers: DiagramLayer[], opts: DiagramOptions = {}): string {
  if (layers.length === 0) throw new Error("architectureDiagram: no layers");
  const perRow = opts.perRow ?? 5;
  const bw = 168, bh = 50, gx = 18, gy = 26, pad = 6;
  const rows = Math.ceil(layers.length / perRow);
  const width = pad * 2 + perRow * bw + (perRow - 1) * gx;
  const height = pad * 2 + rows * bh + (rows - 1) * gy;
  const pos = (i: number) => ({
    x: pad + (i % perRow) * (bw + gx),
    y: pad + Math.floor(i / perRow) * (bh + gy),
  });
  const fit = (t: string, max: number) => (t.length > max ? t.slice(0, max - 1) + "…" : t);
  const parts: string[] = [];
  layers.forEach((l, i) => {
    const { x, y } = pos(i);
    const fill = FILL.find(([re]) => re.test(l.type))?.[1] ?? "#f1f1f1";
    const frozen = l.trainable === false && l.params > 0;
    parts.push(
      `<g><title>${escapeHtml(`${l.name} (${l.type}) ${l.detail}`)}</title>` +
        `<rect x="${x}" y="${y}" width="${bw}" height="${bh}" rx="5" fill="${fill}" ` +
        `stroke="#667"${frozen ? ' stroke-dasharray="4,2"' : ""}/>` +
        `<text x="${x + 7}" y="${y + 15}" font-size="12" font-weight="600">` +
        `${escapeHtml(fit(l.name, 22))}</text>` +
        `<text x="${x + 7}" y="${y + 29}" font-size="10">${escapeHtml(fit(l.detail, 31))}</text>` +
        `<text x="${x + 7}" y="${y + 43}" font-size="10" fill="#555">` +
        `${escapeHtml(fit(`${l.outputShape} · ${shortCount(l.params)} params`, 31))}</text></g>`,
    );
    if (i + 1 < layers.length) {
      const a = pos(i), b = pos(i + 1);
      const d = a.y === b.y
        ? `M${a.x + bw},${a.y + bh / 2} L${b.x - 3},${b.y + bh / 2}`
        : `M${a.x + bw / 2},${a.y + bh} L${a.x + bw / 2},${a.y + bh + gy / 2} ` +
          `L${b.x + bw / 2},${a.y + bh + gy / 2} L${b.x + bw / 2},${b.y - 3}`;
      parts.push(
        `<path d="${d}" fill="none" stroke="#667" stroke-width="1.3" marker-end="url(#xr-arrow)"/>`,
      );
    }
  });
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
    `viewBox="0 0 ${width} ${height}" font-family="system-ui,sans-serif" ` +
    `style="max-width:100%;height:auto"><defs><marker id="xr-arrow" viewBox="0 0 8 8" refX="7" ` +
    `refY="4" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L8,4 L0,8 z" ` +
    `fill="#667"/></marker></defs>${parts.join("")}</svg>`;
  const total = layers.reduce((a, l) => a + l.params, 0);
  return frame("architecture", svg, {
    title: opts.title,
    caption: opts.caption ??
      `${layers.length} layers, ${total.toLocaleString("en-US")} parameters; read left to ` +
        "right, then the next row. Dashed box: frozen weights.",
  });
}
