/**
 * Finds the images of a chest X-ray dataset on disk and describes each one as an
 * {@link ImageRecord}.
 *
 * Two layouts are recognised:
 * - **kaggle**: `ROOT/{train,val,test}/{NORMAL,PNEUMONIA}/*` (any subset of the three splits);
 * - **flat**: `ROOT/{NORMAL,PNEUMONIA}/*` (one folder of class folders, no official split).
 *
 * Images are files ending in .jpeg, .jpg, .png or .dcm (DICOM), in any case; dotfiles are
 * ignored, other files and nested folders are listed in `warnings`. The records are sorted by `relPath`, so the
 * output is the same on every run and machine.
 *
 * @example
 * ```ts
 * import { discoverDataset } from "./discover.ts";
 * const { layout, records, warnings } = await discoverDataset("data/chest_xray");
 * ```
 * @module
 */
import { join, resolve } from "node:path";
import { classSubtype, IMAGE_EXTENSIONS, isImageName, parseFileName } from "./names.ts";
import type { ClassName, ImageRecord, SplitName, Subtype } from "./types.ts";
import { CLASS_NAMES } from "./types.ts";

/** What {@link discoverDataset} found. */
export interface Discovery {
  /** Absolute path of the dataset root. */
  root: string;
  /** Which layout the root has. */
  layout: "kaggle" | "flat";
  /** One record per image, sorted by `relPath`. */
  records: ImageRecord[];
  /** Things worth a look that did not stop discovery (skipped files, unknown names...). */
  warnings: string[];
}

const SPLITS: readonly SplitName[] = ["train", "val", "test"];
const EXPECTED_LAYOUT = "expected ROOT/{train,val,test}/{NORMAL,PNEUMONIA}/ (Kaggle layout, " +
  "any subset of the splits) or ROOT/{NORMAL,PNEUMONIA}/ (one folder of class folders)";
const LOOKED_FOR = `looked for ${IMAGE_EXTENSIONS.join(" ")}`;
/** How many names a warning lists before it says "and N more". */
const LIST_MAX = 10;

interface Entry {
  name: string;
  isDir: boolean;
  isFile: boolean;
}

/** Lists a folder without dotfiles, following symlinks, sorted by name. */
async function listDir(path: string): Promise<Entry[]> {
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(path));
  } catch (err) {
    throw new Error(`Cannot list folder ${path}: ${(err as Error).message}`);
  }
  const out: Entry[] = [];
  for (const e of entries) {
    if (e.name.startsWith(".")) continue;
    let { isDirectory: isDir, isFile } = e;
    if (e.isSymlink) {
      try {
        const st = await Deno.stat(join(path, e.name));
        isDir = st.isDirectory;
        isFile = st.isFile;
      } catch {
        // A dangling link: neither file nor folder; reported as "other" by the caller.
      }
    }
    out.push({ name: e.name, isDir, isFile });
  }
  return out.sort((a, b) => cmp(a.name, b.name));
}

/** Code-unit string order (locale-independent, so output is the same everywhere). */
export function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** "a, b, c and 4 more". */
function listSome(items: string[]): string {
  const head = items.slice(0, LIST_MAX).join(", ");
  return items.length > LIST_MAX ? `${head} and ${items.length - LIST_MAX} more` : head;
}

/** Describes what a folder holds, for layout errors. */
function describeFound(entries: Entry[]): string {
  const dirs = entries.filter((e) => e.isDir).map((e) => e.name + "/");
  const files = entries.filter((e) => !e.isDir);
  const parts: string[] = [];
  if (dirs.length) parts.push(`folders ${listSome(dirs)}`);
  if (files.length) parts.push(`${files.length} file${files.length === 1 ? "" : "s"}`);
  return parts.length ? parts.join(" and ") : "nothing (the folder is empty)";
}

/** Finds the class folders (NORMAL, PNEUMONIA; any case) in a folder's entries. */
function classFolders(entries: Entry[]): Map<ClassName, string> {
  const found = new Map<ClassName, string>();
  for (const e of entries) {
    const label = CLASS_NAMES.find((c) => c === e.name.toUpperCase());
    if (e.isDir && label && !found.has(label)) found.set(label, e.name);
  }
  return found;
}

