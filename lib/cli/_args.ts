/**
 * The argument helper every command line uses: each flag declared once with its type, default,
 * allowed values and help line; `--help` text made from the declarations; parsed values typed
 * and checked, a bad one an error that names the flag. Parsing itself is `node:util` parseArgs
 * (strict: an unknown flag is an error); this module adds typed numbers, choices and help.
 *
 * @example
 * ```ts
 * import { parseCli, runCli } from "./_args.ts";
 * const SPEC = {
 *   name: "demo",
 *   synopsis: ["[--size N] FILE..."],
 *   about: "Prints the files.",
 *   positionals: "FILE...",
 *   flags: {
 *     size: { type: "number", arg: "N", integer: true, min: 1, default: 64, help: "image side" },
 *     json: { type: "boolean", help: "print JSON" },
 *   },
 * } as const;
 * await runCli(SPEC.name, () => {
 *   const { values, positionals } = parseCli(SPEC, ["--size", "32", "a.png"]);
 *   console.log(values.size + 1, values.json, positionals);
 * });
 * ```
 * @module
 */
import { parseArgs } from "node:util";

/** A flag that takes a string (optionally one of `choices`). */
export interface StringFlag {
  type: "string";
  help: string;
  /** Placeholder in the help text (default "VALUE"). */
  arg?: string;
  default?: string;
  /** The default as the help text shows it (e.g. a path relative to the project). */
  shownDefault?: string;
  choices?: readonly string[];
  /** Repeatable: the values in the order given (an empty list when absent). */
  multiple?: boolean;
}

/** A flag that takes a number (checked finite; optionally an integer, at least `min`). */
export interface NumberFlag {
  type: "number";
  help: string;
  arg?: string;
  default?: number;
  integer?: boolean;
  min?: number;
}

/** A flag without a value (false when absent). */
export interface BooleanFlag {
  type: "boolean";
  help: string;
  /** One-letter alias (e.g. "h"). */
  short?: string;
}

/** Any flag. */
export type Flag = StringFlag | NumberFlag | BooleanFlag;

/** A command line: its name (`deno task NAME`), synopsis lines, a sentence, and its flags. */
export interface CliSpec {
  name: string;
  /** How the command is started (default `deno task NAME`). */
  command?: string;
  /** Synopsis lines without `deno task NAME` (e.g. `"[--run DIR] FILE... [--json]"`). */
  synopsis: readonly string[];
  /** What the command does, for the help text. */
  about?: string;
  flags: Readonly<Record<string, Flag>>;
  /** Name of the positional arguments when the command takes any (e.g. "FILE..."). */
  positionals?: string;
}

type StringOf<F> = F extends { choices: readonly (infer C)[] } ? C : string;
type ValueOf<F extends Flag> = F extends BooleanFlag ? boolean
  : F extends { multiple: true } ? StringOf<F>[]
  : F extends NumberFlag ? (F extends { default: number } ? number : number | undefined)
  : F extends { default: string } ? StringOf<F>
  : StringOf<F> | undefined;

/** Parsed values, typed from the flags' declarations. */
export type Values<S extends CliSpec> = {
  -readonly [K in keyof S["flags"]]: ValueOf<S["flags"][K]>;
};

/** A bad command line (unknown flag, bad value, missing argument): exit status 2. */
export class UsageError extends Error {}

/** The synopsis of a command, `usage: deno task NAME ...` (one line per form). */
export function usage(spec: CliSpec): string {
  return spec.synopsis
    .map((s, i) =>
      `${i === 0 ? "usage:" : "      "} ${spec.command ?? `deno task ${spec.name}`} ${s}`
    )
    .join("\n");
}

/** The `--help` text: synopsis, what the command does, then one line per flag with its default. */
export function helpText(spec: CliSpec): string {
  const rows = Object.entries(spec.flags).map(([name, f]) => {
    const left = `${f.type === "boolean" && f.short ? `-${f.short}, ` : ""}--${name}` +
      (f.type === "boolean" ? "" : ` ${f.arg ?? "VALUE"}`);
    const extra = [
      f.type === "string" && f.choices ? `one of ${f.choices.join(", ")}` : "",
      f.type === "string" && f.multiple ? "repeatable" : "",
      f.type !== "boolean" && f.default !== undefined
        ? `default ${f.type === "string" ? f.shownDefault ?? f.default : f.default}`
        : "",
    ].filter(Boolean).join("; ");
    return [left, extra ? `${f.help} (${extra})` : f.help];
  });
  rows.push(["-h, --help", "print this help"]);
  const w = Math.max(...rows.map(([l]) => l.length)) + 2;
  return [
    usage(spec),
    ...(spec.about ? ["", spec.about] : []),
    "",
    "flags:",
    ...rows.map(([l, r]) => `  ${l.padEnd(w)}${r}`),
  ].join("\n");
}

