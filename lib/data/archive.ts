/**
 * Writes one synthetic archive (seeded chest-like films from lib/data/synthetic.ts) in any of
 * the dataset formats the data layer reads: the Kaggle class folders, or images under a label
 * table as the public sets ship them. The same plan of images written in two formats holds the
 * same pixels, so every task must give the same answer on both (tests/data/formats_test.ts);
 * `bench/scale.ts` writes 10,000 to 100,000 of them.
 *
 * | format     | images                                                        | table                          |
 * | ---------- | ------------------------------------------------------------- | ------------------------------ |
 * | `folders`  | `DIR/{NORMAL,PNEUMONIA}/<id>.png`                              | none (labels from the folders) |
 * | `csv`      | `DIR/images/<patient>/<id>.png`                                | `DIR/labels.csv`               |
 * | `nih`      | `DIR/images_001/images/<id>.png` ... (1,000 per folder)        | `DIR/Data_Entry_2017.csv`      |
 * | `chexpert` | `DIR/CheXpert-v1.0-small/train/<patient>/study1/view<k>_frontal.png` | `.../train.csv` (paths from `DIR`) |
 * | `rsna`     | `DIR/stage_2_train_images/<patient>/<study>/<id>[.dcm]` (DICOM, several encodings; a `DICOMDIR`) | `DIR/stage_2_train_labels.csv` |
 *
 * The RSNA DICOMs rotate through the encodings of lib/images/dicom_write.ts (8 bit; 12 bits stored
 * in 16 with a VOI LUT; MONOCHROME1; a window through Rescale Intercept), every one of which a
 * viewer shows as the original gray levels; every fourth file has no `.dcm` extension.
 * @module
 */
import { dirname, join } from "node:path";
import sharp from "sharp";
import { encodeDicom } from "../images/dicom_write.ts";
import { renderChest } from "./synthetic.ts";
import { writeFileAtomic } from "../util/atomic.ts";
import { makeRng, randNormal } from "../util/rng.ts";
import { mapLimit } from "./_pool.ts";
import type { ClassName, Subtype } from "./types.ts";

/** Formats {@link writeArchive} writes. */
export type ArchiveFormat = "folders" | "csv" | "nih" | "chexpert" | "rsna";
/** Every archive format. */
export const ARCHIVE_FORMATS: readonly ArchiveFormat[] = [
  "folders",
  "csv",
  "nih",
  "chexpert",
  "rsna",
] as const;

/** One planned image: who, what, and the seed of its pixels. */
export interface PlannedImage {
  /** `img000001`. */
  id: string;
  /** `patient00001` (the CheXpert spelling); one to three images per patient. */
  patient: string;
  /** Index of the image within its patient (1-based). */
  index: number;
  label: ClassName;
  subtype: Subtype;
  seed: number;
}

/** A seeded plan of `n` images, about 40% NORMAL, patients of one to three images. */
export function planArchive(n: number, seed = 0): PlannedImage[] {
  const rng = makeRng(seed);
  const out: PlannedImage[] = [];
  let p = 0;
  while (out.length < n) {
    p++;
    const k = Math.min(n - out.length, 1 + Math.floor(rng() * 3));
    const label: ClassName = rng() < 0.4 ? "NORMAL" : "PNEUMONIA";
    const subtype: Subtype = label === "NORMAL" ? "normal" : rng() < 0.65 ? "bacteria" : "virus";
    for (let i = 1; i <= k; i++) {
      out.push({
        id: `img${String(out.length + 1).padStart(6, "0")}`,
        patient: `patient${String(p).padStart(5, "0")}`,
        index: i,
        label,
        subtype,
        seed: Math.floor(rng() * 2 ** 31),
      });
    }
  }
  return out;
}

/**
 * Distinct films rendered per subtype (normal, bacteria, virus) by default: every planned image
 * is one of them, moved, exposed and given noise of its own ({@link renderPlanned}).
 */
export const FILM_POOL = 64;

/** Rendered films by `size/subtype/k` (at most {@link FILM_POOL}-ish per subtype and size). */
const films = new Map<string, Uint8Array>();

