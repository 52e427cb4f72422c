/**
 * bench/permissions.ts under the permissions deno.json gives `deno task bench` and `gpu-check`
 * (write only under outputs/, run only the project's Deno): a subprocess with exactly those flags
 * finds a Deno it may start (and starts it), accepts a result file under outputs/ and refuses one
 * elsewhere with a usage error that names the flag.
 */
import assert from "node:assert/strict";
import { realpathSync } from "node:fs";
import { PROJECT_DENO } from "../../bench/permissions.ts";
import { PROJECT_ROOT } from "../../lib/util/project.ts";

const SCRIPT = `
import { denoExecutable, requireWritable } from "${
  new URL("../../bench/permissions.ts", import.meta.url).href
}";
const r = {};
try {
  const deno = await denoExecutable("bench");
  const v = await new Deno.Command(deno, { args: ["--version"], stdout: "null" }).output();
  r.deno = { path: deno, ran: v.success };
} catch (e) { r.deno = { error: e.message }; }
for (const [k, p] of [["inside", "outputs/bench/x.json"], ["outside", "/tmp/x.json"]]) {
  try { await requireWritable("out", p); r[k] = "ok"; } catch (e) { r[k] = e.constructor.name + ": " + e.message; }
}
console.log(JSON.stringify(r));
`;

const TASKS: Record<string, string> = JSON.parse(
  await Deno.readTextFile(new URL("../../deno.json", import.meta.url)),
).tasks;

for (const task of ["bench", "gpu-check"]) {
  Deno.test(`deno task ${task}'s permissions start its subprocesses and refuse writes elsewhere`, async () => {
    const flags = TASKS[task].split(/\s+/).filter((w) => w.startsWith("--allow-"));
    assert.ok(flags.includes("--allow-write=outputs"), TASKS[task]);
    // `deno eval` would grant everything: the script runs from a file, with the task's flags.
    const script = await Deno.makeTempFile({ suffix: ".ts" });
    await Deno.writeTextFile(script, SCRIPT.replace('"bench"', JSON.stringify(task)));
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", ...flags, script],
      cwd: PROJECT_ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output().finally(() => Deno.remove(script));
    const stderr = new TextDecoder().decode(out.stderr);
    assert.ok(out.success, stderr);
    const r = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!);
    if (realpathSync(Deno.execPath()) === realpathSync(PROJECT_DENO)) {
      assert.equal(r.deno.ran, true, JSON.stringify(r));
    } else {
      // Another Deno runs the tests: the task refuses to start, saying how to run it.
      assert.match(r.deno.error, new RegExp(`node_modules/deno/deno task ${task}`));
    }
    assert.equal(r.inside, "ok");
    assert.match(
      r.outside,
      /^UsageError: --out \/tmp\/x\.json: this task may write only under outputs\//,
    );
  });
}
