/**
 * On-disk cache of image probe outcomes keyed by file content (SHA-256), so that a second audit
 * of the same files decodes nothing (private helper of lib/data/audit.ts).
 * @module
 */
import { readJson, writeJsonAtomic } from "../util/atomic.ts";

/** What probing one file gave: a readable image's header, or why it is unreadable. */
export interface ProbeOutcome {
  ok: boolean;
  /** Why the file is unreadable; null when ok. */
  reason: string | null;
  width: number | null;
  height: number | null;
  channels: number | null;
  format: string | null;
}

interface Entry extends ProbeOutcome {
  /** True when the pixel data was decoded (verified), not only the header. */
  verified: boolean;
}

interface CacheFile {
  /** Bumped when the meaning of an entry changes, which drops older caches. */
  version: 1;
  entries: Record<string, Entry>;
}

/** A probe cache backed by one JSON file (or by nothing, when `path` is null). */
export class ProbeCache {
  /** Lookups answered from the cache. */
  hits = 0;
  /** Lookups that had to probe the file. */
  misses = 0;
  #changed = false;

  private constructor(readonly path: string | null, private entries: Record<string, Entry>) {}

  /** Opens the cache at `path`; a missing, unreadable or older-version file starts empty. */
  static async open(path: string | null): Promise<ProbeCache> {
    if (path === null) return new ProbeCache(null, {});
    const file = await readJson<CacheFile>(path).catch(() => null);
    const entries = file?.version === 1 && typeof file.entries === "object" ? file.entries : {};
    return new ProbeCache(path, entries);
  }

  /** The cached outcome for content `sha256`, when it answers a probe with `verify`. */
  get(sha256: string, verify: boolean): ProbeOutcome | undefined {
    const e = this.entries[sha256];
    if (e && (e.verified || !verify)) {
      this.hits++;
      const { verified: _v, ...outcome } = e;
      return outcome;
    }
    this.misses++;
    return undefined;
  }

  /** Records an outcome. */
  set(sha256: string, verify: boolean, outcome: ProbeOutcome): void {
    if (this.path === null) return;
    this.entries[sha256] = { ...outcome, verified: verify };
    this.#changed = true;
  }

  /** Writes the cache atomically when something was added. */
  async save(): Promise<void> {
    if (this.path === null || !this.#changed) return;
    await writeJsonAtomic(this.path, { version: 1, entries: this.entries } satisfies CacheFile);
    this.#changed = false;
  }
}