/** Scans one class folder into records; collects skipped entries. */
async function scanClass(
  root: string,
  relDir: string,
  label: ClassName,
  officialSplit: SplitName | null,
  skipped: { files: string[]; dirs: string[] },
  mismatched: string[],
  unknown: string[],
): Promise<ImageRecord[]> {
  const dir = join(root, relDir);
  const records: ImageRecord[] = [];
  for (const e of await listDir(dir)) {
    const relPath = `${relDir}/${e.name}`;
    if (e.isDir) {
      skipped.dirs.push(relPath + "/");
      continue;
    }
    if (!e.isFile || !isImageName(e.name)) {
      skipped.files.push(relPath);
      continue;
    }
    records.push(makeRecord(root, relPath, e.name, label, officialSplit, mismatched, unknown));
  }
  if (records.length === 0) {
    throw new Error(`Found 0 images under ${dir} (${LOOKED_FOR})`);
  }
  return records;
}

/** Builds one record from its name and folder. */
function makeRecord(
  root: string,
  relPath: string,
  name: string,
  label: ClassName,
  officialSplit: SplitName | null,
  mismatched: string[],
  unknown: string[],
): ImageRecord {
  const parsed = parseFileName(name);
  const implied = classSubtype(label);
  let subtype: Subtype | null = parsed.subtype;
  // The folder decides the class; a name that disagrees keeps its patient id but not its subtype.
  const agrees = subtype !== null && (label === "NORMAL") === (subtype === "normal");
  if (subtype !== null && !agrees) {
    mismatched.push(`${relPath} (name says ${subtype})`);
    subtype = implied;
  }
  if (parsed.patientId === null) unknown.push(relPath);
  const record: ImageRecord = {
    path: join(root, relPath),
    relPath,
    label,
    y: label === "NORMAL" ? 0 : 1,
    subtype: subtype ?? implied ?? "bacteria",
    patientId: parsed.patientId ?? `file:${relPath}`,
    parsed: parsed.patientId !== null,
    officialSplit,
  };
  if (subtype === null && implied === null) record.subtypeKnown = false;
  return record;
}

/** Checks that the root exists and is a folder, with errors that say what was expected. */
async function checkRoot(root: string): Promise<void> {
  let st: Deno.FileInfo;
  try {
    st = await Deno.stat(root);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new Error(`Dataset folder not found: ${root} (${EXPECTED_LAYOUT})`);
    }
    throw new Error(`Cannot read dataset folder ${root}: ${(err as Error).message}`);
  }
  if (!st.isDirectory) {
    throw new Error(`Dataset root ${root} is a file, not a folder (${EXPECTED_LAYOUT})`);
  }
}

/** A hint when the layout sits one level down (the Kaggle zip nests `chest_xray/chest_xray`). */
async function nestedHint(root: string, entries: Entry[]): Promise<string> {
  for (const e of entries.filter((d) => d.isDir)) {
    try {
      const inner = await listDir(join(root, e.name));
      const names = new Set(inner.filter((d) => d.isDir).map((d) => d.name.toUpperCase()));
      if (SPLITS.some((s) => names.has(s.toUpperCase())) || CLASS_NAMES.some((c) => names.has(c))) {
        return `; did you mean ${join(root, e.name)}?`;
      }
    } catch {
      // Unreadable subfolder: no hint.
    }
  }
  return "";
}

/**
 * Discovers a dataset in the Kaggle or flat layout (see the module doc).
 *
 * Throws, naming the folder and what was expected, when the root is missing or not a folder,
 * when it has neither split nor class folders, when a split folder lacks a class folder, or when
 * a class folder holds no image.
 */
