import assert from "node:assert/strict";
import { join } from "node:path";
import { buildSite, runInfo } from "../../lib/serve/site.ts";
import { siteHandler } from "../../lib/cli/serve.ts";
import { exportSite } from "../../lib/cli/export.ts";
import { projectPath } from "../../lib/util/project.ts";
import { decisionThreshold } from "../../lib/eval/decision.ts";

const REFERENCE = projectPath("outputs/reference");

Deno.test("the site of the reference run (an ensemble): page, vendor bundles, every member's model, run.json", async () => {
  const site = await buildSite(REFERENCE);
  const members = ["f-strong", "f-strong-clahe", "f-strong-std"];
  for (
    const k of [
      "index.html",
      "app.js",
      "style.css",
      "run.json",
      ...members.flatMap((
        m,
      ) => [`members/${m}/model/model.json`, `members/${m}/model/weights.bin`]),
    ]
  ) {
    assert.ok(site.has(k), k);
  }
  assert.ok(!site.has("model/model.json"), "an ensemble folder has no model of its own");
  assert.ok([...site.keys()].some((k) => k === "vendor/tf-backend-wasm.min.js"));
  assert.ok([...site.keys()].every((k) => !k.includes("..") && !k.startsWith("/")));
  const info = await runInfo(REFERENCE);
  assert.equal(info.preprocessing.size, 128);
  assert.deepEqual(
    info.members?.map((m) => [m.name, m.model, m.preprocessing.intensity]),
    [
      ["f-strong", "members/f-strong/model/model.json", "none"],
      ["f-strong-clahe", "members/f-strong-clahe/model/model.json", "clahe"],
      ["f-strong-std", "members/f-strong-std/model/model.json", "standardize"],
    ],
  );
  assert.equal(info.decision.source, "run");
  const stored = JSON.parse(await Deno.readTextFile(join(REFERENCE, "threshold.json"))).threshold;
  assert.ok(
    info.decision.words.startsWith(
      `Threshold ${stored.toFixed(3)}, chosen on the validation images`,
    ),
    info.decision.words,
  );
  assert.equal(info.ood?.features.dim, 128);
  // The page references only files of the site.
  const html = new TextDecoder().decode(await Deno.readFile(site.get("index.html")!.file!));
  for (const m of html.matchAll(/(?:src|href)="([^"]+)"/g)) {
    assert.ok(site.has(m[1]), `index.html -> ${m[1]}`);
  }
  assert.ok(!/https?:\/\//.test(html), "no absolute URL in the page");
});

Deno.test("the server answers only GET/HEAD of the site's paths: no traversal, no upload", async () => {
  const handler = siteHandler(await buildSite(REFERENCE));
  const get = (path: string, init?: RequestInit) =>
    handler(new Request(`http://127.0.0.1${path}`, init));
  assert.equal((await get("/")).status, 200);
  assert.match((await get("/")).headers.get("content-type")!, /text\/html/);
  assert.equal((await get("/run.json")).status, 200);
  const head = await get("/members/f-strong/model/weights.bin", { method: "HEAD" });
  assert.equal(head.status, 200);
  assert.equal(await head.text(), "");
  for (
    const p of [
      "/../deno.json",
      "/%2e%2e/deno.json",
      "/vendor/..%2F..%2Fdeno.json",
      "/members/f-strong/model/..%2F..%2Fconfig.json",
      "/members/f-strong/config.json",
      "/model/model.json",
      "/model/%2e%2e/threshold.json",
      "/..%5c..%5cdeno.json",
      "//etc/passwd",
      "/lib/serve/page/app.ts",
      "/node_modules/@tensorflow/tfjs-core/package.json",
      "/outputs/reference/threshold.json",
      "/model/",
      "/%00",
    ]
  ) {
    const r = await get(p);
    assert.ok(r.status === 404 || r.status === 400, `${p} gave ${r.status}`);
    await r.body?.cancel();
  }
  const post = await get("/", { method: "POST", body: new Uint8Array([1, 2, 3]) });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get("allow"), "GET, HEAD");
  await post.body?.cancel();
});

const netGranted =
  (await Deno.permissions.query({ name: "net", host: "127.0.0.1" })).state === "granted";
if (!netGranted) {
  console.log("serve task test ignored: needs --allow-net=127.0.0.1 (deno task test grants it)");
}

