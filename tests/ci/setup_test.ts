/**
 * `.ci/setup` on a machine where Jupyter is only partly installed: Debian's jupyter-nbconvert
 * brings `jupyter` but not `jupyter kernelspec` (that is jupyter-client). Each case runs single
 * steps of the script (XRAY_SETUP_STEPS) with a PATH whose first folder holds stand-ins for
 * `jupyter`, `apt-get` and `id`, so no package is installed and nothing outside the temp dir changes.
 */
import assert from "node:assert/strict";

const assertEquals = (a: unknown, b: unknown, msg?: string) => assert.equal(a, b, msg);
const assertStringIncludes = (s: string, part: string) =>
  assert.ok(s.includes(part), `expected ${JSON.stringify(part)} in:\n${s}`);

const setup = new URL("../../.ci/setup", import.meta.url).pathname;
/**
 * Where a real `jupyter` (found through /bin on merged-usr Debian) would install kernelspecs: a
 * temp folder, never the user's own kernels.
 */
const jupyterData = await Deno.makeTempDir({ prefix: "xray-setup-jupyter-" });
globalThis.addEventListener("unload", () => Deno.removeSync(jupyterData, { recursive: true }));

/** A folder of executable stand-ins; `log` collects what they were called with. */
async function fakeBin(scripts: Record<string, string>): Promise<{ dir: string; log: string }> {
  const dir = await Deno.makeTempDir({ prefix: "xray-setup-" });
  const log = `${dir}/calls.log`;
  await Deno.writeTextFile(log, "");
  for (const [name, body] of Object.entries(scripts)) {
    await Deno.writeTextFile(`${dir}/${name}`, `#!/bin/sh\necho "${name} $*" >> ${log}\n${body}\n`);
    await Deno.chmod(`${dir}/${name}`, 0o755);
  }
  return { dir, log };
}

/** `jupyter` as jupyter-nbconvert alone installs it: every subcommand but nbconvert is missing. */
const partialJupyter = `case "$1" in
  nbconvert) exit 0 ;;
  *) echo "usage: jupyter [-h] [--version] [subcommand]"; echo "Jupyter command \\\`jupyter-$1\\\` not found." >&2; exit 1 ;;
esac`;

