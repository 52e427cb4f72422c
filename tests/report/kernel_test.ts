/**
 * The project's kernelspec (lib/report/kernel.ts): its launcher finds the checkout's Deno from
 * the notebook's folder or XRAY_PROJECT, says clearly when there is none, and ends the kernel when
 * the report is gone, also after `kill -9` of a report in the middle of a cell.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { hasDenoKernel } from "./_kernel.ts";
import { alive, exeOf, parentOf } from "../util/_procs.ts";
import {
  kernelSpec,
  PROJECT_ENV,
  REPORT_PID_ENV,
  writeKernelSpec,
} from "../../lib/report/kernel.ts";

const root = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

/** A fake checkout whose `deno` prints its arguments, then runs `then` (default: exits). */
async function fakeCheckout(then = "exit 0"): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "xray-kernel-" });
  await Deno.mkdir(join(dir, "node_modules/deno"), { recursive: true });
  await Deno.mkdir(join(dir, "notebooks"));
  await Deno.writeTextFile(join(dir, "deno.json"), "{}");
  const deno = join(dir, "node_modules/deno/deno");
  await Deno.writeTextFile(deno, `#!/bin/sh\necho "ran $0 $* pid $$"\n${then}\n`);
  await Deno.chmod(deno, 0o755);
  return dir;
}

/** Runs the kernelspec's argv as jupyter_client would (connection file substituted). */
function launch(cwd: string, env: Record<string, string>, stdout: "piped" | "null" = "piped") {
  const argv = kernelSpec().argv.map((a) => a.replace("{connection_file}", "/tmp/conn.json"));
  return new Deno.Command(argv[0], {
    args: argv.slice(1),
    cwd,
    env: { PATH: "/usr/bin:/bin", ...env },
    clearEnv: true,
    stdout,
    stderr: "piped",
  });
}

const dec = (b: Uint8Array) => new TextDecoder().decode(b);

Deno.test("kernel launcher: the checkout above the notebook's folder runs its own deno", async () => {
  const a = await fakeCheckout(), b = await fakeCheckout();
  try {
    const r = await launch(join(a, "notebooks"), {}).output();
    assert.equal(r.code, 0, dec(r.stderr));
    assert.match(
      dec(r.stdout),
      new RegExp(`^ran ${a}/node_modules/deno/deno jupyter --kernel --conn /tmp/conn.json`),
    );
    // XRAY_PROJECT (set by the report runner) wins over the folder.
    const r2 = await launch(join(a, "notebooks"), { [PROJECT_ENV]: b }).output();
    assert.match(dec(r2.stdout), new RegExp(`^ran ${b}/node_modules/deno/deno jupyter`));
  } finally {
    await Deno.remove(a, { recursive: true });
    await Deno.remove(b, { recursive: true });
  }
});

Deno.test("kernel launcher: outside a checkout, without deno on PATH, a clear error", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // /usr/bin has no deno on this machine's PATH for the test; say so if that changes.
    const hasDeno = await new Deno.Command("sh", {
      args: ["-c", "command -v deno"],
      env: { PATH: "/usr/bin:/bin" },
      clearEnv: true,
    }).output();
    if (hasDeno.success) return console.log("skipped: deno on /usr/bin:/bin");
    const r = await launch(dir, {}).output();
    assert.equal(r.code, 1);
    assert.match(
      dec(r.stderr),
      /no project checkout \(a folder with deno.json and node_modules\/deno\/deno\) above/,
    );
    assert.match(dec(r.stderr), /\.ci\/setup/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

async function until(cond: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return cond();
}

Deno.test("kernel launcher: the kernel ends within seconds once the report (XRAY_REPORT_PID) is gone", async () => {
  // The fake deno keeps the launcher's pid (exec) and sleeps like a kernel waiting for a cell.
  const dir = await fakeCheckout("exec sleep 60");
  const report = new Deno.Command("sleep", { args: ["60"] }).spawn();
  try {
    const kernel = launch(join(dir, "notebooks"), { [REPORT_PID_ENV]: String(report.pid) }, "null")
      .spawn();
    assert.ok(await until(() => alive(kernel.pid), 2000));
    await new Promise((r) => setTimeout(r, 1500));
    assert.ok(await alive(kernel.pid), "the kernel lives while the report does");
    report.kill("SIGKILL");
    await report.status;
    const status = await Promise.race([
      kernel.status,
      new Promise<null>((r) => setTimeout(() => r(null), 8000)),
    ]);
    assert.ok(status, "the kernel was still running 8 s after the report died");
    assert.equal(status.success, false);
    await kernel.stderr.cancel();
  } finally {
    try {
      report.kill("SIGKILL");
    } catch { /* already gone */ }
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "a report killed with kill -9 in the middle of a cell leaves no kernel running",
  ignore: !(await hasDenoKernel()),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "xray-kill-" });
    const kernels = join(dir, "jupyter");
    try {
      // The project's kernelspec under a name of its own, found first through JUPYTER_PATH: the
      // user's installed kernels are left alone.
      await writeKernelSpec(join(kernels, "kernels", "xray-test"));
      const pidFile = join(dir, "kernel.pid");
      const nb = {
        cells: [{
          cell_type: "code",
          source: `Deno.writeTextFileSync(${JSON.stringify(pidFile)}, String(Deno.pid));\n` +
            "await new Promise((r) => setTimeout(r, 120000));",
          outputs: [],
          metadata: {},
          execution_count: null,
        }],
        metadata: {
          kernelspec: { name: "xray-test", language: "typescript", display_name: "Deno" },
        },
        nbformat: 4,
        nbformat_minor: 4,
      };
      await Deno.writeTextFile(join(dir, "01_wait.ipynb"), JSON.stringify(nb));
      // The "report": a process that executes the notebook through the runner.
      const script = join(dir, "report.ts");
      await Deno.writeTextFile(
        script,
        `import { executeNotebook } from "${root}/lib/report/runner.ts";\n` +
          `await executeNotebook(${JSON.stringify(join(dir, "01_wait.ipynb"))}, ` +
          `{ outDir: ${
            JSON.stringify(join(dir, "out"))
          }, cellTimeoutS: 300, kernel: "xray-test" });\n`,
      );
      const report = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", script],
        env: { JUPYTER_PATH: kernels },
        stdout: "null",
        stderr: "null",
      }).spawn();
      const started = await until(async () => {
        try {
          return (await Deno.readTextFile(pidFile)).length > 0;
        } catch {
          return false;
        }
      }, 60000);
      if (!started) {
        report.kill("SIGKILL");
        await report.status;
        assert.fail("the kernel did not start within 60 s");
      }
      const kernelPid = Number(await Deno.readTextFile(pidFile));
      // It runs this checkout's deno, started by the launcher (exec keeps the pid).
      const exe = await exeOf(kernelPid);
      assert.equal(exe, await Deno.realPath(join(root, "node_modules/deno/deno")));
      const nbconvert = (await parentOf(kernelPid))!;
      report.kill("SIGKILL");
      await report.status;
      assert.ok(
        await until(async () => !(await alive(kernelPid)), 10000),
        `kernel ${kernelPid} still running 10 s after the report was killed`,
      );
      // nbconvert sees its kernel die and ends too.
      assert.ok(
        await until(async () => !(await alive(nbconvert)), 20000),
        `nbconvert ${nbconvert} still running 20 s after the report was killed`,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
