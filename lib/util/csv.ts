/**
 * Reading the CSV files the project writes (run metrics, predictions), with polars.
 * @module
 */
import { Buffer } from "node:buffer";
import pl from "nodejs-polars";

/**
 * Reads a CSV file with a header (as the training engine writes them) into rows of strings, with
 * polars (every column read as text; an empty field is ""). Errors name the file.
 */
export async function readCsv(path: string): Promise<Record<string, string>[]> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (err) {
    throw new Error(`Cannot read ${path}: ${(err as Error).message}`);
  }
  if (new TextDecoder().decode(bytes).trim() === "") {
    throw new Error(`${path} is empty (expected a header line)`);
  }
  const df = pl.readCSV(Buffer.from(bytes), { inferSchemaLength: 0 });
  return df.toRecords().map((r) =>
    Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v == null ? "" : String(v)]))
  );
}
