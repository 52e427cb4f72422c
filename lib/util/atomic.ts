/**
 * Atomic file writes: write to a temporary file beside the target, then rename, so that an
 * interrupted run never leaves a half-written output.
 * @module
 */
import { dirname } from "node:path";

/** Writes bytes or text to `path` atomically, creating parent folders. */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  opts: { folderExists?: boolean } = {},
): Promise<void> {
  // folderExists: the caller made the folder (the image cache, thousands of files).
  if (!opts.folderExists) await Deno.mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    if (typeof data === "string") await Deno.writeTextFile(tmp, data);
    else await Deno.writeFile(tmp, data);
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
}

/**
 * Writes a value as pretty JSON atomically, synchronously: for the few places that record a
 * result from inside a synchronous function (chapter summaries that also record their numbers).
 */
export function writeJsonAtomicSync(path: string, value: unknown): void {
  Deno.mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    Deno.writeTextFileSync(tmp, JSON.stringify(value, null, 2) + "\n");
    Deno.renameSync(tmp, path);
  } catch (err) {
    try {
      Deno.removeSync(tmp);
    } catch { /* nothing to clean */ }
    throw err;
  }
}

/** Writes a value as pretty JSON, atomically. */
export function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  return writeFileAtomic(path, JSON.stringify(value, null, 2) + "\n");
}

/** Reads a JSON file, with an error that names the file when it is missing or malformed. */
export async function readJson<T>(path: string): Promise<T> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    throw new Error(`Cannot read ${path}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new Error(`${path} is not valid JSON: ${(err as Error).message}`);
  }
}
