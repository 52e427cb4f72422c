/**
 * The project's Jupyter kernelspec ("deno"). `deno jupyter --install` writes a kernelspec that
 * names one checkout's deno binary by absolute path: every other checkout's notebooks then run
 * with that checkout's Deno, and lose their kernel when it is deleted. This one runs a small
 * launcher ({@link KERNEL_LAUNCHER}, inline in kernel.json, so that no file of any checkout is
 * needed) that finds the binary at start:
 *
 * 1. `$XRAY_PROJECT/node_modules/deno/deno` when set (the report runner sets it to its checkout);
 * 2. else the first folder above the kernel's working directory (Jupyter starts kernels in the
 *    notebook's folder) that holds `deno.json` and `node_modules/deno/deno`;
 * 3. else `deno` on PATH (notebooks outside the project), said on stderr;
 * 4. else it exits 1 saying what it looked for.
 *
 * It also takes the kernel down with whoever started it: a watchdog polls, every second, the
 * process that launched the kernel (nbconvert or the Jupyter server) and `$XRAY_REPORT_PID` when
 * set (the report), and ends the kernel (TERM, then KILL after 3 s) once either is gone, so a
 * report killed with `kill -9` leaves no kernel behind.
 *
 * `.ci/setup` installs it: `deno run --allow-write=DIR lib/report/kernel.ts DIR` writes
 * `DIR/kernel.json`, then `jupyter kernelspec install --user --replace --name deno DIR`.
 * @module
 */
import { join } from "node:path";

/** The environment variable naming the checkout whose Deno the kernel runs. */
export const PROJECT_ENV = "XRAY_PROJECT";
/** The environment variable naming a process whose end ends the kernel (the report). */
export const REPORT_PID_ENV = "XRAY_REPORT_PID";

/**
 * The launcher: POSIX sh, run as `sh -c LAUNCHER xray-deno-kernel CONNECTION_FILE`. No
 * `{name}` of jupyter_client's argv templates appears in it (they would be substituted).
 */
export const KERNEL_LAUNCHER = `# Deno kernel of the pneumonia project (lib/report/kernel.ts)
bin=node_modules/deno/deno
find_root() {
  d=$PWD
  while :; do
    if [ -f "$d/deno.json" ] && [ -x "$d/$bin" ]; then echo "$d"; return 0; fi
    [ "$d" = / ] && return 1
    d=$(dirname "$d")
  done
}
if [ -n "\${${PROJECT_ENV}:-}" ] && [ -x "$${PROJECT_ENV}/$bin" ]; then
  deno=$${PROJECT_ENV}/$bin
elif root=$(find_root); then
  deno=$root/$bin
elif command -v deno >/dev/null 2>&1; then
  deno=$(command -v deno)
  echo "deno kernel: no project checkout above $PWD; using $deno from PATH" >&2
else
  echo "deno kernel: no project checkout (a folder with deno.json and $bin) above $PWD," \\
    "${PROJECT_ENV} unset and no deno on PATH: open the notebook from a checkout where" \\
    ".ci/setup ran" >&2
  exit 1
fi
me=$$
parent=$PPID
report=\${${REPORT_PID_ENV}:-}
(
  while kill -0 "$me" 2>/dev/null; do
    if ! kill -0 "$parent" 2>/dev/null ||
      { [ -n "$report" ] && ! kill -0 "$report" 2>/dev/null; }; then
      kill -TERM "$me" 2>/dev/null
      for _ in 1 2 3; do
        kill -0 "$me" 2>/dev/null || exit 0
        sleep 1
      done
      kill -KILL "$me" 2>/dev/null
      exit 0
    fi
    sleep 1
  done
) </dev/null >/dev/null 2>&1 &
exec "$deno" jupyter --kernel --conn "$1"
`;

/** The kernelspec (kernel.json) of the project's Deno kernel. */
export function kernelSpec(): {
  argv: string[];
  display_name: string;
  language: string;
  metadata: Record<string, unknown>;
} {
  return {
    argv: ["sh", "-c", KERNEL_LAUNCHER, "xray-deno-kernel", "{connection_file}"],
    display_name: "Deno",
    language: "typescript",
    metadata: { launcher: "lib/report/kernel.ts: the checkout's node_modules/deno/deno" },
  };
}

/** Writes `dir/kernel.json`. */
export async function writeKernelSpec(dir: string): Promise<string> {
  await Deno.mkdir(dir, { recursive: true });
  const path = join(dir, "kernel.json");
  await Deno.writeTextFile(path, JSON.stringify(kernelSpec(), null, 2) + "\n");
  return path;
}

if (import.meta.main) {
  const dir = Deno.args[0];
  if (!dir) {
    console.error(
      "usage: deno run --allow-write=DIR lib/report/kernel.ts DIR (writes DIR/kernel.json)",
    );
    Deno.exit(2);
  }
  console.log(await writeKernelSpec(dir));
}