/** Film k of a subtype at a size: rendered once, then reused. */
function film(subtype: Subtype, k: number, size: number): Uint8Array {
  const key = `${size}/${subtype}/${k}`;
  let px = films.get(key);
  if (!px) {
    px = renderChest(makeRng(1_000_003 * (k + 1) + subtype.length), size, subtype);
    films.set(key, px);
  }
  return px;
}

/** Gaussian noise (sd 4 grey levels), read from a seeded offset: cheaper than drawing it. */
const NOISE = (() => {
  const rng = makeRng(99);
  return Int8Array.from({ length: 65_521 }, () => Math.round(randNormal(rng) * 4));
})();

/**
 * The pixels of a planned image (size x size gray), the same on every call: film
 * `seed % pool` of its subtype ({@link FILM_POOL} by default), shifted by a few pixels, with its
 * own exposure (gain, offset) and noise, all drawn from its seed. Rendering a film costs about 17
 * ms at 256 px; this, a fraction of a millisecond, so that 100,000 images take minutes, and no
 * two images are the same bytes (the image cache keys decoded pixels by content).
 */
export function renderPlanned(img: PlannedImage, size: number, pool = FILM_POOL): Uint8Array {
  const rng = makeRng(img.seed);
  const base = film(img.subtype, img.seed % pool, size);
  const reach = Math.max(1, Math.round(size * 0.02));
  const dx = Math.floor(rng() * (2 * reach + 1)) - reach;
  const dy = Math.floor(rng() * (2 * reach + 1)) - reach;
  const gain = 0.9 + rng() * 0.2, offset = (rng() - 0.5) * 16;
  let o = Math.floor(rng() * NOISE.length);
  const out = new Uint8Array(size * size);
  for (let y = 0; y < size; y++) {
    const row = Math.min(size - 1, Math.max(0, y + dy)) * size;
    for (let x = 0; x < size; x++) {
      const v = base[row + Math.min(size - 1, Math.max(0, x + dx))] * gain + offset + NOISE[o];
      if (++o === NOISE.length) o = 0;
      out[y * size + x] = v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
    }
  }
  return out;
}

/** Where {@link writeArchive} put things: the `--data` folder and the `--labels` table. */
export interface WrittenArchive {
  data: string;
  labels: string | null;
  format: ArchiveFormat;
  images: number;
  /** Images found already written ({@link ArchiveOptions.resume}) and kept. */
  kept: number;
}

/** Options of {@link writeArchive}. */
export interface ArchiveOptions {
  /** Image side in pixels (default 64). */
  size?: number;
  /** Files written at once (default 8). */
  concurrency?: number;
  /** Called after each image. */
  onProgress?: (done: number, total: number) => void;
  /** Distinct films per subtype the images vary (default {@link FILM_POOL}). */
  pool?: number;
  /**
   * Keep the images already there (a file of the name exists: complete, as every file is
   * written atomically) and write only the others: an interrupted archive is finished, not
   * started over.
   */
  resume?: boolean;
}

/** The relative path of an image in a format (see the module doc). */
export function archivePath(format: ArchiveFormat, img: PlannedImage, i: number): string {
  switch (format) {
    case "folders":
      return `${img.label}/${img.id}.png`;
    case "csv":
      return `images/${img.patient}/${img.id}.png`;
    case "nih":
      return `images_${String(1 + Math.floor(i / 1000)).padStart(3, "0")}/images/${img.id}.png`;
    case "chexpert":
      return `CheXpert-v1.0-small/train/${img.patient}/study1/view${img.index}_frontal.png`;
    case "rsna":
      return `stage_2_train_images/${img.patient}/study${img.index}/${img.id}` +
        (i % 4 === 3 ? "" : ".dcm");
  }
}

