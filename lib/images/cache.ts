/**
 * Load many images into one packed uint8 array (N x size x size x channels, HWC), with a disk
 * cache so that a rerun decodes nothing.
 *
 * Cache layout under `cacheDir` (default `outputs/cache/images` in the project root):
 * ```
 * v3/<size>x<size>x<channels>-<kernel>/
 *   index.json        path -> {mtimeMs, bytes, hash, pack, slot} or {mtimeMs, bytes, hash, error}
 *   packs/<id>.u8     decoded pixels of up to PACK_BYTES of images, slot k at k * imageBytes
 * ```
 * Entries are keyed by the file's content hash (SHA-256): a renamed or copied file finds the
 * pack and slot of an index row with the same hash. The index is looked up by path + mtime + byte
 * size (so a changed file is re-hashed and a warm run hashes nothing). Files that fail to decode
 * are remembered in the index with their reason, so a warm run does not retry them either.
 *
 * The newly decoded images of a call are written in packs of up to {@link PACK_BYTES} (one file
 * each, written to a temporary name and renamed, then the index is updated), not one file per
 * image: writing 5,216 files of 67.5 kB (150 x 150 x 3) cost 2.3-3.0 CPU-seconds of kernel time
 * here (ext4 on a VM, busy machine), the same bytes written into one file 0.14 s. A pack is never changed after its rename, so
 * readers in other processes are safe; a run killed mid-way loses at most the pack being written.
 * A pack whose length is not a whole number of images, or a slot past its end, is treated as
 * missing and decoded again (into a new pack); packs that no index row refers to are deleted
 * after {@link STALE_PACK_MS}.
 *
 * @example
 * ```ts
 * import { loadImages } from "./cache.ts";
 * const { data, ok, failures } = await loadImages(paths, { size: 150, channels: 3 });
 * ```
 * @module
 */
import sharp from "sharp";
import { join, resolve } from "node:path";
import { projectPath } from "../util/project.ts";
import { sha256Hex } from "../util/hash.ts";
import { writeFileAtomic } from "../util/atomic.ts";
import { decodeImageInto, DEFAULT_KERNEL, ImageError, readImageBytesSync } from "./load.ts";
import type { ResizeKernel } from "./load.ts";

/** Default cache folder: `outputs/cache/images` in the project root (not the working dir). */
export const DEFAULT_CACHE_DIR = projectPath("outputs/cache/images");

/**
 * Bump when decoding changes in a way that changes pixels, or the layout changes, to invalidate
 * old entries (v2: large JPEGs decoded at full size, no shrink-on-load; v3: packs instead of one
 * file per image, same pixels).
 */
const CACHE_VERSION = "v3";

/** Most bytes of pixels in one pack (about 1,000 images at 150 x 150 x 3). */
export const PACK_BYTES = 64 * 2 ** 20;

/** Packs a load keeps open at once (file descriptors are limited; a cache may hold many packs). */
export const MAX_OPEN_PACKS = 64;

/** Age after which a pack that no index row refers to is deleted (a concurrent writer's margin). */
export const STALE_PACK_MS = 60 * 60 * 1000;

/** Options of {@link loadImages}. */
export interface LoadImagesOptions {
  /** Output width and height. */
  size: number;
  /** 1 = grayscale, 3 = RGB. */
  channels: 1 | 3;
  /** Resize kernel (part of the cache key); default `nearest` as Keras. */
  kernel?: ResizeKernel;
  /** Cache folder; default {@link DEFAULT_CACHE_DIR}. `null` disables the cache. */
  cacheDir?: string | null;
  /**
   * Images in flight at once; default 8. Under Deno, sharp's decodes run as napi async work on
   * Deno's blocking-thread pool (not libuv's, so UV_THREADPOOL_SIZE does not apply), each with one
   * libvips worker thread; the main thread reads, hashes and resizes (a quarter of the CPU time of
   * a cold load), so several decodes in flight keep both cores busy. 2, 8 and 16 cost the same
   * CPU time (5,216 training images, busy 2-core EPYC).
   */
  concurrency?: number;
  /** Called after each image with the number done and the total. */
  onProgress?: (done: number, total: number) => void;
  /** Most bytes of pixels per pack written (default {@link PACK_BYTES}; small in tests). */
  packBytes?: number;
}

