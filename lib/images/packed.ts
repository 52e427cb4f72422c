/**
 * The decode cache of a large dataset, on disk: every image of a list decoded once at the run's
 * size (chest region and intensity normalisation applied, as `loadRunImages` does in memory) into
 * one packed file, read back one image at a time. Nothing holds the whole split in memory: the
 * operating system's page cache, not the process, keeps the hot part of the file, so training on
 * 100,000 images at 224 px (5 GB of pixels) stays within a fixed memory bound.
 *
 * Files under `dir` (default `outputs/cache/packed`), keyed by a hash of the file list (paths,
 * byte sizes, modification times) and the preprocessing:
 * ```
 * <key>.u8          N x size x size x channels bytes, image i at offset i * imageBytes
 * <key>.state.json  {count, imageBytes, done: base64 bitmap, failures: {i: reason}, complete}
 * ```
 * The build writes images at their offsets and saves the state (after syncing the pixel file)
 * every {@link CHECKPOINT_IMAGES} images and at the end, so a build killed at any point resumes
 * where the last state left it: images marked done are not decoded again. A failed image is
 * remembered with its reason (its slot stays zero), never retried, never fatal.
 *
 * @example
 * ```ts
 * import { openPackedImages } from "./packed.ts";
 * const packed = await openPackedImages(paths, { size: 128, channels: 1 });
 * const first = packed.image(0); // 128 * 128 bytes, read from disk
 * packed.close();
 * ```
 * @module
 */
import { join, resolve } from "node:path";
import { writeFileAtomic } from "../util/atomic.ts";
import { sha256Hex } from "../util/hash.ts";
import { projectPath } from "../util/project.ts";
import { applyChestRegionBatch, type ChestRegionMode } from "./chest_region.ts";
import { applyIntensityBatch, type IntensityMode } from "./intensity.ts";
import {
  decodeImage,
  DEFAULT_KERNEL,
  ImageError,
  readImageBytes,
  type ResizeKernel,
} from "./load.ts";

/** Default folder of packed caches: `outputs/cache/packed` in the project root. */
export const DEFAULT_PACKED_DIR = projectPath("outputs/cache/packed");

/** Images between two saved states of a build (the most a kill can cost). */
export const CHECKPOINT_IMAGES = 1000;

/** Bump when the decoding changes pixels. */
const PACKED_VERSION = 1;

/** Options of {@link openPackedImages}. */
export interface PackedOptions {
  size: number;
  channels: 1 | 3;
  kernel?: ResizeKernel;
  chestRegion?: ChestRegionMode;
  intensity?: IntensityMode;
  /** Folder of packed caches; default {@link DEFAULT_PACKED_DIR}. */
  dir?: string;
  /** Images decoded at once (default 4). */
  concurrency?: number;
  /** Called after each image of the build (`done` counts the images already packed too). */
  onProgress?: (done: number, total: number) => void;
  /** Stop the build after this many newly decoded images, as if killed (tests of resuming). */
  stopAfter?: number;
  /** Images between two saved states (default {@link CHECKPOINT_IMAGES}). */
  checkpointEvery?: number;
}

/** A packed cache, open for reading. */
export interface PackedImages {
  file: string;
  count: number;
  imageBytes: number;
  /** ok[i] is 0 for an image that failed (its bytes are zeros). */
  ok: Uint8Array;
  failures: { path: string; reason: string }[];
  /** Images decoded by this call (0 when the cache was complete). */
  decoded: number;
  /** Image i's bytes (a fresh array), read from disk. */
  image(i: number): Uint8Array;
  /** Closes the file. */
  close(): void;
}

interface State {
  version: number;
  count: number;
  imageBytes: number;
  done: string;
  failures: Record<string, string>;
  complete: boolean;
}

const b64 = (u: Uint8Array) => btoa(Array.from(u, (c) => String.fromCharCode(c)).join(""));
const unb64 = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