/** The label table's rows (header first) for a format. */
function tableLines(format: ArchiveFormat, plan: PlannedImage[]): string[] {
  const pos = (p: PlannedImage) => p.label === "PNEUMONIA";
  switch (format) {
    case "folders":
      return [];
    case "csv":
      return [
        "path,label,patient",
        ...plan.map((p, i) => `${archivePath("csv", p, i)},${p.label},${p.patient}`),
      ];
    case "nih":
      return [
        "Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender," +
        "View Position,OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y],",
        ...plan.map((p, i) =>
          `${p.id}.png,${pos(p) ? (i % 2 ? "Pneumonia|Effusion" : "Pneumonia") : "No Finding"},` +
          `${p.index - 1},${p.patient},4,M,${i % 3 ? "PA" : "AP"},2048,2048,0.14,0.14,`
        ),
      ];
    case "chexpert":
      return [
        "Path,Sex,Age,Frontal/Lateral,AP/PA,No Finding,Pneumonia",
        ...plan.map((p, i) =>
          `${archivePath("chexpert", p, i)},Female,4,Frontal,AP,${pos(p) ? "" : "1.0"},` +
          (pos(p) ? "1.0" : "0.0")
        ),
      ];
    case "rsna":
      return [
        "patientId,x,y,width,height,Target",
        ...plan.flatMap((p, i) =>
          pos(p)
            ? Array.from({ length: 1 + (i % 2) }, (_, b) => `${p.id},${100 + b},120,80,90,1`)
            : [`${p.id},,,,,0`]
        ),
      ];
  }
}

/** The table's file name in a format (relative to the archive root). */
function tableName(format: ArchiveFormat): string | null {
  return {
    folders: null,
    csv: "labels.csv",
    nih: "Data_Entry_2017.csv",
    chexpert: "CheXpert-v1.0-small/train.csv",
    rsna: "stage_2_train_labels.csv",
  }[format];
}

/** DICOM bytes of one image, rotating through identity-preserving encodings. */
function dicomOf(px: Uint8Array, size: number, img: PlannedImage, i: number): Uint8Array {
  const variants = [
    {},
    { bits: 16 as const, voi: "lut" as const },
    { bits: 16 as const, monochrome1: true, voi: "lut" as const },
    { bits: 16 as const, voi: "window" as const, rescale: true },
  ];
  return encodeDicom(px, size, size, {
    ...variants[i % variants.length],
    tags: { PatientID: img.id, ViewPosition: i % 3 ? "PA" : "AP" },
  });
}

/**
 * Writes the planned images under `root` in `format` (see the module doc); returns the `--data`
 * folder and `--labels` table to pass to the tasks. Files are written atomically, so an
 * interrupted run leaves no half file; an existing file of the same name is overwritten.
 */
export async function writeArchive(
  root: string,
  format: ArchiveFormat,
  plan: PlannedImage[],
  opts: ArchiveOptions = {},
): Promise<WrittenArchive> {
  const size = opts.size ?? 64;
  const dirs = new Set<string>();
  let kept = 0;
  await mapLimit(plan, opts.concurrency ?? 8, async (img, i) => {
    const path = join(root, archivePath(format, img, i));
    if (opts.resume && await Deno.stat(path).then((s) => s.isFile, () => false)) {
      kept++;
      return;
    }
    const dir = dirname(path);
    if (!dirs.has(dir)) {
      await Deno.mkdir(dir, { recursive: true });
      dirs.add(dir);
    }
    const px = renderPlanned(img, size, opts.pool);
    // Deflate level 3: 30% less CPU than sharp's 6 for files 2% larger (256 px films).
    const bytes = format === "rsna" ? dicomOf(px, size, img, i) : new Uint8Array(
      await sharp(px, { raw: { width: size, height: size, channels: 1 } })
        .png({ compressionLevel: 3 }).toBuffer(),
    );
    await writeFileAtomic(path, bytes);
  }, opts.onProgress);
  const name = tableName(format);
  if (format === "rsna") {
    // A DICOMDIR, as a PACS export has: the data layer must ignore it.
    await writeFileAtomic(join(root, "stage_2_train_images", "DICOMDIR"), new Uint8Array(256));
  }
  const labels = name ? join(root, name) : null;
  if (labels) await writeFileAtomic(labels, tableLines(format, plan).join("\n") + "\n");
  return {
    data: format === "chexpert" ? join(root, "CheXpert-v1.0-small") : root,
    labels,
    format,
    images: plan.length,
    kept,
  };
}
