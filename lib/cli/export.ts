/**
 * `deno task export --run DIR --out DIR`: writes a run's screening page (`lib/serve/site.ts`:
 * page, TF.js bundles, model, run.json) as a folder that works from any static web server, on
 * a machine without a network (for example `python3 -m http.server` in that folder, or the
 * clinic's intranet server). Browsers do not run the page from file:// (module-free, but fetch
 * of local files is blocked), so open it through a server.
 * @module
 */
import { parseArgs } from "node:util";
import { dirname, join, resolve } from "node:path";
import { buildSite, siteBytes } from "../serve/site.ts";
import { writeFileAtomic } from "../util/atomic.ts";

const USAGE = "usage: deno task export --run DIR --out DIR";

/** Writes the site of `run` under `out`; returns the files written (relative paths). */
export async function exportSite(run: string, out: string): Promise<string[]> {
  const site = await buildSite(run);
  const root = resolve(out);
  const written: string[] = [];
  for (const [path, f] of site) {
    const dest = join(root, path);
    await Deno.mkdir(dirname(dest), { recursive: true });
    await writeFileAtomic(dest, await siteBytes(f));
    written.push(path);
  }
  return written;
}

if (import.meta.main) {
  try {
    const { values: v } = parseArgs({
      args: Deno.args,
      options: { run: { type: "string" }, out: { type: "string" }, help: { type: "boolean" } },
    });
    if (v.help) console.log(USAGE);
    else {
      if (!v.run || !v.out) throw new Error(`--run and --out are required\n${USAGE}`);
      const files = await exportSite(v.run, v.out);
      console.log(
        `wrote ${files.length} files to ${
          resolve(v.out)
        }; serve that folder with any static web server`,
      );
    }
  } catch (err) {
    console.error(`export: ${(err as Error).message}`);
    Deno.exit(1);
  }
}
