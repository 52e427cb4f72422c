/**
 * Executes notebooks headless with Jupyter nbconvert and the Deno kernel, one after another,
 * and turns a failing cell into an error that names the notebook, the cell and the error.
 * @module
 */
import { basename, dirname, join, resolve } from "node:path";
import { PROJECT_ROOT } from "../util/project.ts";
import { PROJECT_ENV, REPORT_PID_ENV } from "./kernel.ts";

/** A notebook cell as stored in .ipynb JSON. */
export interface NotebookCell {
  cell_type: "code" | "markdown" | "raw";
  source: string | string[];
  outputs?: NotebookOutput[];
  metadata?: Record<string, unknown>;
  execution_count?: number | null;
}

/** One output of a code cell. */
export interface NotebookOutput {
  output_type: "stream" | "display_data" | "execute_result" | "error";
  data?: Record<string, string | string[]>;
  text?: string | string[];
  name?: string;
  ename?: string;
  evalue?: string;
  traceback?: string[];
}

/** An .ipynb document (nbformat 4). */
export interface Notebook {
  cells: NotebookCell[];
  metadata: Record<string, unknown>;
  nbformat: number;
  nbformat_minor: number;
}

/** A cell's source as one string. */
export function cellSource(cell: NotebookCell): string {
  return Array.isArray(cell.source) ? cell.source.join("") : cell.source;
}

/** Reads and checks an .ipynb file; errors name the file. */
export async function readNotebook(path: string): Promise<Notebook> {
  let nb: Notebook;
  try {
    nb = JSON.parse(await Deno.readTextFile(path));
  } catch (err) {
    throw new Error(`Cannot read notebook ${path}: ${(err as Error).message}`);
  }
  if (!Array.isArray(nb?.cells) || nb.nbformat !== 4) {
    throw new Error(`${path} is not an nbformat 4 notebook (expected {nbformat: 4, cells: [...]})`);
  }
  return nb;
}

/** The chapter notebooks of a folder: `NN_name.ipynb`, sorted by name. */
export async function listNotebooks(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile && /^\d+.*\.ipynb$/.test(e.name)) out.push(join(dir, e.name));
  }
  if (out.length === 0) throw new Error(`No notebooks (NN_name.ipynb) found in ${dir}`);
  return out.sort();
}

/** A notebook that failed: which one, which cell, and the error the kernel reported. */
export class NotebookError extends Error {
  constructor(
    readonly notebook: string,
    /** 1-based index among all cells, or null when the failure is not a cell's. */
    readonly cell: number | null,
    readonly cellSource: string,
    readonly detail: string,
  ) {
    const where = cell === null ? "" : ` cell ${cell}`;
    const src = cellSource ? ` (${cellSource.split("\n")[0].slice(0, 80)})` : "";
    super(`Notebook ${basename(notebook)}${where}${src} failed: ${detail}`);
  }
}

// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;

/**
 * Finds the failing cell in nbconvert's stderr (`CellExecutionError: An error occurred while
 * executing the following cell: ---- SOURCE ---- ERROR`) and the cell's number in `nb`.
 */
export function parseCellError(
  stderr: string,
  nb: Notebook | null,
): { cell: number | null; source: string; detail: string } {
  const text = stderr.replace(ANSI, "");
  const m = text.match(
    /An error occurred while executing the following cell:\n-{10,}\n([\s\S]*?)\n-{10,}\n([\s\S]*)$/,
  );
  if (!m) {
    const lines = text.split("\n").filter((l) =>
      l.trim() && !/Debugger warning|frozen|PYDEVD|pydevd/.test(l)
    );
    const timeout = lines.find((l) => /TimeoutError|timed out/i.test(l));
    return { cell: null, source: "", detail: timeout ?? lines.slice(-3).join(" | ") ?? "unknown" };
  }
  const source = m[1];
  const detail = m[2].split("\n").map((l) => l.trim()).filter(Boolean).slice(0, 3).join(" | ");
  let cell: number | null = null;
  if (nb) {
    const i = nb.cells.findIndex((c) =>
      c.cell_type === "code" && cellSource(c).trim() === source.trim()
    );
    if (i >= 0) cell = i + 1;
  }
  return { cell, source, detail };
}

/** Options of {@link executeNotebook}. */
export interface ExecuteOptions {
  /** Folder that receives the executed notebook (same file name). */
  outDir: string;
  /** Extra environment variables for the kernel (the report settings). */
  env?: Record<string, string>;
  /** Per-cell timeout in seconds. */
  cellTimeoutS: number;
  /** Kernel name (default "deno"). */
  kernel?: string;
  /** Called with each stderr line of nbconvert (progress). */
  onLine?: (line: string) => void;
  /**
   * The notebook to execute in place of the file's content (the copy with injected parameters);
   * it runs from the file's folder, so its relative imports resolve as the file's would.
   */
  notebook?: Notebook;
}

/**
 * Executes `path` with `jupyter nbconvert --execute` and writes the executed copy to
 * `outDir/<name>.ipynb`. Throws {@link NotebookError} naming the failing cell.
 */
export async function executeNotebook(path: string, opts: ExecuteOptions): Promise<string> {
  const name = basename(path);
  const outPath = join(opts.outDir, name);
  await Deno.mkdir(opts.outDir, { recursive: true });
  const args = [
    "nbconvert",
    "--to",
    "notebook",
    "--execute",
    `--ExecutePreprocessor.kernel_name=${opts.kernel ?? "deno"}`,
    `--ExecutePreprocessor.timeout=${Math.round(opts.cellTimeoutS)}`,
    "--output-dir",
    resolve(opts.outDir),
    "--output",
    name,
    // From stdin, nbconvert starts the kernel in its own working directory: the notebook's folder.
    ...(opts.notebook ? ["--stdin"] : [path]),
  ];
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("jupyter", {
      args,
      cwd: opts.notebook ? dirname(resolve(path)) : undefined,
      env: {
        // The kernel runs this checkout's Deno and ends with this process (lib/report/kernel.ts).
        [PROJECT_ENV]: PROJECT_ROOT,
        [REPORT_PID_ENV]: String(Deno.pid),
        ...opts.env,
        PYDEVD_DISABLE_FILE_VALIDATION: "1",
      },
      stdin: opts.notebook ? "piped" : "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (err) {
    throw new NotebookError(
      path,
      null,
      "",
      `cannot start jupyter (${(err as Error).message}); install it with ` +
        "`apt-get install jupyter-nbconvert jupyter-client` and the kernel with .ci/setup",
    );
  }
  const feed = async (nb: Notebook) => {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(JSON.stringify(nb)));
    await w.close();
  };
  const [out, err, status] = await Promise.all([
    new Response(child.stdout).text(),
    readLines(child.stderr, opts.onLine),
    child.status,
    // A jupyter that exits before reading stdin is reported by its status and stderr below.
    opts.notebook ? feed(opts.notebook).catch(() => {}) : null,
  ]);
  if (!status.success) {
    const nb = await readNotebook(path).catch(() => null);
    const parsed = parseCellError(err || out, nb);
    throw new NotebookError(path, parsed.cell, parsed.source, parsed.detail);
  }
  return outPath;
}

async function readLines(stream: ReadableStream<Uint8Array>, onLine?: (l: string) => void) {
  let all = "";
  let buf = "";
  const dec = new TextDecoder();
  for await (const chunk of stream) {
    const s = dec.decode(chunk, { stream: true });
    all += s;
    buf += s;
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      onLine?.(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  }
  if (buf) onLine?.(buf);
  return all;
}