export async function discoverDataset(root: string): Promise<Discovery> {
  const abs = resolve(root);
  await checkRoot(abs);
  const entries = await listDir(abs);
  const splitDirs = new Map<SplitName, string>();
  for (const e of entries) {
    const s = SPLITS.find((x) => x === e.name.toLowerCase());
    if (e.isDir && s && !splitDirs.has(s)) splitDirs.set(s, e.name);
  }
  const rootClasses = classFolders(entries);
  const warnings: string[] = [];
  const skipped = { files: [] as string[], dirs: [] as string[] };
  const mismatched: string[] = [];
  const unknown: string[] = [];
  const records: ImageRecord[] = [];
  let layout: Discovery["layout"];

  if (splitDirs.size > 0) {
    layout = "kaggle";
    if (rootClasses.size > 0) {
      warnings.push(
        `${abs} has both split folders and class folders; used the split folders (Kaggle ` +
          `layout) and ignored ${[...rootClasses.values()].join(", ")}/`,
      );
    }
    const used = new Set([...splitDirs.values(), ...rootClasses.values()]);
    const extra = entries.filter((e) => !used.has(e.name));
    if (extra.length) warnings.push(`Ignored in ${abs}: ${describeFound(extra)}`);
    for (const split of SPLITS) {
      const dirName = splitDirs.get(split);
      if (dirName === undefined) continue;
      const splitEntries = await listDir(join(abs, dirName));
      const classes = classFolders(splitEntries);
      const missing = CLASS_NAMES.filter((c) => !classes.has(c));
      if (missing.length) {
        throw new Error(
          `Split folder ${join(abs, dirName)} has no ${missing.join(" or ")} folder: found ` +
            `${describeFound(splitEntries)}; expected ${dirName}/NORMAL/ and ${dirName}/PNEUMONIA/`,
        );
      }
      const classNames = new Set(classes.values());
      const others = splitEntries.filter((e) => !classNames.has(e.name));
      if (others.length) {
        warnings.push(`Ignored in ${join(abs, dirName)}: ${describeFound(others)}`);
      }
      for (const label of CLASS_NAMES) {
        const rel = `${dirName}/${classes.get(label)}`;
        records.push(...await scanClass(abs, rel, label, split, skipped, mismatched, unknown));
      }
    }
  } else if (rootClasses.size > 0) {
    layout = "flat";
    const missing = CLASS_NAMES.filter((c) => !rootClasses.has(c));
    if (missing.length) {
      throw new Error(
        `Dataset folder ${abs} has no ${missing.join(" or ")} folder: found ` +
          `${describeFound(entries)}; ${EXPECTED_LAYOUT}`,
      );
    }
    const classNames = new Set(rootClasses.values());
    const others = entries.filter((e) => !classNames.has(e.name));
    if (others.length) warnings.push(`Ignored in ${abs}: ${describeFound(others)}`);
    for (const label of CLASS_NAMES) {
      const rel = rootClasses.get(label)!;
      records.push(...await scanClass(abs, rel, label, null, skipped, mismatched, unknown));
    }
  } else {
    throw new Error(
      `Unexpected layout in ${abs}: found ${describeFound(entries)}; ${EXPECTED_LAYOUT}` +
        await nestedHint(abs, entries),
    );
  }

  if (skipped.files.length) {
    warnings.push(
      `Skipped ${skipped.files.length} non-image file(s) (${LOOKED_FOR}): ${
        listSome(skipped.files)
      }`,
    );
  }
  if (skipped.dirs.length) {
    warnings.push(
      `Skipped ${skipped.dirs.length} nested folder(s) (only files directly in a class folder ` +
        `are read): ${listSome(skipped.dirs)}`,
    );
  }
  if (unknown.length) {
    warnings.push(
      `${unknown.length} file name(s) fit no known pattern (personN_bacteria_M, personN_virus_M, ` +
        `IM-XXXX-YYYY, NORMAL2-IM-XXXX-YYYY); each is its own patient file:<relPath>: ` +
        listSome(unknown),
    );
  }
  const noSubtype = records.filter((r) => r.subtypeKnown === false).length;
  if (noSubtype) {
    warnings.push(`${noSubtype} PNEUMONIA file(s) have no bacteria/virus subtype in their name`);
  }
  if (mismatched.length) {
    warnings.push(
      `${mismatched.length} file name(s) disagree with their class folder (the folder decides ` +
        `the class): ${listSome(mismatched)}`,
    );
  }
  records.sort((a, b) => cmp(a.relPath, b.relPath));
  return { root: abs, layout, records, warnings };
}
