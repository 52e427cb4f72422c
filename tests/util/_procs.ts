/**
 * Process facts for tests that watch subprocesses (kernels, killed reports). Deno refuses reads
 * of /proc unless every permission is granted, and the test task grants fewer, so /proc is read
 * by `sh` (a subprocess is not bound by Deno's permissions; `--allow-run` lets the tests start
 * it). Linux only, like the tests that use it.
 * @module
 */

async function sh(script: string): Promise<string> {
  const out = await new Deno.Command("sh", { args: ["-c", script], stderr: "null" }).output();
  return new TextDecoder().decode(out.stdout);
}

/** `/proc/PID/stat` of every process, by pid (ended ones are left out). */
async function stats(pids = "[0-9]*"): Promise<Map<number, string>> {
  const text = await sh(`for f in /proc/${pids}/stat; do cat "$f" 2>/dev/null && echo; done`);
  const out = new Map<number, string>();
  for (const line of text.split("\n")) {
    const m = line.match(/^(\d+) \(/);
    if (m) out.set(Number(m[1]), line);
  }
  return out;
}

/** The parent pid in a `/proc/PID/stat` line (the command name may hold spaces). */
const ppidOf = (stat: string) => Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);

/** Whether `pid` runs (a zombie has ended). */
export async function alive(pid: number): Promise<boolean> {
  const stat = (await stats(String(pid))).get(pid);
  return stat !== undefined && !/^\d+ \(.*\) Z/.test(stat);
}

/** The parent of `pid`, or null when it has ended. */
export async function parentOf(pid: number): Promise<number | null> {
  const stat = (await stats(String(pid))).get(pid);
  return stat === undefined ? null : ppidOf(stat);
}

/** The program `pid` runs (`/proc/PID/exe`, links resolved), or "" when it has ended. */
export async function exeOf(pid: number): Promise<string> {
  return (await sh(`readlink -f /proc/${pid}/exe`)).trim();
}

/** Every process below `pid` (children, grandchildren, ...). */
export async function descendants(pid: number): Promise<number[]> {
  const parent = new Map<number, number>();
  for (const [p, stat] of await stats()) parent.set(p, ppidOf(stat));
  const out: number[] = [];
  const walk = (p: number) => {
    for (const [c, pp] of parent) if (pp === p) out.push(c), walk(c);
  };
  walk(pid);
  return out;
}