/** Stats every file (a few at a time); a missing file gets size -1 (it fails at decoding). */
async function statAll(paths: string[]): Promise<string[]> {
  const out = new Array<string>(paths.length);
  let next = 0;
  const worker = async () => {
    while (next < paths.length) {
      const i = next++;
      const st = await Deno.stat(paths[i]).catch(() => null);
      out[i] = `${paths[i]}\t${st?.size ?? -1}\t${st?.mtime?.getTime() ?? 0}`;
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  return out;
}

/** Writes all of `data` at `offset` (positional; callers serialise). */
async function writeAt(f: Deno.FsFile, offset: number, data: Uint8Array): Promise<void> {
  await f.seek(offset, Deno.SeekMode.Start);
  let done = 0;
  while (done < data.length) done += await f.write(data.subarray(done));
}

/**
 * Opens the packed cache of `paths` at these settings, building (or finishing) it first; see the
 * module doc. Never throws for a bad image.
 */
export async function openPackedImages(
  paths: string[],
  opts: PackedOptions,
): Promise<PackedImages> {
  const { size, channels } = opts;
  const kernel = opts.kernel ?? DEFAULT_KERNEL;
  const chest = opts.chestRegion ?? "none", intensity = opts.intensity ?? "none";
  const abs = paths.map((p) => resolve(p));
  const imageBytes = size * size * channels;
  const n = abs.length;
  const key = sha256Hex(JSON.stringify({
    v: PACKED_VERSION,
    size,
    channels,
    kernel,
    chest,
    intensity,
    files: await statAll(abs),
  })).slice(0, 24);
  const dir = opts.dir ?? DEFAULT_PACKED_DIR;
  await Deno.mkdir(dir, { recursive: true });
  const file = join(dir, `${key}.u8`), stateFile = join(dir, `${key}.state.json`);
  let state: State | null = await Deno.readTextFile(stateFile)
    .then((t) => JSON.parse(t) as State).catch(() => null);
  const size0 = await Deno.stat(file).then((s) => s.size, () => -1);
  if (
    !state || state.version !== PACKED_VERSION || state.count !== n ||
    state.imageBytes !== imageBytes || size0 !== n * imageBytes
  ) {
    state = null;
  }
  const done = state ? unb64(state.done) : new Uint8Array(Math.ceil(n / 8));
  const failures: Record<string, string> = state?.failures ?? {};
  const isDone = (i: number) => (done[i >> 3] >> (i & 7)) & 1;
  let decoded = 0;
  if (!state?.complete) {
    const f = await Deno.open(file, { read: true, write: true, create: true });
    try {
      if (!state) await f.truncate(n * imageBytes);
      let chain = Promise.resolve();
      let since = 0, stopped = false, doneCount = 0;
      for (let i = 0; i < n; i++) doneCount += isDone(i);
      const save = async (complete: boolean) => {
        await chain;
        await f.syncData();
        const s: State = {
          version: PACKED_VERSION,
          count: n,
          imageBytes,
          done: b64(done),
          failures,
          complete,
        };
        await writeFileAtomic(stateFile, JSON.stringify(s));
      };
      const todo = Array.from({ length: n }, (_, i) => i).filter((i) => !isDone(i));
      let next = 0;
      const worker = async () => {
        while (next < todo.length && !stopped) {
          const i = todo[next++];
          let px: Uint8Array | null = null;
          try {
            px = await decodeImage(await readImageBytes(abs[i]), abs[i], {
              size,
              channels,
              kernel,
            });
            if (chest !== "none") await applyChestRegionBatch(px, size, channels, chest);
            if (intensity !== "none") applyIntensityBatch(px, size, channels, intensity);
          } catch (err) {
            failures[i] = err instanceof ImageError ? err.reason : `cannot decode (${err})`;
          }
          const data = px;
          if (data) chain = chain.then(() => writeAt(f, i * imageBytes, data));
          await chain;
          done[i >> 3] |= 1 << (i & 7);
          decoded++;
          doneCount++;
          opts.onProgress?.(doneCount, n);
          if (++since >= (opts.checkpointEvery ?? CHECKPOINT_IMAGES)) {
            since = 0;
            await save(false);
          }
          if (opts.stopAfter !== undefined && decoded >= opts.stopAfter) stopped = true;
        }
      };
      await Promise.all(Array.from({ length: Math.max(1, opts.concurrency ?? 4) }, worker));
      await save(!stopped && doneCount === n);
    } finally {
      f.close();
    }
  }
  const reader = await Deno.open(file, { read: true });
  const ok = new Uint8Array(n).fill(1);
  const failed = Object.entries(failures).map(([i, reason]) => {
    ok[Number(i)] = 0;
    return { path: paths[Number(i)], reason };
  });
  for (let i = 0; i < n; i++) if (!isDone(i)) ok[i] = 0;
  return {
    file,
    count: n,
    imageBytes,
    ok,
    failures: failed,
    decoded,
    image(i: number): Uint8Array {
      if (!(i >= 0 && i < n)) throw new RangeError(`image ${i} of ${n}`);
      const out = new Uint8Array(imageBytes);
      reader.seekSync(i * imageBytes, Deno.SeekMode.Start);
      let got = 0;
      while (got < imageBytes) {
        const k = reader.readSync(out.subarray(got));
        if (k === null) throw new Error(`${file}: ends before image ${i}`);
        got += k;
      }
      return out;
    },
    close: () => reader.close(),
  };
}