/** Result of {@link loadImages}. */
export interface LoadImagesResult {
  /** N x size x size x channels pixels, image i at offset i * size * size * channels. */
  data: Uint8Array;
  /** ok[i] is false when image i failed (its pixels are zeros). */
  ok: boolean[];
  /** The failed images, in input order, with the reason. */
  failures: { path: string; reason: string }[];
  /** Images decoded by sharp in this call (0 on a fully warm rerun). */
  decoded: number;
  /** Images read from the cache. */
  cacheHits: number;
  /** Files whose content was read and hashed (index misses). */
  hashed: number;
  /**
   * Why the cache could not be written (disk full, permissions), or null. The images are loaded
   * all the same; they are decoded again next time.
   */
  cacheError: string | null;
}

/** One row of the path index. */
interface IndexRow {
  mtimeMs: number;
  bytes: number;
  hash: string;
  /** The pack (file name without `.u8`) and slot holding the decoded pixels. */
  pack?: string;
  slot?: number;
  /** Set when the file failed to decode: the reason, replayed on warm runs. */
  error?: string;
}

/** Where a decoded image lives. */
interface Place {
  pack: string;
  slot: number;
}

/** Per-call counters, kept separate so that concurrent workers share them safely. */
interface Counters {
  decoded: number;
  cacheHits: number;
  hashed: number;
}

/**
 * libvips threads per image. With small images, parallelism across images (our worker pool,
 * run on the napi thread pool) beats threads inside one image; 1 also avoids oversubscribing
 * 2 cores.
 */
sharp.concurrency(1);

/** The cache sub-folder for one size/channels/kernel combination. */
export function cacheFolder(
  cacheDir: string,
  size: number,
  channels: 1 | 3,
  kernel: ResizeKernel,
): string {
  return join(cacheDir, CACHE_VERSION, `${size}x${size}x${channels}-${kernel}`);
}

/** Reads the index, ignoring a missing or unreadable one (it is only an accelerator). */
async function readIndex(file: string): Promise<Map<string, IndexRow>> {
  try {
    const obj = JSON.parse(await Deno.readTextFile(file)) as Record<string, IndexRow>;
    return new Map(Object.entries(obj));
  } catch {
    return new Map();
  }
}

/**
 * The packs of one cache folder, opened for reading on first use. Reads are synchronous (a seek
 * and a read): for 67 kB, Deno's async file operations cost more in hand-offs to its I/O threads
 * than the read itself.
 */
class PackReader {
  /** Packs looked at: open, or null when missing or damaged. */
  #open = new Map<string, { file: Deno.FsFile; slots: number } | null>();
  #openCount = 0;
  constructor(readonly dir: string, readonly imageBytes: number) {}

  /** Closes the pack opened first when {@link MAX_OPEN_PACKS} are open (a cache of many packs). */
  #makeRoom(): void {
    if (this.#openCount < MAX_OPEN_PACKS) return;
    for (const [id, p] of this.#open) {
      if (!p) continue;
      p.file.close();
      this.#open.delete(id);
      this.#openCount--;
      return;
    }
  }

  /** Copies the pixels at `place` into `out`; false when the pack is missing or too short. */
  read(place: Place, out: Uint8Array): boolean {
    let pack = this.#open.get(place.pack);
    if (pack === undefined) {
      pack = null;
      this.#makeRoom();
      try {
        const file = Deno.openSync(join(this.dir, `${place.pack}.u8`), { read: true });
        const size = file.statSync().size;
        // A length that is not a whole number of images: damaged, every slot decoded again.
        if (size % this.imageBytes === 0) {
          pack = { file, slots: size / this.imageBytes };
          this.#openCount++;
        } else file.close();
      } catch { /* missing: decoded again */ }
      this.#open.set(place.pack, pack);
    }
    if (!pack || !(Number.isInteger(place.slot) && place.slot >= 0 && place.slot < pack.slots)) {
      return false;
    }
    try {
      pack.file.seekSync(place.slot * this.imageBytes, Deno.SeekMode.Start);
      for (let got = 0; got < out.length;) {
        const k = pack.file.readSync(out.subarray(got));
        if (k === null) return false;
        got += k;
      }
      return true;
    } catch {
      return false;
    }
  }

