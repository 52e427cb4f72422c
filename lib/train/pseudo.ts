/**
 * Self-training with confident pseudo-labels on unlabelled images (unsupervised domain
 * adaptation): a site has images long before it has diagnoses. From epoch
 * `pseudo.fromEpoch` on, after each epoch the run's current model scores the unlabelled images;
 * those at or above `high` become PNEUMONIA, those at or below `low` NORMAL, class-balanced by
 * the model's prior on them, and join the next epoch's training with loss weight `weight`.
 *
 * The unlabelled folder is read without its labels: {@link listUnlabelled} returns file paths
 * only (any folder structure; class folder names are never read), ordered by file name so that
 * renaming or reshuffling the subfolders changes nothing. Images are read through the run's own
 * image path (`loadRunImages`: size, channels, chest region, intensity), as training images are.
 *
 * Class balance ({@link selectPseudoLabels}): the prior is the mean P(pneumonia) the model gives
 * the unlabelled images; the confident positives and negatives are cut (least confident first) so
 * that their ratio matches the prior, as class-balanced self-training does (Zou et al. 2018), so
 * the pseudo-labels cannot drift towards the majority class.
 *
 * @example
 * ```ts
 * import { listUnlabelled, selectPseudoLabels } from "./pseudo.ts";
 * const files = await listUnlabelled("../shared/data/chest_xray_site");
 * const sel = selectPseudoLabels([0.99, 0.02, 0.5, 0.97], { high: 0.95, low: 0.05 });
 * sel.index; // [0, 1] or a balanced subset of the confident ones
 * ```
 * @module
 */
import { basename, join, relative } from "node:path";
import { isImageName } from "../data/names.ts";
import type { SplitRecord } from "../data/types.ts";
import type { SplitData } from "./batch.ts";

/** The pseudo-labelling settings of a run (config.json `pseudo`). */
export interface PseudoConfig {
  /** Folder of unlabelled images (searched recursively; folder names are ignored). */
  unlabelled: string;
  /** P(pneumonia) at or above which an image is pseudo-labelled PNEUMONIA. */
  high: number;
  /** P(pneumonia) at or below which an image is pseudo-labelled NORMAL. */
  low: number;
  /** The model scores the unlabelled images after this epoch and every later one. */
  fromEpoch: number;
  /** Loss weight of a pseudo-labelled image (times its class weight). */
  weight: number;
}

/** Checks a pseudo-labelling config; returns a message naming the bad value, or null. */
export function checkPseudoConfig(p: PseudoConfig, epochs: number): string | null {
  if (typeof p.unlabelled !== "string" || p.unlabelled === "") return "pseudo.unlabelled is empty";
  if (!(p.high > 0.5 && p.high <= 1)) return `pseudo high threshold ${p.high} must be in (0.5, 1]`;
  if (!(p.low >= 0 && p.low < 0.5)) return `pseudo low threshold ${p.low} must be in [0, 0.5)`;
  if (!(Number.isInteger(p.fromEpoch) && p.fromEpoch >= 1 && p.fromEpoch < epochs)) {
    return `pseudo fromEpoch ${p.fromEpoch} must be an epoch before the last (1 to ${epochs - 1})`;
  }
  if (!(p.weight > 0 && p.weight <= 10)) return `pseudo weight ${p.weight} must be in (0, 10]`;
  return null;
}

/** An unlabelled image: where it is, and nothing about its class. */
export interface UnlabelledFile {
  path: string;
  /** Path relative to the unlabelled folder (for the log only). */
  relPath: string;
}

/**
 * Every image file under `dir` (recursively), ordered by file name, then by relative path: the
 * order never depends on the folder names when file names are unique. Throws when the folder
 * holds no image.
 */
export async function listUnlabelled(dir: string): Promise<UnlabelledFile[]> {
  const out: UnlabelledFile[] = [];
  const walk = async (d: string) => {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(d));
    } catch (err) {
      throw new Error(`--unlabelled ${dir}: cannot read ${d}: ${(err as Error).message}`);
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory) await walk(p);
      else if (e.isFile && !e.name.startsWith(".") && isImageName(e.name)) {
        out.push({ path: p, relPath: relative(dir, p) });
      }
    }
  };
  await walk(dir);
  if (out.length === 0) {
    throw new Error(
      `--unlabelled ${dir}: no image files found (expected JPEG, PNG or DICOM files)`,
    );
  }
  const key = (f: UnlabelledFile) => basename(f.path);
  return out.sort((a, b) =>
    key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : a.relPath < b.relPath ? -1 : 1
  );
}

