/**
 * What the benchmark tasks may do, checked before they start: `deno task bench` and
 * `deno task gpu-check` write only under `outputs/` and run only the project's Deno (one
 * subprocess per measurement), as deno.json declares. Deno matches `--allow-run=PATH` against the
 * path a program is started by, without resolving links, so the subprocess is started by the
 * project's `node_modules/deno/deno` when that is the same binary as this process and only it is
 * allowed (a checkout whose `node_modules` is a link, such as a git worktree).
 * @module
 */
import { realpathSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { UsageError } from "../lib/cli/_args.ts";
import { projectPath } from "../lib/util/project.ts";

/** The Deno the project pins (npm package `deno`). */
export const PROJECT_DENO = projectPath("node_modules/deno/deno");

/** The script of each benchmark task that starts Deno subprocesses. */
const BENCH_SCRIPTS: Record<string, string> = {
  bench: "main",
  "gpu-check": "gpu_check",
  "bench-scale": "scale",
};

/** Where the benchmarks keep their temporary folders (under `outputs/`, which they may write). */
export const BENCH_TMP = projectPath("outputs/tmp");

function realpath(path: string): string | null {
  try {
    return realpathSync(path);
  } catch {
    return null;
  }
}

const granted = async (d: Deno.PermissionDescriptor) =>
  (await Deno.permissions.query(d)).state === "granted";

/**
 * The path to start a Deno subprocess by: this process's own binary when it may be run, else the
 * project's `node_modules/deno/deno` when it is the same binary and may be run; otherwise an
 * error that says how to run the task.
 */
export async function denoExecutable(task: string): Promise<string> {
  const self = Deno.execPath();
  if (await granted({ name: "run", command: self })) return self;
  if (
    realpath(PROJECT_DENO) === realpath(self) &&
    await granted({ name: "run", command: PROJECT_DENO })
  ) {
    return PROJECT_DENO;
  }
  throw new Error(
    `each measurement runs in a Deno subprocess, and this task may run only the project's Deno ` +
      `(${PROJECT_DENO}, deno.json); this is ${self}. Run node_modules/deno/deno task ${task}, ` +
      `or grant it: deno run -A bench/${BENCH_SCRIPTS[task] ?? task}.ts`,
  );
}

/** A usage error unless this process may write `path` (a result file named by `flag`). */
export async function requireWritable(flag: string, path: string): Promise<void> {
  const dir = dirname(resolve(path));
  if (!await granted({ name: "write", path: dir })) {
    throw new UsageError(
      `--${flag} ${path}: this task may write only under outputs/ (deno.json); ` +
        "give a path there",
    );
  }
}

/** A fresh temporary folder under `outputs/tmp/` (the caller removes it). */
export async function benchTempDir(prefix: string): Promise<string> {
  await Deno.mkdir(BENCH_TMP, { recursive: true });
  return await Deno.makeTempDir({ dir: BENCH_TMP, prefix });
}