  close(): void {
    for (const p of this.#open.values()) p?.file.close();
    this.#open.clear();
    this.#openCount = 0;
  }
}

/** Writes `ranges` of `data` (in order) as one new pack under `dir`; returns its id. */
async function writePack(
  dir: string,
  data: Uint8Array,
  ranges: [start: number, end: number][],
): Promise<string> {
  const id = `${Date.now().toString(36)}-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  const file = join(dir, `${id}.u8`), tmp = `${file}.tmp`;
  try {
    const f = await Deno.open(tmp, { write: true, createNew: true });
    try {
      for (const [start, end] of ranges) {
        for (let at = start; at < end;) at += await f.write(data.subarray(at, end));
      }
    } finally {
      f.close();
    }
    await Deno.rename(tmp, file);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
  return id;
}

/** Deletes packs (and leftover temporary files) of `dir` older than the margin and unused. */
async function removeStalePacks(dir: string, used: Set<string>): Promise<void> {
  const now = Date.now();
  for await (const e of Deno.readDir(dir)) {
    const id = e.name.endsWith(".u8") ? e.name.slice(0, -3) : null;
    if (!e.isFile || (id !== null && used.has(id))) continue;
    const st = await Deno.stat(join(dir, e.name)).catch(() => null);
    if (st?.mtime && now - st.mtime.getTime() > STALE_PACK_MS) {
      await Deno.remove(join(dir, e.name)).catch(() => {});
    }
  }
}

/**
 * Loads `paths` as one packed uint8 array, using and filling the disk cache. Never throws for a
 * bad image: it is listed in `failures`, `ok[i]` is false and its pixels stay zero.
 */
export async function loadImages(
  paths: string[],
  opts: LoadImagesOptions,
): Promise<LoadImagesResult> {
  const { size, channels } = opts;
  const kernel = opts.kernel ?? DEFAULT_KERNEL;
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError(`size must be a positive integer, got ${size}`);
  }
  if (channels !== 1 && channels !== 3) {
    throw new RangeError(`channels must be 1 or 3, got ${channels}`);
  }
  const pixels = size * size * channels;
  const n = paths.length;
  const data = new Uint8Array(n * pixels);
  const slotOf = (i: number) => data.subarray(i * pixels, (i + 1) * pixels);
  const ok = new Array<boolean>(n).fill(false);
  const reasons = new Array<string | null>(n).fill(null);
  const counters: Counters = { decoded: 0, cacheHits: 0, hashed: 0 };

  const folder = opts.cacheDir === null
    ? null
    : cacheFolder(opts.cacheDir ?? DEFAULT_CACHE_DIR, size, channels, kernel);
  const indexFile = folder ? join(folder, "index.json") : "";
  const packDir = folder ? join(folder, "packs") : "";
  const index = folder ? await readIndex(indexFile) : new Map<string, IndexRow>();
  const byHash = new Map<string, Place>();
  for (const r of index.values()) {
    if (r.pack !== undefined && r.slot !== undefined) byHash.set(r.hash, r as Place);
  }
  const packs = new PackReader(packDir, pixels);
  let indexDirty = false;
  let cacheError: string | null = null;

  // Newly decoded images waiting to be written into a pack.
  let pending: { i: number; path: string; row: IndexRow }[] = [];
  let wrotePack = false;
  let writing = Promise.resolve();
  const perPack = Math.max(1, Math.floor((opts.packBytes ?? PACK_BYTES) / pixels));

  /** Writes the pending images as one pack, then the index (chained: one write at a time). */
  const flush = () => {
    const batch = pending.sort((a, b) => a.i - b.i);
    pending = [];
    writing = writing.then(async () => {
      if (batch.length && cacheError === null) {
        try {
          await Deno.mkdir(packDir, { recursive: true });
          const ranges: [number, number][] = [];
          for (const { i } of batch) {
            const last = ranges.at(-1);
            if (last && last[1] === i * pixels) last[1] += pixels;
            else ranges.push([i * pixels, (i + 1) * pixels]);
          }
          const pack = await writePack(packDir, data, ranges);
          batch.forEach(({ path, row }, slot) => {
            index.set(path, { ...row, pack, slot });
            byHash.set(row.hash, { pack, slot });
          });
          indexDirty = wrotePack = true;
        } catch (err) {
          cacheError = `cannot write the image cache in ${folder} (${(err as Error).message})`;
        }
      }
      if (indexDirty && cacheError === null) {
        try {
          // Merge with what another process may have written meanwhile, then write atomically.
          const onDisk = await readIndex(indexFile);
          for (const [k, v] of index) onDisk.set(k, v);
          await writeFileAtomic(indexFile, JSON.stringify(Object.fromEntries(onDisk)));
          indexDirty = false;
        } catch (err) {
          cacheError = `cannot write ${indexFile} (${(err as Error).message})`;
        }
      }
    });
  };

  const loadOne = async (i: number): Promise<void> => {
    const path = resolve(paths[i]);
    const out = slotOf(i);
    let stat: Deno.FileInfo | null = null;
    try {
      stat = Deno.statSync(path);
    } catch { /* readImageBytesSync below reports the missing file */ }
    const mtimeMs = stat?.mtime?.getTime() ?? 0;
    const row = stat ? index.get(path) : undefined;
    // Warm path: index hit -> pack slot, no hashing, no decoding.
    if (folder && row && row.mtimeMs === mtimeMs && row.bytes === stat!.size) {
      if (row.error !== undefined) {
        reasons[i] = row.error;
        return;
      }
      if (row.pack !== undefined && packs.read(row as Place, out)) {
        ok[i] = true;
        counters.cacheHits++;
        return;
      }
    }
    let bytes: Uint8Array;
    try {
      bytes = readImageBytesSync(path);
    } catch (err) {
      // Missing/empty/unreadable: not cached (the file may appear or be fixed).
      reasons[i] = err instanceof ImageError ? err.reason : String(err);
      return;
    }
    const hash = sha256Hex(bytes);
    counters.hashed++;
    const fields = { mtimeMs, bytes: stat?.size ?? bytes.length, hash };
    // Content hit: the same bytes under another path (or an index row of an older mtime).
    const place = folder ? byHash.get(hash) : undefined;
    if (place && packs.read(place, out)) {
      counters.cacheHits++;
      ok[i] = true;
      if (stat) {
        index.set(path, { ...fields, ...place });
        indexDirty = true;
      }
      return;
    }
    try {
      await decodeImageInto(bytes, path, { size, channels, kernel }, out);
      counters.decoded++;
    } catch (err) {
      out.fill(0);
      reasons[i] = err instanceof ImageError ? err.reason : `cannot decode (${String(err)})`;
      if (folder && stat) {
        index.set(path, { ...fields, error: reasons[i]! });
        indexDirty = true;
      }
      return;
    }
    ok[i] = true;
    if (folder && stat) {
      pending.push({ i, path, row: fields });
      if (pending.length >= perPack) flush();
    }
  };

  // Bounded worker pool: `concurrency` images in flight.
  const concurrency = Math.max(1, Math.min(opts.concurrency ?? 8, n || 1));
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      try {
        await loadOne(i);
      } catch (err) {
        // Anything unexpected on one image: report it, keep going.
        reasons[i] = `cannot load (${(err as Error).message ?? String(err)})`;
        ok[i] = false;
        slotOf(i).fill(0);
      }
      done++;
      opts.onProgress?.(done, n);
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    packs.close();
  }
  if (folder) {
    flush();
    await writing;
    if (wrotePack && cacheError === null) {
      const used = new Set([...(await readIndex(indexFile)).values()].map((r) => r.pack ?? ""));
      await removeStalePacks(packDir, used).catch(() => {});
    }
  }
  const failures = [];
  for (let i = 0; i < n; i++) {
    if (!ok[i]) failures.push({ path: paths[i], reason: reasons[i] ?? "unknown error" });
  }
  return { data, ok, failures, ...counters, cacheError };
}