/** The pseudo-labels chosen after one epoch: image indices and their labels. */
export interface PseudoSelection {
  /** Indices into the unlabelled images, ascending. */
  index: number[];
  /** 0 (NORMAL) or 1 (PNEUMONIA) per selected image. */
  label: number[];
  /** The model's prior on the unlabelled images (mean P(pneumonia)). */
  prior: number;
  /** Confident images before the class balance: positives and negatives. */
  confident: { positives: number; negatives: number };
}

/**
 * Confident pseudo-labels from scores (NaN scores are skipped), class-balanced by the prior (see
 * the module doc): with P confident positives, N confident negatives and prior pi, positives
 * are cut to round(N pi / (1 - pi)) when they are too many, else negatives to
 * round(P (1 - pi) / pi); the least confident go first. The prior is clamped to [0.05, 0.95].
 */
export function selectPseudoLabels(
  prob: readonly number[],
  o: { high: number; low: number },
): PseudoSelection {
  const ok = prob.map((_, i) => i).filter((i) => Number.isFinite(prob[i]));
  const prior = Math.min(0.95, Math.max(0.05, ok.reduce((s, i) => s + prob[i], 0) / ok.length));
  const pos = ok.filter((i) => prob[i] >= o.high).sort((a, b) => prob[b] - prob[a] || a - b);
  const neg = ok.filter((i) => prob[i] <= o.low).sort((a, b) => prob[a] - prob[b] || a - b);
  const confident = { positives: pos.length, negatives: neg.length };
  let nPos = pos.length, nNeg = neg.length;
  if (nPos * (1 - prior) > nNeg * prior) nPos = Math.round((nNeg * prior) / (1 - prior));
  else nNeg = Math.round((nPos * (1 - prior)) / prior);
  const chosen = [
    ...pos.slice(0, Math.min(nPos, pos.length)).map((i) => [i, 1]),
    ...neg.slice(0, Math.min(nNeg, neg.length)).map((i) => [i, 0]),
  ].sort((a, b) => a[0] - b[0]);
  return { index: chosen.map((c) => c[0]), label: chosen.map((c) => c[1]), prior, confident };
}

/** Unlabelled images loaded at the run's preprocessing (failed ones left out). */
export interface UnlabelledImages {
  files: UnlabelledFile[];
  /** uint8 HWC pixels, image i of `files` at slot i (zeros where it failed to load). */
  pixels: Uint8Array;
  /** Whether image i loaded; a failed one is never scored nor pseudo-labelled. */
  ok: boolean[];
  imageBytes: number;
}

/**
 * A split to score the unlabelled images with (`predictSplit` reads only pixels and slots; the
 * labels are zeros, never read as labels), or, with `sel`, the pseudo-labelled training split.
 */
export function unlabelledSplit(
  un: UnlabelledImages,
  sel?: Pick<PseudoSelection, "index" | "label">,
): SplitData {
  const index = sel ? sel.index : un.files.map((_, i) => i);
  const labels = sel ? sel.label : index.map(() => 0);
  const records: SplitRecord[] = index.map((i, k) => ({
    path: un.files[i].path,
    relPath: un.files[i].relPath,
    label: labels[k] === 1 ? "PNEUMONIA" : "NORMAL",
    y: labels[k] as 0 | 1,
    subtype: labels[k] === 1 ? "bacteria" : "normal",
    subtypeKnown: false,
    patientId: `unlabelled:${basename(un.files[i].path)}`,
    parsed: false,
    officialSplit: null,
    split: "train",
  }));
  return {
    records,
    labels: Int32Array.from(labels),
    pixels: un.pixels,
    slot: Int32Array.from(index),
    imageBytes: un.imageBytes,
  };
}

/** One epoch's pseudo-labels as CSV rows `epoch,file,prob,pseudo` (file: the relative path). */
export function pseudoRows(
  epoch: number,
  un: UnlabelledImages,
  prob: readonly number[],
  sel: PseudoSelection,
): string[] {
  const q = (s: string) => (/[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s);
  return sel.index.map((i, k) => `${epoch},${q(un.files[i].relPath)},${prob[i]},${sel.label[k]}`);
}

/** Header of pseudo_labels.csv. */
export const PSEUDO_CSV_HEADER = "epoch,file,prob,pseudo";
