/**
 * `@tensorflow/tfjs-node` and `@tensorflow/tfjs-node-gpu` (libtensorflow through a Node addon),
 * optional: neither is a dependency of this project, because their install script downloads
 * libtensorflow and a prebuilt addon. How to install them, online or from a local mirror, and
 * what CUDA and cuDNN the GPU one needs: `lib/backend/README.md`.
 *
 * Under Deno both call `util.isNullOrUndefined`, a deprecated function that Node still has and
 * Deno's `node:util` does not (fixed in tfjs' sources after 4.22, unreleased). {@link
 * installNodeUtilShim} adds it before the import; CommonJS `require("util")` returns the same
 * object as `node:util`'s default export, so the package sees it.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import util from "node:util";

/** The two optional packages, by the names `initBackend()` knows them. */
export type NodeBackendPackage = "tfjs-node-gpu" | "tfjs-node";

/** `util.isNullOrUndefined` as Node defines it (deprecated there, absent in Deno). */
export function isNullOrUndefined(value: unknown): value is null | undefined {
  return value === null || value === undefined;
}

/**
 * Adds `isNullOrUndefined` to `node:util` when it is missing; leaves an existing one alone.
 * Returns true when it added it. Idempotent.
 */
export function installNodeUtilShim(): boolean {
  const u = util as unknown as Record<string, unknown>;
  if (typeof u.isNullOrUndefined === "function") return false;
  u.isNullOrUndefined = isNullOrUndefined;
  return true;
}

const NOT_INSTALLED =
  /Cannot find|not found|Could not find|ERR_MODULE_NOT_FOUND|not a dependency|Unable to load/i;

/**
 * Why `initBackend()` could not use `pkg`, from the error its import (or set-up) threw: "not
 * installed" with what installing it takes, or the error's first line.
 */
export function nodeSkipReason(pkg: NodeBackendPackage, err: unknown): string {
  const msg = (err instanceof Error ? err.message : String(err)).split("\n")[0];
  if (NOT_INSTALLED.test(msg)) {
    return `@tensorflow/${pkg} is not installed (optional; its install script downloads ` +
      `libtensorflow${
        pkg === "tfjs-node-gpu" ? " for CUDA 11.2 + cuDNN 8.1" : ""
      }; see lib/backend/README.md; the project works without it)`;
  }
  if (pkg === "tfjs-node-gpu" && /libcu|cudnn/i.test(msg)) {
    return `failed to load: ${msg} (it needs the CUDA 11.2 and cuDNN 8.1 libraries on the ` +
      `library path, e.g. LD_LIBRARY_PATH; CUDA 12 lacks libcudart.so.11.0; see ` +
      `lib/backend/README.md)`;
  }
  return `failed to load: ${msg}`;
}

/**
 * Imports `@tensorflow/<pkg>` (shim first) and makes its `tensorflow` backend active. The name is
 * computed, so that a missing package is an error at run time rather than at load time.
 */
export async function initNodeBackend(pkg: NodeBackendPackage): Promise<void> {
  installNodeUtilShim();
  const spec = `@tensorflow/${pkg}`;
  await import(spec);
  if (!(await tf.setBackend("tensorflow"))) {
    throw new Error(`${spec} loaded but its backend did not initialise`);
  }
}
