/**
 * `deno task serve [--run DIR] [--port N] [--host H]`: serves the screening page of a run (default
 * the committed reference model) on http://127.0.0.1:8787/. The page runs the model in the
 * browser; the server only hands out the site's files (`lib/serve/site.ts`): GET and HEAD of
 * known paths, nothing else, so it receives no images and no URL can reach another file.
 *
 * Permissions (deno.json): read the project folder (page, TF.js bundles, runs under outputs/),
 * listen on 127.0.0.1 / localhost. Another `--host` needs `--allow-net=HOST` (the error says so).
 * @module
 */
import { parseArgs } from "node:util";
import { projectPath } from "../util/project.ts";
import { buildSite, siteBytes, type SiteFile } from "../serve/site.ts";

const USAGE = "usage: deno task serve [--run DIR] [--port N] [--host H]";

/** Headers of every answer: no caching surprises, no framing, only same-origin requests. */
const SECURITY_HEADERS = {
  "cache-control": "no-cache",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
};

/** The request handler for a site (exported for tests). */
export function siteHandler(site: Map<string, SiteFile>): (req: Request) => Promise<Response> {
  return async (req: Request) => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      return new Response("method not allowed: this server only serves the page's files\n", {
        status: 405,
        headers: { allow: "GET, HEAD", ...SECURITY_HEADERS },
      });
    }
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url).pathname).replace(/^\/+/, "");
    } catch {
      return new Response("bad request\n", { status: 400, headers: SECURITY_HEADERS });
    }
    const f = site.get(path === "" ? "index.html" : path);
    if (!f) return new Response("not found\n", { status: 404, headers: SECURITY_HEADERS });
    const body = await siteBytes(f);
    return new Response(req.method === "HEAD" ? null : body as BodyInit, {
      headers: {
        "content-type": f.type,
        "content-length": String(body.length),
        ...SECURITY_HEADERS,
      },
    });
  };
}

/** Starts the server; returns it (tests shut it down). */
export async function serve(
  opts: { run?: string; port?: number; host?: string; quiet?: boolean } = {},
): Promise<Deno.HttpServer<Deno.NetAddr>> {
  const run = opts.run ?? projectPath("outputs/reference");
  const site = await buildSite(run);
  const hostname = opts.host ?? "127.0.0.1";
  try {
    return Deno.serve({
      hostname,
      port: opts.port ?? 8787,
      onListen: ({ hostname: h, port }) => {
        if (!opts.quiet) {
          console.log(
            `screening page of ${run} on http://${h.includes(":") ? `[${h}]` : h}:${port}/`,
          );
        }
      },
    }, siteHandler(site));
  } catch (err) {
    if (err instanceof Deno.errors.NotCapable || err instanceof Deno.errors.PermissionDenied) {
      throw new Error(
        `not allowed to listen on ${hostname} (deno task serve may listen on 127.0.0.1 and ` +
          `localhost only); run: deno run --allow-read=. --allow-net=${hostname} lib/cli/serve.ts ` +
          `--host ${hostname}`,
      );
    }
    throw err;
  }
}

if (import.meta.main) {
  try {
    const { values: v } = parseArgs({
      args: Deno.args,
      options: {
        run: { type: "string" },
        port: { type: "string" },
        host: { type: "string" },
        help: { type: "boolean" },
      },
    });
    if (v.help) {
      console.log(USAGE);
    } else {
      const port = v.port === undefined ? undefined : Number(v.port);
      if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port < 65536)) {
        throw new Error(`--port ${v.port}: expected an integer 0-65535\n${USAGE}`);
      }
      await serve({ run: v.run, port, host: v.host });
    }
  } catch (err) {
    console.error(`serve: ${(err as Error).message}`);
    Deno.exit(1);
  }
}
