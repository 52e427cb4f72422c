/**
 * Tiny image trees for the data-layer tests, written into temp dirs.
 * @module
 */
import { dirname, join } from "node:path";
import sharp from "sharp";

let counter = 0;

/** A distinct tiny 8x8 gray image (each call differs, so no accidental duplicates). */
export async function tinyImage(
  format: "jpeg" | "png" = "jpeg",
  value?: number,
): Promise<Uint8Array> {
  const v = value ?? (37 * ++counter) % 256;
  const px = new Uint8Array(64);
  for (let i = 0; i < 64; i++) px[i] = (v + i) % 256;
  const img = sharp(px, { raw: { width: 8, height: 8, channels: 1 } });
  return new Uint8Array(await (format === "png" ? img.png() : img.jpeg()).toBuffer());
}

/** What to write at a relative path: an image format, text, or raw bytes. */
export type FileSpec = "jpeg" | "png" | "text" | Uint8Array;

/** Writes files (relative paths -> spec) under `root`, creating folders. */
export async function writeTree(root: string, files: Record<string, FileSpec>): Promise<void> {
  for (const [rel, spec] of Object.entries(files)) {
    const path = join(root, rel);
    await Deno.mkdir(dirname(path), { recursive: true });
    if (spec === "text") await Deno.writeTextFile(path, "not an image\n");
    else if (spec instanceof Uint8Array) await Deno.writeFile(path, spec);
    else await Deno.writeFile(path, await tinyImage(spec));
  }
}

/** A fresh temp dir; remove it with `Deno.remove(dir, { recursive: true })`. */
export function tempDir(): Promise<string> {
  return Deno.makeTempDir({ prefix: "xray_data_test_" });
}

/** A small valid Kaggle-layout tree: per split, 2 NORMAL patients and 2 PNEUMONIA patients. */
export function kaggleFiles(splits: string[] = ["train", "val", "test"]): Record<string, FileSpec> {
  const files: Record<string, FileSpec> = {};
  splits.forEach((s, i) => {
    files[`${s}/NORMAL/IM-0${i}01-0001.jpeg`] = "jpeg";
    files[`${s}/NORMAL/NORMAL2-IM-0${i}02-0001.jpeg`] = "jpeg";
    files[`${s}/PNEUMONIA/person${i}1_bacteria_${i}1.jpeg`] = "jpeg";
    files[`${s}/PNEUMONIA/person${i}2_virus_${i}2.png`] = "png";
  });
  return files;
}
