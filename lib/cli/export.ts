/**
 * `deno task export --run DIR --out DIR`: writes a run's screening page (`lib/serve/site.ts`:
 * page, TF.js bundles, model, run.json) as a folder that works from any static web server, on
 * a machine without a network (for example `python3 -m http.server` in that folder, or the
 * clinic's intranet server). Browsers do not run the page from file:// (module-free, but fetch
 * of local files is blocked), so open it through a server.
 * @module
 */
import { dirname, join, resolve } from "node:path";
import { buildSite, siteBytes } from "../serve/site.ts";
import { writeFileAtomic } from "../util/atomic.ts";
import { type CliSpec, helpText, parseCli, runCli, UsageError } from "./_args.ts";

/** The export command's flags. */
export const EXPORT_CLI = {
  name: "export",
  synopsis: ["--run DIR --out DIR"],
  about: "Writes a run's screening page (page, TF.js bundles, model) as a folder for any " +
    "static web server.",
  flags: {
    run: { type: "string", arg: "DIR", help: "run folder" },
    out: { type: "string", arg: "DIR", help: "folder to write (created)" },
  },
} as const satisfies CliSpec;

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

/** Runs the export command with `args`. */
export async function main(args: string[]): Promise<number> {
  const { values: v, help } = parseCli(EXPORT_CLI, args);
  if (help) {
    console.log(helpText(EXPORT_CLI));
    return 0;
  }
  if (!v.run || !v.out) throw new UsageError("--run and --out are required");
  const files = await exportSite(v.run, v.out);
  console.log(
    `wrote ${files.length} files to ${
      resolve(v.out)
    }; serve that folder with any static web server`,
  );
  return 0;
}

if (import.meta.main) await runCli("export", () => main(Deno.args), EXPORT_CLI);