async function runSetup(steps: string, bin: string) {
  const out = await new Deno.Command("bash", {
    args: [setup],
    env: { PATH: `${bin}:/usr/bin:/bin`, XRAY_SETUP_STEPS: steps, JUPYTER_DATA_DIR: jupyterData },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stderr: dec.decode(out.stderr) + dec.decode(out.stdout) };
}

Deno.test("setup: missing 'jupyter kernelspec' as root is a named, failing step", async () => {
  const { dir } = await fakeBin({ jupyter: partialJupyter, id: "echo 0", "apt-get": "exit 0" });
  try {
    const r = await runSetup("jupyter", dir);
    assertEquals(r.code, 1, r.stderr);
    assertStringIncludes(r.stderr, "step 'jupyter kernel' failed");
    assertStringIncludes(r.stderr, "apt-get install jupyter-client");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("setup: missing 'jupyter kernelspec' without root is a note, not a silent exit", async () => {
  const { dir } = await fakeBin({ jupyter: partialJupyter, id: "echo 1000" });
  try {
    const r = await runSetup("jupyter", dir);
    assertEquals(r.code, 0, r.stderr);
    assertStringIncludes(r.stderr, "'jupyter kernelspec' is missing");
    assertStringIncludes(r.stderr, "jupyter-client");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("setup: the system step installs jupyter-client when kernelspec is missing", async () => {
  const { dir, log } = await fakeBin({
    jupyter: partialJupyter,
    id: "echo 0",
    "apt-get": "exit 0",
  });
  try {
    const r = await runSetup("system", dir);
    assertEquals(r.code, 0, r.stderr);
    const calls = await Deno.readTextFile(log);
    const install = calls.split("\n").find((l) =>
      l.startsWith("apt-get ") && l.includes("install")
    );
    assert.ok(install, `apt-get install was not called; calls:\n${calls}`);
    assertStringIncludes(install!, "jupyter-client");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("setup: a failing apt-get names the step and the packages", async () => {
  const { dir } = await fakeBin({ jupyter: partialJupyter, id: "echo 0", "apt-get": "exit 100" });
  try {
    const r = await runSetup("system", dir);
    assertEquals(r.code, 1, r.stderr);
    assertStringIncludes(r.stderr, "step 'system packages' failed");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("setup: the jupyter step with no jupyter at all says what to install", async () => {
  const { dir } = await fakeBin({ id: "echo 1000" });
  try {
    // A PATH without /usr/bin's jupyter: only the stand-ins and the shell's basics.
    const out = await new Deno.Command("bash", {
      args: [setup],
      env: { PATH: `${dir}:/bin`, XRAY_SETUP_STEPS: "jupyter", JUPYTER_DATA_DIR: jupyterData },
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(out.stderr);
    if (err.includes("jupyter is missing")) {
      assertEquals(out.code, 0, err);
      assertStringIncludes(err, "apt-get install jupyter-nbconvert jupyter-client");
    } else {
      // /bin is /usr/bin on merged-usr Debian, where the real jupyter is then on PATH.
      assertEquals(out.code, 0, err);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** `jupyter` with kernelspec: lists a "deno" spec in `spec` (when given), records installs. */
const kernelspecJupyter = (spec: string | null, installed: string) =>
  `case "$1 $2" in
  "kernelspec --version") echo 7.4.9 ;;
  "kernelspec list") echo "Available kernels:"; ${spec ? `echo "  deno    ${spec}"` : "true"} ;;
  "kernelspec install") for a in "$@"; do last=$a; done; cp "$last/kernel.json" ${installed} ;;
  *) exit 1 ;;
esac`;

Deno.test("setup: the jupyter step installs the project's kernelspec over one tied to a checkout", async () => {
  const { kernelSpec } = await import("../../lib/report/kernel.ts");
  const old = await Deno.makeTempDir();
  const installed = `${old}/installed.json`;
  // What `deno jupyter --install` wrote: one checkout's binary by absolute path.
  await Deno.writeTextFile(
    `${old}/kernel.json`,
    JSON.stringify({
      argv: ["/gone/node_modules/deno/deno", "jupyter", "--kernel", "--conn", "{connection_file}"],
    }),
  );
  const { dir, log } = await fakeBin({
    jupyter: kernelspecJupyter(old, installed),
    id: "echo 1000",
  });
  try {
    const r = await runSetup("jupyter", dir);
    assertEquals(r.code, 0, r.stderr);
    const calls = await Deno.readTextFile(log);
    assertStringIncludes(calls, "jupyter kernelspec install --user --replace --name deno ");
    assert.deepEqual(JSON.parse(await Deno.readTextFile(installed)), kernelSpec());
    // Installed already: nothing to do the second time.
    await Deno.writeTextFile(`${old}/kernel.json`, await Deno.readTextFile(installed));
    await Deno.writeTextFile(log, "");
    const again = await runSetup("jupyter", dir);
    assertEquals(again.code, 0, again.stderr);
    assert.ok(!(await Deno.readTextFile(log)).includes("install"), "no second install");
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(old, { recursive: true });
  }
});

Deno.test("setup: the jupyter step installs the kernelspec where none is", async () => {
  const tmp = await Deno.makeTempDir();
  const { dir, log } = await fakeBin({
    jupyter: kernelspecJupyter(null, `${tmp}/installed.json`),
    id: "echo 1000",
  });
  try {
    const r = await runSetup("jupyter", dir);
    assertEquals(r.code, 0, r.stderr);
    assertStringIncludes(
      await Deno.readTextFile(log),
      "kernelspec install --user --replace --name deno",
    );
    assertEquals(JSON.parse(await Deno.readTextFile(`${tmp}/installed.json`)).argv[0], "sh");
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(tmp, { recursive: true });
  }
});
