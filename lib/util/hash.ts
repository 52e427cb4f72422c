/**
 * Content hashes (SHA-256, hex) for the image cache and duplicate detection.
 * @module
 */
import { createHash } from "node:crypto";

/** SHA-256 of bytes, as lowercase hex. */
export function sha256Hex(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}