function convert(name: string, f: Flag, raw: string | string[] | boolean | undefined): unknown {
  if (f.type === "boolean") return raw === true;
  if (f.type === "string" && f.multiple) {
    return ((raw ?? []) as string[]).map((v) => convert(name, { ...f, multiple: false }, v));
  }
  if (raw === undefined) return f.default;
  const v = raw as string;
  if (f.type === "string") {
    if (f.choices && !f.choices.includes(v)) {
      throw new UsageError(`--${name} must be one of ${f.choices.join(", ")}, got "${v}"`);
    }
    return v;
  }
  const n = v.trim() === "" ? NaN : Number(v);
  if (f.integer && !(Number.isInteger(n) && n >= (f.min ?? -Infinity))) {
    const bound = f.min === undefined ? "" : ` >= ${f.min}`;
    throw new UsageError(`--${name} must be an integer${bound}, got "${v}"`);
  }
  if (!Number.isFinite(n)) throw new UsageError(`--${name} expects a number, got "${v}"`);
  if (f.min !== undefined && n < f.min) {
    throw new UsageError(`--${name} must be >= ${f.min}, got "${v}"`);
  }
  return n;
}

/**
 * Parses `args` against `spec`: typed values, the positional arguments, whether `--help` was
 * given, and the flags written on the command line (`given`, to tell a default from a choice).
 * Throws a {@link UsageError} naming the flag for an unknown flag, a missing or bad value, or
 * positional arguments the command does not take.
 */
export function parseCli<S extends CliSpec>(
  spec: S,
  args: string[],
): { values: Values<S>; positionals: string[]; help: boolean; given: ReadonlySet<string> } {
  const options: Record<
    string,
    { type: "string" | "boolean"; short?: string; multiple?: boolean }
  > = {
    help: { type: "boolean", short: "h" },
  };
  for (const [name, f] of Object.entries(spec.flags)) {
    options[name] = f.type === "boolean"
      ? { type: "boolean", ...(f.short ? { short: f.short } : {}) }
      : { type: "string", ...(f.type === "string" && f.multiple ? { multiple: true } : {}) };
  }
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options,
      strict: true,
      allowPositionals: spec.positionals !== undefined,
      tokens: true,
    });
  } catch (err) {
    // parseArgs names the flag ("Unknown option '--x'", "Option '--x <value>' argument missing").
    throw new UsageError((err as Error).message);
  }
  const raw = parsed.values as Record<string, string | string[] | boolean | undefined>;
  const values: Record<string, unknown> = {};
  for (const [name, f] of Object.entries(spec.flags)) values[name] = convert(name, f, raw[name]);
  const given = new Set(
    (parsed.tokens ?? []).flatMap((t) => t.kind === "option" && t.name !== "help" ? [t.name] : []),
  );
  return {
    values: values as Values<S>,
    positionals: parsed.positionals,
    help: raw.help === true,
    given,
  };
}

/**
 * A {@link UsageError} for the first flag of `given` (from {@link parseCli}) that is not in
 * `allowed`: a command with several forms refuses a flag its chosen form would ignore, e.g.
 * `--adapt does not apply to site calibration on a sample (--calibrate without --data)`.
 */
export function refuseFlagsOutside(
  given: ReadonlySet<string>,
  allowed: readonly string[],
  form: string,
): void {
  const extra = [...given].filter((f) => !allowed.includes(f));
  if (extra.length === 0) return;
  const names = extra.map((f) => `--${f}`);
  throw new UsageError(
    `${names.join(", ")} ${names.length === 1 ? "does" : "do"} not apply to ${form}`,
  );
}

/**
 * Runs a command's `main` and exits: with its status (a number, else `Deno.exitCode`), 2 after a
 * {@link UsageError} (message and synopsis on stderr), 1 after any other error (message on
 * stderr, prefixed with the command's name).
 */
export async function runCli(
  name: string,
  main: () => Promise<number | void> | number | void,
  spec?: CliSpec,
): Promise<never> {
  let code: number;
  try {
    code = (await main()) ?? Deno.exitCode;
  } catch (err) {
    console.error(`${name}: ${(err as Error).message}`);
    if (err instanceof UsageError && spec) {
      console.error(`${usage(spec)}\n(--help lists every flag)`);
    }
    code = err instanceof UsageError ? 2 : 1;
  }
  Deno.exit(code);
}
