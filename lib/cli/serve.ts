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
import { projectPath } from "../util/project.ts";
import { buildSite, siteBytes, type SiteFile } from "../serve/site.ts";
import { type CliSpec, helpText, parseCli, runCli } from "./_args.ts";

/** The serve command's flags. */
export const SERVE_CLI = {
  name: "serve",
  synopsis: ["[--run DIR] [--port N] [--host H]"],
  about: "Serves the offline screening page of a run; the model runs in the browser, and no " +
    "image is sent to the server.",
  flags: {
    run: { type: "string", arg: "DIR", help: "run folder (default outputs/reference)" },
    port: {
      type: "number",
      arg: "N",
      integer: true,
      min: 0,
      default: 8787,
      help: "port (0: any free port)",
    },
    host: { type: "string", arg: "H", default: "127.0.0.1", help: "address to listen on" },
  },
} as const satisfies CliSpec;

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

/** Runs the serve command with `args` until the server stops. */
export async function main(args: string[]): Promise<number> {
  const { values: v, help } = parseCli(SERVE_CLI, args);
  if (help) {
    console.log(helpText(SERVE_CLI));
    return 0;
  }
  if (v.port > 65535) throw new Error(`--port ${v.port}: expected 0-65535`);
  const server = await serve({ run: v.run, port: v.port, host: v.host });
  await server.finished;
  return 0;
}

if (import.meta.main) await runCli("serve", () => main(Deno.args), SERVE_CLI);