Deno.test({
  name: "deno task serve: listens on 127.0.0.1 with its narrow permissions and refuses traversal",
  ignore: !netGranted,
  fn: async () => {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["task", "-q", "serve", "--port", "0"],
      cwd: projectPath("."),
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    try {
      const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let text = "";
      while (!/http:\/\/\S+\//.test(text)) {
        const { value, done } = await reader.read();
        if (done) break;
        text += value;
      }
      reader.releaseLock();
      const url = /http:\/\/(\S+)\//.exec(text)?.[0] ?? "";
      assert.ok(url?.startsWith("http://127.0.0.1:"), `serve printed: ${text}`);
      const ok = await fetch(url + "run.json");
      assert.equal(ok.status, 200);
      await ok.body?.cancel();
      // A raw request line, so that no client normalises the dots away.
      const port = Number(new URL(url).port);
      for (
        const target of ["/../deno.json", "/vendor/../../deno.json", "/%2e%2e/%2e%2e/deno.json"]
      ) {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port });
        await conn.write(
          new TextEncoder().encode(
            `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
          ),
        );
        const buf = new Uint8Array(4096);
        const n = await conn.read(buf) ?? 0;
        conn.close();
        const reply = new TextDecoder().decode(buf.subarray(0, n));
        assert.match(reply, /^HTTP\/1\.1 (404|400)/, `${target}: ${reply.split("\r\n")[0]}`);
        assert.ok(!reply.includes('"tasks"'), `${target} leaked deno.json`);
      }
    } finally {
      child.kill("SIGTERM");
      await child.status;
      await child.stderr.cancel();
    }
  },
});

Deno.test("serve refuses another host without the permission, naming the command to run", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "-q", "serve", "--host", "0.0.0.0", "--port", "0"],
    cwd: projectPath("."),
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 1);
  assert.match(
    new TextDecoder().decode(out.stderr),
    /not allowed to listen on 0\.0\.0\.0.*--allow-net=0\.0\.0\.0/,
  );
});

Deno.test("export writes the same files as a static folder", async () => {
  const out = await Deno.makeTempDir({ prefix: "export_test_" });
  try {
    const written = await exportSite(REFERENCE, out);
    const site = await buildSite(REFERENCE);
    assert.deepEqual(written.sort(), [...site.keys()].sort());
    for (
      const k of [
        "index.html",
        "vendor/tfjs-backend-wasm-simd.wasm",
        "members/f-strong-clahe/model/weights.bin",
      ]
    ) {
      const a = await Deno.readFile(join(out, k)), b = await Deno.readFile(site.get(k)!.file!);
      assert.deepEqual(a, b, k);
    }
    const info = JSON.parse(await Deno.readTextFile(join(out, "run.json")));
    const cfg = JSON.parse(await Deno.readTextFile(join(REFERENCE, "config.json")));
    assert.equal(info.name, cfg.name);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("decision: a site threshold in calibration.json replaces the run's, in words", () => {
  const stored = {
    threshold: 0.5,
    targetSensitivity: 0.95,
    atThreshold: { sensitivity: 0.96, specificity: 0.9 },
  };
  const run = decisionThreshold(stored, null);
  assert.equal(run.source, "run");
  assert.match(
    run.words,
    /called 96\.0% of pneumonia films PNEUMONIA \(missing 4\.0%\) and 10\.0% of normal/,
  );
  const site = decisionThreshold(stored, {
    site: {
      threshold: 0.7,
      policy: "sensitivity >= 0.95",
      siteDir: "x",
      sample: { n: 80, positives: 50 },
      sensitivity: 0.95,
      specificity: 0.8,
      restImages: 180,
      created: "",
    },
  });
  assert.deepEqual([site.threshold, site.source], [0.7, "site"]);
  assert.match(site.words, /re-picked on 80 labelled images.*180 images.*20\.0% of normal/);
});

/** Runs `deno bundle` as `deno task build-page` does, from `entry` to `out`. */
function bundle(entry: string, out: string): Promise<Deno.CommandOutput> {
  return new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", "--platform", "browser", "--format", "iife", "-o", out, entry],
    cwd: projectPath("."),
    stdout: "piped",
    stderr: "piped",
  }).output();
}

/**
 * Whether `deno bundle` works here at all: it fetches esbuild from npm the first time, which an
 * offline machine without a cache cannot. Probed on a one-line module, so that a failure to bundle
 * app.ts itself (a compile error) fails the test below instead of skipping it.
 */
async function bundlerProblem(): Promise<string | null> {
  const dir = await Deno.makeTempDir({ prefix: "bundle_probe_" });
  try {
    await Deno.writeTextFile(join(dir, "probe.ts"), "export const x: number = 1;\n");
    const out = await bundle(join(dir, "probe.ts"), join(dir, "probe.js"));
    return out.code === 0 ? null : new TextDecoder().decode(out.stderr).trim();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
const noBundler = await bundlerProblem();
if (noBundler) console.log(`bundle test ignored: deno bundle cannot run here (${noBundler})`);

Deno.test({
  name: "app.js is the current bundle of app.ts (deno task build-page)",
  ignore: noBundler !== null,
  fn: async () => {
    const tmp = await Deno.makeTempDir({ prefix: "bundle_test_" });
    try {
      const out = await bundle("lib/serve/page/app.ts", join(tmp, "app.js"));
      assert.equal(
        out.code,
        0,
        `deno bundle lib/serve/page/app.ts failed: ${new TextDecoder().decode(out.stderr)}`,
      );
      // The bundler names each module by its path, which passes through a symlinked node_modules
      // (e.g. a git worktree's) as ../../x/node_modules/: compare from node_modules/ on.
      const norm = (js: string) =>
        js.replace(/(?:\.\.\/)+[\w.-]+\/node_modules\//g, "node_modules/");
      const fresh = norm(await Deno.readTextFile(join(tmp, "app.js")));
      const committed = norm(await Deno.readTextFile(projectPath("lib/serve/page/app.js")));
      assert.ok(fresh === committed, "lib/serve/page/app.js is stale: run deno task build-page");
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
