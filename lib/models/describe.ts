/**
 * A model's layers as a table: name, type, output shape, parameters, trainable. Used by the model
 * chapters (the architecture a chapter trains, built from the registry) and by chapter 8.
 * @module
 */
import type * as tfl from "@tensorflow/tfjs-layers";
import { rowsToHtml } from "../charts/table.ts";

/** One row per layer: name, type, output shape, parameters, trainable. */
export function architectureRows(
  model: tfl.LayersModel,
): Record<string, string | number | boolean>[] {
  return model.layers.map((l) => ({
    layer: l.name,
    type: l.getClassName(),
    "output shape": JSON.stringify(l.outputShape).replaceAll("null", "None"),
    params: l.countParams(),
    trainable: l.trainable,
  }));
}

/** The architecture table of a built model, with the totals in its caption. */
export function architectureTable(model: tfl.LayersModel, name: string): string {
  const rows = architectureRows(model);
  const total = rows.reduce((a, r) => a + (r.params as number), 0);
  const trainable = model.trainableWeights.reduce(
    (a, w) => a + w.shape.reduce((x: number, y) => x * (y ?? 1), 1),
    0,
  );
  return rowsToHtml(rows, {
    caption: `${name}: ${rows.length} layers, ${total.toLocaleString("en-US")} parameters ` +
      `(${trainable.toLocaleString("en-US")} trainable)`,
  });
}
