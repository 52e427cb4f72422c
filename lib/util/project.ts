/**
 * Paths in the project root, whatever the working directory (notebooks run in notebooks/): the
 * one place that knows where the project root is (outputs/, notebooks/, the image cache).
 * @module
 */
import { dirname, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The project root (two folders above this file). */
export const PROJECT_ROOT: string = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** `rel` resolved against the project root. */
export function projectPath(rel: string): string {
  return resolve(PROJECT_ROOT, rel);
}

/** `path` relative to the working dir when it lies below it (shorter messages), else as is. */
export function shortPath(path: string): string {
  const rel = relative(Deno.cwd(), path);
  return rel && !rel.startsWith("..") ? rel : path;
}
